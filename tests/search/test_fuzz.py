"""The scenario fuzzer (biopair.fuzz): a fast slice of hostile files in the suite, the
oracle, hang detection and reproducibility.  ``tox -e fuzz`` runs it long."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("hypothesis")

from biopair import fuzz
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ScenarioError


def test_mutants_load_or_fail_in_one_line(tmp_path: Path) -> None:
    # 250 mutants, loaded in this process: a ScenarioError of one printable line or a
    # scenario, never another exception.
    files = fuzz.generate(3, 0, fuzz.shipped_scenarios(), 250)
    assert len(files) == 250
    errors = 0
    for i, (what, data) in enumerate(files):
        path = tmp_path / f"m{i}.toml"
        path.write_bytes(data)
        try:
            load_scenario(path)
        except ScenarioError as exc:
            errors += 1
            # One printable line per problem (a file lists every problem it has).
            assert all(line.isprintable() for line in str(exc).split("\n")), (what, str(exc))
    assert errors > 50  # most mutants are bad input


def test_a_slice_runs_in_workers_without_findings() -> None:
    report = fuzz.fuzz(seed=5, mutants=30, jobs=1, timeout=20, batch_size=30)
    assert report.mutants == 30
    assert report.ok, report.summary()
    assert "30 mutants" in report.summary() and "tracebacks: 0, hangs: 0" in report.summary()


def test_mutants_are_the_same_for_a_seed() -> None:
    sources = fuzz.shipped_scenarios()
    assert fuzz.generate(7, 2, sources, 20) == fuzz.generate(7, 2, sources, 20)
    assert fuzz.generate(7, 2, sources, 20) != fuzz.generate(8, 2, sources, 20)


def test_the_writer_round_trips_every_shipped_scenario() -> None:
    for name, raw in fuzz.shipped_scenarios():
        doc = tomllib.loads(raw.decode())
        assert tomllib.loads(fuzz.toml_text(doc)) == doc, name


def test_the_oracle_calls_any_other_exception_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from biopair.scenario import runner

    path = tmp_path / "x.toml"
    path.write_text('title = "t"\n[[steps]]\ncall = "client connect"\n')
    assert fuzz.check_file(str(path))[0] == "pass"
    monkeypatch.setattr(runner, "run_scenario", lambda *a, **k: 1 / 0)
    verdict, detail = fuzz.check_file(str(path))
    assert verdict == "traceback" and "ZeroDivisionError" in detail


def test_the_oracle_explores_a_file_with_an_explore_section(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 25 KB of flights, no split allowed: a few dozen schedules of pauses and swaps.
    # Walking every combination of every split point (as explore once did) made the
    # second level of this space take many minutes: a hang to the fuzzer.
    from biopair.search import explore as ex

    path = tmp_path / "x.toml"
    path.write_text('title = "t"\n[server]\ncert_padding = 20000\n[[steps]]\n'
                    'run = ["client connect", "server accept"]\n'
                    'expect = { client = "WANT_READ+ 1", server = "WANT_READ+ 1" }\n'
                    '[explore]\nsplits = 0\nturns = true\npauses = 2\n')
    seen: list[int] = []
    real = ex.run_point

    def counted(*args: object, **kwargs: object) -> ex.RunReport:
        seen.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ex, "run_point", counted)
    started = time.process_time()
    assert fuzz.check_file(str(path)) == ("pass", "")
    assert len(seen) >= 2 * fuzz.FUZZ_EXPLORE_BUDGET  # explored, in both orders
    assert time.process_time() - started < 4


def test_a_worker_that_does_not_answer_is_a_hang_with_a_reproducer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Workers fork from this process, so they inherit the patched oracle.
    monkeypatch.setattr(fuzz, "check_file", lambda path: time.sleep(30))
    start = time.monotonic()
    report = fuzz.fuzz(seed=2, mutants=2, jobs=1, timeout=0.5, batch_size=2)
    assert time.monotonic() - start < 4
    assert report.counts == {"hang": 2} and not report.ok
    assert "--seed 2 --only 0" in report.summary()
