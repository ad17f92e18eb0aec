"""What explore's bookkeeping costs: measuring a space, starting a slice of the
exhaustive order, shrinking and reading the failure store grow with the work asked for,
never with the flights' bytes or the size of the space (docs/explore.md, "Costs")."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ExploreSpec
from biopair.search import explore as ex
from tests.helpers import fails_after

ROOT = Path(__file__).resolve().parents[2]
FALSE_CLAIM = ROOT / "scenarios/explore/false-claim-one-want-read.toml"
CAPS = ExploreSpec(splits=16, turns=16, pauses=4)


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, instead of running on for minutes, when one of these takes 2.5 s."""
    with fails_after(2.5, "took 2.5 s"):
        yield


def _frame(per_link: tuple[int, ...], rounds: int) -> ex.Frame:
    return ex.Frame(flights=(("client>server", per_link), ("server>client", per_link)),
                    starts=(), rounds=rounds, multi_rounds=rounds // 2)


def test_a_space_over_megabytes_of_flights_is_measured_at_once() -> None:
    # 200 flights of 16,400 bytes (a server writing 100 records of 16,000 bytes) at the
    # caps: 6.5 million split points, a space of about 10^11,000 schedules.  Measuring it
    # once made every split point an object and multiplied the whole polynomial of
    # levels out (14 s for half of this), and its description raised ValueError (Python
    # writes no integer of more than 4,300 digits).
    space = ex.Space(CAPS, _frame((16_400,) * 100, 400))
    assert len(space.atoms) == 2 * 100 * 16_399 + 200 + 800
    assert space.atoms[16_399] == ex.Split("client>server", 1, 1)
    assert space.atoms[-1] == ex.Pause("server>client", 399)
    text = space.describe()
    assert text.endswith(": about 1.73e+10856 schedules") and len(text) < 400, text
    assert "(16400+16400+" in text and "+... 88 more = 1640000 bytes)" in text
    assert space.most == 2 * 100 * 16 + 16 + 4
    report = ex.ExploreReport("big.toml", space, "exhaustive", 0, 1, covered=5)
    doc = json.loads(json.dumps(report.to_json()))
    assert isinstance(doc["space"]["size"], str) and doc["space"]["size"].startswith("about")
    assert doc["space"]["levels"][:2] == [1, len(space.atoms)]
    assert len(doc["space"]["levels"]) == ex.LEVELS_SHOWN + 1
    assert report.coverage().startswith("5 of about ")
    points = list(space.exhaustive(0, 16))
    assert len(points) == 16 and points[1] == (ex.Split("client>server", 0, 1),)
    assert all(space.contains(space.random_point(0, i)) for i in range(200))


def test_a_slice_far_into_the_exhaustive_order_starts_at_once() -> None:
    # One split per flight over four flights of a TLS 1.3 handshake's size: 4,876
    # single splits, 3.7 million pairs, 860 million triples.  A shard at point N walked
    # the N points before it, so the shards of one search cost O(budget^2 / shard size)
    # between them.
    space = ex.Space(ExploreSpec(splits=1), ex.Frame(
        flights=(("client>server", (300, 80)), ("server>client", (4000, 500))),
        starts=(), rounds=4, multi_rounds=2))
    walked = list(itertools.islice(space.exhaustive(), 150_000, 150_016))
    assert list(space.exhaustive(150_000, 150_016)) == walked
    far = 11_000_000  # a triple; the walk to here took over 5 s
    points = list(space.exhaustive(far - 1, far + 16))
    assert points[1:] == list(space.exhaustive(far, far + 16))
    assert all(len(p) == 3 and space.contains(p) for p in points)
    assert points == sorted(points, key=lambda p: [a.key() for a in p])
    last = (ex.Split("client>server", 0, 299), ex.Split("client>server", 1, 79),
            ex.Split("server>client", 0, 3999), ex.Split("server>client", 1, 499))
    assert list(space.exhaustive(space.size - 1, space.size + 9)) == [last]
    assert list(space.exhaustive(space.size)) == []


def test_the_shrinker_builds_only_the_candidates_it_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The shrinker's own bookkeeping, on a stored schedule of 1,500 splits (a store can
    # hold one; a real run of it takes longer than this test may): each pass built all
    # n candidates of n - 1 atoms before its first run, O(n^2) per pass and O(n^3) for
    # the drops.  The runs are stubbed here (every candidate "fails the same way", so
    # each pass drops the first atom): what is measured is the shrinker, not the stack.
    sc = load_scenario(FALSE_CLAIM)
    runs: list[int] = []

    def run_point(scenario: object, spec: object, point: tuple[ex.Atom, ...],
                  *args: object, **kwargs: object) -> ex.RunReport:
        runs.append(len(point))
        return ex.RunReport(0, "", "c", "f", "kind")

    monkeypatch.setattr(ex, "run_point", run_point)
    monkeypatch.setattr(ex, "contexts_for", lambda *a: None)
    found = ex.RunReport(0, ",".join(f"s0.{i}" for i in range(1, 1501)), "c", "f", "kind")
    point, used = ex.shrink(sc, ExploreSpec(), found)
    assert used == ex.SHRINK_RUNS == len(runs)
    assert runs[:3] == [1499, 1498, 1497] and len(point) == 1500 - ex.SHRINK_RUNS


def test_a_fifo_or_oversized_failure_store_is_ignored(tmp_path: Path) -> None:
    # A FIFO in the store's place blocked the search before its first run (it was
    # opened for reading, waiting for a writer); a huge file was read whole.
    sc = load_scenario(FALSE_CLAIM)
    path = ex.store_path(sc, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    began = time.monotonic()
    assert ex.stored(sc, tmp_path) == [] and time.monotonic() - began < 1
    path.unlink()
    path.write_text("s0.1\n" + "t1," * 30_000 + "t2\n")  # 90 KB
    assert ex.stored(sc, tmp_path) == []
    path.write_text("s0.1\nt1\n")
    assert ex.stored(sc, tmp_path) == ["s0.1", "t1"]


def test_stored_schedules_outside_the_space_are_not_run(tmp_path: Path) -> None:
    # A store line of thousands of atoms (another spec's, or written by hand) is not a
    # point of this space: it is skipped, the valid one is run first.
    sc = load_scenario(FALSE_CLAIM)
    path = ex.store_path(sc, tmp_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flood = ",".join(f"c{k}.1" for k in range(2000))
    path.write_text(f"{flood}\ns0.1,s0.2\nt0\ns0.1\n")
    report = ex.explore(sc, budget=2, store=tmp_path, keep_runs=True)
    assert [r.schedule for r in report.runs[:1]] == ["s0.1"]
    assert len(report.runs) == 1 + 2
