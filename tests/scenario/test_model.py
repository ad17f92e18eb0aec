"""A loaded scenario fits every environment: version tables stay unresolved until a run
fits the scenario to one stack's versions."""

from __future__ import annotations

from pathlib import Path

import pytest
from OpenSSL import SSL

from biopair.cli import main
from biopair.endpoints import versions as endpoint_versions
from biopair.endpoints.versions import stack_versions
from biopair.outcome import Pattern
from biopair.scenario import conditions
from biopair.scenario.conditions import Versions
from biopair.scenario.loader import find_scenarios, load_scenario
from biopair.scenario.model import CallStep, RunStep, ScenarioError, Versioned
from biopair.scenario.resolve import for_stack, unmet_requires
from biopair.scenario.runner import run_scenario

ROOT = Path(__file__).resolve().parents[2]
_OTHERS = {"pyopenssl": (25, 0), "cryptography": (44, 0), "stdlib-openssl": (3, 0, 13)}
V31: Versions = {"openssl": (3, 1, 8), **_OTHERS}
V35: Versions = {"openssl": (3, 5, 4), **_OTHERS}
V40: Versions = {"openssl": (4, 0, 0), **_OTHERS}

TABLES = '''title = "t"
[[steps]]
call = "client connect"
expect = { "openssl >= 4.0" = "-1 WANT_READ", "else" = "1" }
[[steps]]
run = ["client connect", "server accept"]
expect = { server = { "openssl < 3.5" = "WANT_READ 1", "openssl >= 3.5" = "WANT_READ+ 1" } }
[result]
calls = { "openssl >= 4.0" = 7, "else" = 9 }
[result.client]
group = { "openssl >= 3.5" = "X25519MLKEM768", "else" = "x25519" }
'''


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(body)
    return path


def _texts(path: Path, versions: Versions) -> tuple[str, str, object, object, dict[str, str]]:
    fitted = for_stack(load_scenario(path), versions)
    call, run = fitted.steps
    assert isinstance(call, CallStep) and isinstance(call.expect, Pattern)
    assert isinstance(run, RunStep) and isinstance(run.expect["server"], Pattern)
    return (call.expect.text, run.expect["server"].text, fitted.result.calls,
            fitted.result.per_endpoint["client"]["group"], dict(fitted.result.when))


def test_a_loaded_scenario_keeps_every_branch(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, TABLES))
    call = scenario.steps[0]
    assert isinstance(call, CallStep) and isinstance(call.expect, Versioned)
    assert [(c.text, p.text) for c, p in call.expect.branches] == [
        ("openssl >= 4.0", "-1 WANT_READ"), ("else", "1")]
    assert isinstance(scenario.result.calls, Versioned)
    assert [v for _, v in scenario.result.calls.branches] == [7, 9]
    assert scenario.result.when == {}


@pytest.mark.parametrize(("versions", "expected"), [
    (V31, ("1  (when else)", "WANT_READ 1  (when openssl < 3.5)", 9, "x25519",
           {"calls": "else", "client.group": "else"})),
    (V35, ("1  (when else)", "WANT_READ+ 1  (when openssl >= 3.5)", 9, "X25519MLKEM768",
           {"calls": "else", "client.group": "openssl >= 3.5"})),
    (V40, ("-1 WANT_READ  (when openssl >= 4.0)", "WANT_READ+ 1  (when openssl >= 3.5)", 7,
           "X25519MLKEM768", {"calls": "openssl >= 4.0", "client.group": "openssl >= 3.5"})),
])
def test_one_load_fits_each_stack_differently(tmp_path: Path, versions: Versions,
                                              expected: tuple[object, ...]) -> None:
    assert _texts(_write(tmp_path, TABLES), versions) == expected


def test_fitting_leaves_the_loaded_scenario_as_it_was(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, TABLES))
    for_stack(scenario, V40)
    assert isinstance(scenario.result.calls, Versioned)
    assert scenario == load_scenario(_write(tmp_path, TABLES))


