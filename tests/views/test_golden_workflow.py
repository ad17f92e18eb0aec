"""golden.check_run: the one run -> render -> (rerun, compare) -> write-or-check workflow."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import Failure, Verdict, run_scenario
from biopair.views import golden

SCENARIO = """
title = "a handshake"
[[steps]]
run = ["client connect", "server accept"]
"""


def _run(tmp_path: Path, text: str = SCENARIO) -> Verdict:
    path = tmp_path / "hs.toml"
    path.write_text(text)
    return run_scenario(load_scenario(path))


def _never() -> Verdict:
    raise AssertionError("rerun must not be called")


def test_check_without_a_golden_is_skipped_or_missing(tmp_path: Path) -> None:
    verdict = _run(tmp_path)
    assert golden.check_run(verdict, rerun=_never).status == "skipped"
    missing = golden.check_run(verdict, rerun=_never, require=True)
    assert missing.status == "missing" and missing.failed
    assert "no golden trace; create or update it" in missing.message


def test_update_reruns_then_writes_then_matches(tmp_path: Path) -> None:
    verdict = _run(tmp_path)
    reruns: list[Verdict] = []

    def rerun() -> Verdict:
        reruns.append(again := run_scenario(load_scenario(verdict.scenario.path)))
        return again

    created = golden.check_run(verdict, rerun=rerun, update=True)
    assert created.status == "created" and len(reruns) == 1
    assert created.message == f"{tmp_path / 'hs.trace'}: golden trace created"
    assert golden.check_run(verdict, rerun=_never).status == "match"
    assert golden.check_run(verdict, rerun=rerun, update=True).status == "match"


def test_update_refuses_when_the_second_run_differs(tmp_path: Path) -> None:
    verdict = _run(tmp_path)
    (tmp_path / "other").mkdir()
    other = _run(tmp_path / "other", SCENARIO + '[[steps]]\ncall = "client write"\ndata = "x"\n')
    result = golden.check_run(verdict, rerun=lambda: other, update=True)
    assert result.status == "unstable" and result.failed
    assert "two runs gave different traces; golden not written" in result.message
    assert not (tmp_path / "hs.trace").exists()


def test_update_writes_nothing_for_a_failed_run(tmp_path: Path) -> None:
    verdict = dataclasses.replace(_run(tmp_path),
                                  failures=[Failure("expect", "1", "WANT_READ", 0)])
    result = golden.check_run(verdict, rerun=_never, update=True)
    assert result.status == "skipped" and result.unstable is None
    assert result.message.endswith("hs.toml: failed; golden trace not written")
    assert not (tmp_path / "hs.trace").exists()


def test_update_writes_nothing_for_an_unstable_scenario(tmp_path: Path) -> None:
    verdict = _run(tmp_path, SCENARIO + '[server]\ncert = "ecdsa-p256"\n')
    result = golden.check_run(verdict, rerun=_never, update=True)
    assert result.status == "skipped" and not result.failed
    assert result.unstable is not None and "ECDSA" in result.unstable
    assert result.message.endswith(f"no golden trace ({result.unstable})")
