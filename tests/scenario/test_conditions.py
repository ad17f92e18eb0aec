"""Version conditions: parsing, truncated comparison, first-match choice, loader errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.endpoints.versions import stack_versions
from biopair.scenario.conditions import ConditionError, choose, parse_condition
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.resolve import for_stack
from biopair.scenario.runner import run_scenario

V31 = {"openssl": (3, 1, 4), "pyopenssl": (23, 2, 0), "cryptography": (41, 0, 7),
       "stdlib-openssl": (3, 0, 19)}
V40 = {**V31, "openssl": (4, 0, 3)}


@pytest.mark.parametrize(("text", "versions", "expected"), [
    ("openssl >= 4.0", V40, True),
    ("openssl >= 4.0", V31, False),
    ("openssl < 4.0", V31, True),
    ("openssl < 4.0", V40, False),
    ("openssl == 3.1", V31, True),      # truncated to the precision named
    ("openssl <= 3.1", V31, True),
    ("openssl < 3.1", V31, False),
    ("openssl == 3.1.4", V31, True),
    ("openssl != 3.1", V40, True),
    ("openssl >= 3.2 and openssl < 4.0", V31, False),
    ("pyopenssl < 25.2 and cryptography < 42", V31, True),
    ("stdlib-openssl == 3.0", V31, True),
    ("else", V31, True),
])
def test_condition_holds(text: str, versions: dict[str, tuple[int, ...]],
                         expected: bool) -> None:
    assert parse_condition(text).holds(versions) is expected


@pytest.mark.parametrize(("text", "message"), [
    ("boringssl >= 1.0", "unknown library 'boringssl'"),
    ("openssl => 3", "cannot read"),
    ("openssl >= ", "cannot read"),
])
def test_bad_condition(text: str, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        parse_condition(text)


def test_first_condition_that_holds_wins() -> None:
    options = {"openssl >= 3.0": "first", "openssl >= 4.0": "second"}
    assert choose(options, V40) == ("openssl >= 3.0", "first")


def test_no_condition_holds_is_an_error() -> None:
    with pytest.raises(ConditionError, match="no condition holds"):
        choose({"openssl >= 9.0": "x"}, V40)


def test_running_stack_versions_are_known() -> None:
    versions = stack_versions()
    # libssl, wolfssl, tlslite-ng, twisted and trio only where they are installed.
    assert {"openssl", "pyopenssl", "cryptography", "stdlib-openssl", "python"} \
        <= set(versions)
    assert set(versions) <= {"openssl", "pyopenssl", "cryptography", "stdlib-openssl",
                             "libssl", "wolfssl", "tlslite-ng", "twisted", "trio",
                             "python"}
    assert all(len(v) >= 2 for v in versions.values())


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + body)
    return path


def test_versioned_expect_picks_the_running_version(tmp_path: Path) -> None:
    running = ".".join(map(str, stack_versions()["openssl"][:2]))
    path = _write(tmp_path, f'''
[[steps]]
call = "client connect"
expect = {{ "openssl != {running}" = "1", "openssl == {running}" = "-1 WANT_READ" }}
''')
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()


@pytest.mark.parametrize(("expect", "key", "message"), [
    ('{ "openssl >= 1" = "WANT_REED" }', 'steps[1].expect."openssl >= 1"', "unknown outcome"),
    ('{ "nss >= 1" = "1" }', 'steps[1].expect."nss >= 1"', "unknown library"),
    ('{ "else" = { a = "1" } }', 'steps[1].expect."else"', "conditions do not nest"),
    ("{}", "steps[1].expect", "empty table"),
])
def test_versioned_expect_errors_name_the_key(tmp_path: Path, expect: str, key: str,
                                              message: str) -> None:
    path = _write(tmp_path, f'[[steps]]\ncall = "client connect"\nexpect = {expect}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message


def test_a_pattern_for_another_version_is_still_validated(tmp_path: Path) -> None:
    path = _write(tmp_path, '''
[[steps]]
call = "client connect"
expect = { "openssl >= 0.1" = "WANT_READ", "else" = "BOGUS" }
''')
    with pytest.raises(ScenarioError, match="unknown outcome 'BOGUS'"):
        load_scenario(path)


def test_unmet_requires_skips_with_the_reason(tmp_path: Path) -> None:
    path = _write(tmp_path, 'requires = ["openssl >= 99"]\n[[steps]]\ncall = "client connect"\n')
    verdict = run_scenario(load_scenario(path))
    assert verdict.skipped is not None
    assert "openssl >= 99 (have " in verdict.skipped
    assert verdict.trace.calls == []


def test_requires_rejects_else(tmp_path: Path) -> None:
    path = _write(tmp_path, 'requires = ["else"]\n[[steps]]\ncall = "client connect"\n')
    with pytest.raises(ScenarioError, match="only for a table"):
        load_scenario(path)


def test_versioned_result_values_pick_the_running_version(tmp_path: Path) -> None:
    running = ".".join(map(str, stack_versions()["openssl"][:2]))
    path = _write(tmp_path, f'''
[[steps]]
call = "client connect"
[result]
calls = {{ "openssl != {running}" = 7, "openssl == {running}" = 1 }}
[result.client]
cipher = {{ "openssl >= 99" = "TLS_AES_256_GCM_SHA384", "else" = false }}
''')
    scenario = load_scenario(path)
    fitted = for_stack(scenario, stack_versions())
    assert fitted.result.calls == 1
    assert fitted.result.when == {"calls": f"openssl == {running}", "client.cipher": "else"}
    assert run_scenario(scenario).passed


def test_a_failed_versioned_result_names_the_branch(tmp_path: Path) -> None:
    path = _write(tmp_path, '''
[[steps]]
call = "client connect"
[result]
calls = { "openssl >= 0.1" = 2 }
''')
    verdict = run_scenario(load_scenario(path))
    assert [(f.key, f.expected, f.actual) for f in verdict.failures] == [
        ("result.calls", "2  (when openssl >= 0.1)", "1")]


@pytest.mark.parametrize(("body", "key", "message"), [
    ('calls = { "else" = 0 }', 'result.calls."else"', "must be >= 1"),
    ('group = { "nss >= 1" = "x" }', 'result.group."nss >= 1"', "unknown library"),
    ('group = { "else" = { a = "x" } }', 'result.group."else"', "conditions do not nest"),
    ("cipher = {}", "result.cipher", "empty table"),
    ('session_reused = { "openssl >= 0.1" = true, "else" = "yes" }',
     'result.session_reused."else"', "true or false"),
])
def test_versioned_result_errors_name_the_key(tmp_path: Path, body: str, key: str,
                                              message: str) -> None:
    path = _write(tmp_path, f'[[steps]]\ncall = "client connect"\n[result]\n{body}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message


def test_a_library_that_is_not_installed_holds_no_comparison() -> None:
    from biopair.scenario.conditions import parse_condition

    cond = parse_condition("wolfssl == 5.5")
    have = {"openssl": (3, 5, 6)}
    assert not cond.holds(have)
    assert cond.unmet(have) == "wolfssl == 5.5 (wolfssl is not installed)"
    assert cond.holds({"wolfssl": (5, 5, 4)})
    assert parse_condition("tlslite-ng >= 0.8").holds({"tlslite-ng": (0, 8, 2)})