def test_loading_never_asks_which_openssl_is_installed(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    def refuse() -> Versions:
        raise AssertionError("the loader asked for the stack's versions")

    # Every door: the function where it lives and where conditions imported it, and the
    # OpenSSL query behind its cache.
    monkeypatch.setattr(endpoint_versions, "stack_versions", refuse)
    monkeypatch.setattr(conditions, "stack_versions", refuse)
    monkeypatch.setattr(SSL, "OpenSSL_version", refuse)
    stack_versions.cache_clear()
    files = find_scenarios([ROOT / "scenarios"])
    assert len(files) > 100
    for file in files:
        load_scenario(file)


@pytest.mark.parametrize(("table", "key"), [
    ('[[steps]]\ncall = "client connect"\nexpect = { "openssl >= 9" = "1" }\n',
     "steps[1].expect"),
    ('[[steps]]\nrun = ["client connect"]\nexpect = { client = { "openssl >= 9" = "1" } }\n',
     "steps[1].expect.client"),
    ('[[steps]]\ncall = "client connect"\n[result]\ncalls = { "openssl >= 9" = 1 }\n',
     "result.calls"),
    ('[[steps]]\ncall = "client connect"\n[result.server]\ngroup = { "openssl >= 9" = "x" }\n',
     "result.server.group"),
])
def test_a_table_without_a_branch_for_the_stack_names_its_key(tmp_path: Path, table: str,
                                                              key: str) -> None:
    scenario = load_scenario(_write(tmp_path, 'title = "t"\n' + table))
    for_stack(scenario, {**V40, "openssl": (9, 0)})
    with pytest.raises(ScenarioError) as info:
        for_stack(scenario, V40)
    assert info.value.key == key
    assert "no condition holds for this stack (openssl 4.0.0, " in info.value.message
    with pytest.raises(ScenarioError) as ran:
        run_scenario(scenario, versions=V40)
    assert ran.value.key == key


def test_the_run_judges_requires_with_the_versions_it_is_given(tmp_path: Path) -> None:
    path = _write(tmp_path, 'title = "t"\nrequires = ["openssl >= 3.5", "pyopenssl >= 25"]\n'
                            '[[steps]]\ncall = "client connect"\nexpect = "-1 WANT_READ"\n')
    scenario = load_scenario(path)
    assert unmet_requires(scenario, V31) == "requires openssl >= 3.5 (have 3.1.8)"
    assert unmet_requires(scenario, V35) is None
    verdict = run_scenario(scenario, versions=V31)
    assert verdict.skipped == "requires openssl >= 3.5 (have 3.1.8)"
    assert verdict.trace.calls == []


def test_the_run_chooses_branches_for_the_versions_it_is_given(tmp_path: Path) -> None:
    # The real client says -1 WANT_READ; only the branch for "openssl 99" says so.
    path = _write(tmp_path, 'title = "t"\n[[steps]]\ncall = "client connect"\n'
                            'expect = { "openssl >= 99" = "-1 WANT_READ", "else" = "1" }\n')
    scenario = load_scenario(path)
    assert run_scenario(scenario, versions={**V40, "openssl": (99, 0)}).passed
    verdict = run_scenario(scenario, versions=V40)
    assert [(f.key, f.expected) for f in verdict.failures] == [
        ("steps[1].expect", "1  (when else)")]
    assert "(when else)" in verdict.report()


def test_by_default_the_run_fits_the_running_stack(tmp_path: Path) -> None:
    running = stack_versions()["openssl"][:2]
    text = ".".join(map(str, running))
    path = _write(tmp_path, f'title = "t"\n[[steps]]\ncall = "client connect"\n'
                            f'expect = {{ "openssl == {text}" = "-1 WANT_READ", "else" = "1" }}\n')
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()
    step = verdict.scenario.steps[0]
    assert isinstance(step, CallStep) and isinstance(step.expect, Pattern)
    assert step.expect.text == f"-1 WANT_READ  (when openssl == {text})"


def test_the_cli_reports_a_table_without_a_branch_as_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, 'title = "t"\n[[steps]]\ncall = "client connect"\n'
                            'expect = { "openssl >= 99" = "1" }\n')
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"{path}: steps[1].expect: no condition holds for this stack")


def test_under_pytest_a_table_without_a_branch_is_one_failing_item(
        pytester: pytest.Pytester) -> None:
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", "nobranch.toml").write_text(
        'title = "t"\n[[steps]]\ncall = "client connect"\n'
        'expect = { "openssl >= 99" = "1" }\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*scenarios/nobranch.toml: steps[[]1[]].expect: no condition holds for this stack*"])
    assert "Traceback" not in result.stdout.str()
