"""biopair.strategies: a Hypothesis strategy over a scenario's schedule space."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from biopair.engine.pair import Pair
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ExploreSpec
from biopair.search import explore as ex
from biopair.strategies import DrawnSchedule, schedules

ROOT = Path(__file__).resolve().parents[2]
FALSE_CLAIM = ROOT / "scenarios/explore/false-claim-one-want-read.toml"
HOLDS = ROOT / "scenarios/explore/tls13-handshake-want-sequences.toml"
FAST = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


def test_a_false_claim_is_found_and_shrunk_to_what_the_cli_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sc = load_scenario(FALSE_CLAIM)
    found = find(schedules(sc), lambda d: d.refutation() is not None,
                 settings=settings(database=None, deadline=None, max_examples=200,
                                   suppress_health_check=list(HealthCheck)))
    cli = ex.explore(sc, seed=0, budget=64, store=None)
    assert cli.counterexample is not None
    assert found.text == cli.counterexample.schedule == "s0.1"
    assert "--replay 's0.1'" in repr(found)


def test_a_failing_given_test_prints_the_replayable_schedule() -> None:
    @FAST
    @given(schedules(FALSE_CLAIM))
    def claim(drawn: DrawnSchedule) -> None:
        drawn.check()

    with pytest.raises(AssertionError) as info:
        claim()
    text = str(info.value)
    assert "refutes the scenario" in text and "replay: biopair explore" in text
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "DrawnSchedule('s0.1')  # replay: biopair explore" in notes


@settings(max_examples=10, deadline=None, database=None, phases=[Phase.generate],
          suppress_health_check=list(HealthCheck))
@given(schedules(HOLDS))
def test_a_true_claim_holds_for_drawn_schedules(drawn: DrawnSchedule) -> None:
    assert len(drawn.point) <= 1 or drawn.point[0] != drawn.point[1]
    drawn.check()


@FAST
@given(schedules(HOLDS, max_changes=1))
def test_a_drawn_schedule_drives_a_pair_of_your_own(drawn: DrawnSchedule) -> None:
    with Pair(record=True) as pair:
        pair.schedule = drawn.schedule(pair)
        result = pair.run([("client", "connect"), ("server", "accept")])
        assert result.terminal is None
        assert [c.error for c in pair.trace.calls if c.ret == 1] == ['NONE', 'NONE']


def test_a_space_needs_its_scenario() -> None:
    sc = load_scenario(FALSE_CLAIM)
    spec = sc.explore or ExploreSpec()
    space = ex.Space(spec, ex.frame_of(sc, spec)[0])
    with pytest.raises(TypeError):
        schedules(space)
    drawn = find(schedules(space, sc), lambda d: True,
                 settings=settings(database=None, max_examples=5, deadline=None))
    assert drawn.text == "-"


def test_hypothesis_is_imported_only_by_strategies() -> None:
    code = ("import sys, biopair.search.explore, biopair.plugin; "
            "print('hypothesis' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
