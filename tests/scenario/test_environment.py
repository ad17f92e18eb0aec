"""The runner reads no environment; the front ends decide what the environment means
(under CI=true a missing external TLS program is an error, elsewhere a skip)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from biopair.cli import main
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.runner import Verdict, run_scenario

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "scenarios" / "peers" / "gnutls-serv-bytewise-clienthello.toml"
IN_PROCESS = [ROOT / "scenarios" / "harness" / "bytewise-tls13.toml",
              ROOT / "scenarios" / "stacks" / "stdlib-client-pyopenssl-server-bytewise.toml"]


class _HostileEnvironment(Mapping[str, str]):
    # os.environ for code that must not read it: it says CI=true, has no PATH or HOME,
    # and keeps a list of every read.
    def __init__(self) -> None:
        self.env = {"CI": "true", "SSLKEYLOGFILE": "/nonexistent/keys", "TMPDIR": "/x"}
        self.reads: list[str] = []

    def __getitem__(self, key: str) -> str:
        self.reads.append(key)
        return self.env[key]

    def __iter__(self) -> Iterator[str]:
        self.reads.append("*")
        return iter(self.env)

    def __len__(self) -> int:
        self.reads.append("*")
        return len(self.env)


def _summary(verdict: Verdict) -> tuple[bool, str | None, str]:
    return verdict.passed, verdict.skipped, verdict.trace.format_calls()


@pytest.mark.parametrize("path", IN_PROCESS, ids=lambda p: p.name)
def test_run_scenario_reads_no_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                                    path: Path) -> None:
    scenario = load_scenario(path)
    before = _summary(run_scenario(scenario))
    hostile = _HostileEnvironment()
    monkeypatch.setattr(os, "environ", hostile)
    after = _summary(run_scenario(scenario))
    monkeypatch.undo()  # pytest itself reads the environment to report
    assert hostile.reads == []
    assert after == before


@pytest.fixture
def no_peer_programs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither gnutls-serv nor openssl can be found."""
    monkeypatch.setenv("PATH", "/nonexistent")


@pytest.mark.parametrize("ci", [None, "true"])
@pytest.mark.usefixtures("no_peer_programs")
def test_the_runner_ignores_ci_and_takes_the_decision_as_a_parameter(
        monkeypatch: pytest.MonkeyPatch, ci: str | None) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    scenario = load_scenario(PEER)
    skipped = run_scenario(scenario)
    assert skipped.skipped is not None and "gnutls-serv, which is not installed" in \
        skipped.skipped
    with pytest.raises(ScenarioError, match="gnutls-serv is not installed"):
        run_scenario(scenario, require_peers=True)


@pytest.mark.usefixtures("no_peer_programs")
def test_the_cli_skips_a_missing_peer_outside_ci(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert main(["run", str(PEER)]) == 0
    out = capsys.readouterr().out
    assert "SKIP" in out and "(Debian: apt-get install gnutls-bin)" in out


@pytest.mark.usefixtures("no_peer_programs")
def test_in_ci_the_cli_reports_a_missing_peer_as_bad_input(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CI", "true")
    assert main(["run", str(PEER)]) == 2
    assert "gnutls-serv is not installed" in capsys.readouterr().err


@pytest.mark.parametrize(("ci", "outcome"), [(None, "skipped"), ("true", "failed")])
@pytest.mark.usefixtures("no_peer_programs")
def test_the_plugin_decides_ci_both_ways(pytester: pytest.Pytester,
                                         monkeypatch: pytest.MonkeyPatch, ci: str | None,
                                         outcome: str) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    pytester.mkdir("scenarios")
    pytester.path.joinpath("scenarios", PEER.name).write_text(PEER.read_text())
    result = pytester.runpytest("-rs")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "skipped":
        result.stdout.fnmatch_lines(["*needs gnutls-serv, which is not installed*"])
    else:
        result.stdout.fnmatch_lines(["*gnutls-serv is not installed*"])
        assert "Traceback" not in result.stdout.str()


def test_a_missing_stack_library_skips_naming_the_package(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    from biopair.endpoints import registry, wolfssl

    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n[server]\nstack = "wolfssl"\n[[steps]]\n'
                    'call = "client connect"\n')
    scenario = load_scenario(path)
    monkeypatch.setitem(registry._MISSING, "wolfssl",
                        lambda: "libwolfssl is not installed (Debian: apt-get install "
                                "libwolfssl-dev)")
    verdict = run_scenario(scenario)
    assert verdict.skipped is not None and "libwolfssl-dev" in verdict.skipped
    assert "server.stack" in verdict.skipped
    with pytest.raises(ScenarioError) as info:  # CI: a missing library is an error
        run_scenario(scenario, require_peers=True)
    assert "libwolfssl-dev" in str(info.value)
    assert wolfssl.CAPABILITIES.package.endswith("libwolfssl-dev")
