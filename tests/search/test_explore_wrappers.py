"""biopair explore over wrapper endpoints: a transport-oracle failure and a STRANDED run
are counterexamples, and the shipped wrapper explorations hold on a small budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biopair.cli import main
from biopair.endpoints.versions import stack_versions
from biopair.scenario.loader import load_scenario
from biopair.scenario.resolve import unmet_requires

ROOT = Path(__file__).resolve().parents[2] / "scenarios/wrappers"
SENDALL = ROOT / "pyopenssl-176-sendall-retry.toml"
TWISTED_6385 = ROOT / "twisted-6385-write-while-paused-renegotiation.toml"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the failure store lives under the working directory


def _explore(path: Path, capsys: pytest.CaptureFixture[str], budget: int = 2
             ) -> tuple[int, dict[str, object]]:
    code = main(["explore", str(path), "--budget", str(budget), "--seed", "1", "--json"])
    return code, json.loads(capsys.readouterr().out)


def _kind(code: int, report: dict[str, object]) -> str:
    assert code == 1, report
    found = report["counterexample"]
    assert isinstance(found, dict), report
    return str(found["kind"])


def test_a_delivery_violation_is_a_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # pyOpenSSL #176 without [result.oracle]: the duplication must refute.  It needs
    # pyOpenSSL >= 25.2 (the scenario's requires): before, nothing is sent twice.
    unmet = unmet_requires(load_scenario(SENDALL), stack_versions())
    if unmet:
        pytest.skip(unmet)
    text = SENDALL.read_text().split("[result.oracle]")[0] + "[explore]\nsplits = 0\n"
    (tmp_path / "dup.toml").write_text(text)
    assert _kind(*_explore(tmp_path / "dup.toml", capsys, budget=1)) == "oracle.client->server"


def test_a_forbidden_stranded_is_a_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TWISTED_6385.read_text() + '\n[explore]\nsplits = 0\nforbid = ["STRANDED"]\n'
    (tmp_path / "s.toml").write_text(text)
    assert _kind(*_explore(tmp_path / "s.toml", capsys)) == "forbid STRANDED"


def test_a_stranded_run_step_without_expectation_is_a_counterexample(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = TWISTED_6385.read_text().rsplit("expect", 1)[0] + "\n[explore]\nsplits = 0\n"
    (tmp_path / "n.toml").write_text(text)
    assert _kind(*_explore(tmp_path / "n.toml", capsys)) == "steps[7].expect.server"


@pytest.mark.parametrize("name", ["explore-asyncio-echo.toml", "explore-twisted-echo.toml"])
def test_the_shipped_wrapper_explorations_hold_on_a_small_budget(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = _explore(ROOT / name, capsys, budget=24)
    if report.get("skipped"):
        pytest.skip(str(report["skipped"]))
    assert code == 0 and report["counterexample"] is None, report
