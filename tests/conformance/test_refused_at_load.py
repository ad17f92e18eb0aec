"""What a stack does not declare is refused when a scenario is loaded, in one line that
names the stack; what it declares loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.endpoints.config import OPS, RESULTS, ROLE_OPS, SETTINGS
from biopair.scenario.loader import ScenarioError, load_scenario
from tests.conformance.drive import handshake_op
from tests.conformance.stacks import Case

_CLIENT_ONLY = {"post_handshake_auth", "resume", "verify_host"}
_SERVER_ONLY = {"verify_client", "max_early_data"}
#: A valid value for every endpoint setting.
SAMPLES: dict[str, str] = {
    "version": '"1.3"', "min_version": '"1.2"', "max_version": '"1.3"',
    "server_name": '"server.test"', "verify": "true", "verify_host": '"server.test"',
    "trust": '"ca"', "cert": '"ed25519"', "cert_host": '"x.test"', "cert_issuer": '"ca"',
    "cert_validity": '"valid"', "cert_padding": "0", "verify_client": '"none"',
    "alpn": '["h2"]', "groups": '["X25519"]', "sigalgs": '["ed25519"]',
    "ciphers": '"DEFAULT"', "ciphersuites": '"TLS_AES_128_GCM_SHA256"',
    "options": '["NO_TICKET"]', "modes": '["AUTO_RETRY"]', "clear_modes": '["RELEASE_BUFFERS"]',
    "post_handshake_auth": "true", "resume": "true", "max_early_data": "0",
    "quiet_shutdown": "true", "max_send_fragment": "512",
}
_RESULT_SAMPLES = {"shutdown": '["sent"]', "session_reused": "false",
                   "renegotiate_pending": "false", "early_data_status": '"not_sent"',
                   "pending": "0", "has_pending": "false", "in_init": "false",
                   "session_resumable": "true", "keys_match": "true"}


def _scenario(tmp_path: Path, case: Case, extra: str = "", step: str | None = None,
              tail: str = "") -> Path:
    step = step or f"{case.other} {handshake_op(case.other)}"
    path = tmp_path / "s.toml"
    path.write_text(f'title = "t"\n[{case.role}]\nstack = "{case.stack}"\n{extra}'
                    f'[[steps]]\ncall = "{step}"\n{tail}')
    return path


def _refused(path: Path, case: Case) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    text = str(info.value)
    assert case.stack in text, text
    assert "\n" not in text
    return info.value


def test_declared_settings_load(tmp_path: Path, case: Case) -> None:
    # All declared settings at once (the versions one by one: version excludes min/max).
    wrong = _SERVER_ONLY if case.role == "client" else _CLIENT_ONLY
    keys = sorted(case.capabilities.settings - {"stack", "resume", "version", "min_version",
                                                "max_version"} - wrong)
    load_scenario(_scenario(tmp_path, case, "".join(f"{k} = {SAMPLES[k]}\n" for k in keys)))
    for version in sorted(case.capabilities.versions):
        load_scenario(_scenario(tmp_path, case, f'version = "{version}"\n'))


def test_undeclared_settings_are_refused(tmp_path: Path, case: Case) -> None:
    wrong = _SERVER_ONLY if case.role == "client" else _CLIENT_ONLY
    keys = sorted(set(SETTINGS) - case.capabilities.settings - wrong)
    if not keys:
        pytest.skip(f"{case.stack} honours every setting")
    for key in keys:
        error = _refused(_scenario(tmp_path, case, f"{key} = {SAMPLES[key]}\n"), case)
        assert error.key == f"{case.role}.{key}"


def test_undeclared_versions_are_refused(tmp_path: Path, case: Case) -> None:
    versions = sorted({"1.0", "1.1", "1.2", "1.3"} - case.capabilities.versions)
    if not versions:
        pytest.skip(f"{case.stack} pins every version")
    for version in versions:
        error = _refused(_scenario(tmp_path, case, f'version = "{version}"\n'), case)
        assert error.key == f"{case.role}.version"


def test_undeclared_ops_are_refused(tmp_path: Path, case: Case) -> None:
    ops = [op for op in OPS if ROLE_OPS.get(op, case.role) == case.role
           and op not in case.capabilities.ops]
    if not ops:
        pytest.skip(f"{case.stack} makes every op")
    for op in ops:
        error = _refused(_scenario(tmp_path, case, step=f"{case.role} {op}"), case)
        assert error.key == "steps[1].call"


def test_undeclared_results_are_refused(tmp_path: Path, case: Case) -> None:
    keys = sorted(set(RESULTS) - case.capabilities.results)
    if not keys:
        pytest.skip(f"{case.stack} reports every result")
    for key in keys:
        value = _RESULT_SAMPLES.get(key, '"x"')
        if key == "keys_match":
            # A pair's check: only in [result], refused for a stack without an exporter.
            error = _refused(_scenario(tmp_path, case, tail=f"[result]\n{key} = {value}\n"),
                             case)
            assert error.key == "result.keys_match"
            continue
        error = _refused(_scenario(tmp_path, case, tail=f"[result.{case.role}]\n{key} = "
                                                          f"{value}\n"), case)
        assert error.key.startswith(f"result.{case.role}")
        if not case.capabilities.external:  # a shared check skips an external program
            _refused(_scenario(tmp_path, case, tail=f"[result]\n{key} = {value}\n"), case)
            # and at a check step, naming the step's key
            check = _refused(_scenario(tmp_path, case, tail=f"[[steps]]\ncheck = "
                                       f'"{case.role}"\n{key} = {value}\n'), case)
            assert check.key == f"steps[2].{key}"


def test_every_stack_is_a_case_and_every_skip_has_a_reason() -> None:
    # The suite runs against every stack in both roles (seven TLS stacks, four framework
    # wrappers); a test that does not apply to one is listed with why, never left out.
    from biopair.endpoints import registry
    from tests.conformance.stacks import CASES, NOT_APPLICABLE

    assert set(registry.STACKS) == {"pyopenssl", "stdlib", "openssl-cli", "gnutls-cli",
                                    "libssl", "wolfssl", "tlslite-ng", "asyncio", "twisted",
                                    "trio", "asyncio-starttls"}
    assert {(c.stack, c.role) for c in CASES} == {(s, r) for s in registry.STACKS
                                                  for r in ("client", "server")}
    for stack, tests in NOT_APPLICABLE.items():
        assert stack in registry.STACKS
        assert all(isinstance(why, str) and why.strip() for why in tests.values()), stack


def test_a_missing_library_skips_its_cases_naming_the_package(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from biopair.endpoints import registry
    from tests.conformance.stacks import Case

    monkeypatch.setattr(registry, "missing", lambda stack: "Debian: apt-get install x")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="wolfssl: Debian: apt-get install x"):
        Case("wolfssl", "client").make()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="wolfssl: Debian"):
        Case("wolfssl", "client").pair()
