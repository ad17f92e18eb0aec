"""biopair explore: the [explore] section, the exploring schedule, search, shrinking, replay."""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path

import pytest

from biopair.cli import main
from biopair.engine.trace import MessageEvent
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.model import ExploreSpec
from biopair.scenario.runner import run_scenario
from biopair.search import explore as ex

ROOT = Path(__file__).resolve().parents[2]
FALSE_CLAIM = ROOT / "scenarios/explore/false-claim-one-want-read.toml"
TICKETS = ROOT / "scenarios/explore/tickets-meet-first-read.toml"
HANDSHAKE = """title = "t"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ+ 1", server = "WANT_READ+ 1" }
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the failure store lives under the working directory


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("section", "message"), [
    ("bogus = 1", "explore.bogus: unknown key"),
    ("splits = -1", "explore.splits: must be >= 0"),
    ("splits = 99", "explore.splits: must be at most 16"),
    ("pauses = 5", "explore.pauses: must be at most 4"),
    ('links = ["server>clint"]', "explore.links[1]"),
    ('links = ["server>client", "server>client"]', "names a direction twice"),
    ('forbid = ["DEADLOK"]', "did you mean 'DEADLOCK'"),
    ("turns = 17", "explore.turns: must be true, false or at most 16"),
])
def test_bad_explore_section_is_one_line(tmp_path: Path, section: str, message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HANDSHAKE + "[explore]\n" + section + "\n")
    with pytest.raises(ScenarioError, match="explore"):
        load_scenario(path)
    assert main(["explore", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["--budget", "0"], ["--budget", "1000001"],
                                  ["--jobs", "0"], ["--time", "0"], ["--seed", "-1"],
                                  ["--replay", "q7"]])
def test_bad_options_exit_2(tmp_path: Path, args: list[str],
                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, HANDSHAKE)
    assert main(["explore", str(path), *args]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_section_defaults_and_turns_true(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, HANDSHAKE + "[explore]\nturns = true\n"))
    assert sc.explore == ExploreSpec(turns=1)


def test_schedule_strings_round_trip() -> None:
    point = ex.parse_schedule("t2,s1.5,c0.57,ps4")
    assert ex.format_schedule(point) == "c0.57,s1.5,t2,ps4"
    assert ex.parse_schedule("-") == ()


def test_empty_point_is_the_scenario_as_written() -> None:
    sc = load_scenario(FALSE_CLAIM)
    verdict, schedule = ex.run_once(sc, sc.explore or ExploreSpec(), ())
    plain = run_scenario(sc)
    assert [c.outcome for c in verdict.trace.calls] == [c.outcome for c in plain.trace.calls]
    assert schedule.applied == [] and verdict.passed


def test_a_split_hands_over_fewer_bytes_than_queued() -> None:
    sc = load_scenario(FALSE_CLAIM)
    verdict, schedule = ex.run_once(sc, sc.explore or ExploreSpec(), ex.parse_schedule("s0.7"))
    took = [c.consumed for c in verdict.trace.calls if c.endpoint == "client" and c.consumed]
    # The server's first flight is 1,999 bytes with OpenSSL 4.0's key share and smaller
    # with older releases: take its size from the unsplit run.
    unsplit, _ = ex.run_once(sc, sc.explore or ExploreSpec(), ())
    flight = next(c.consumed for c in unsplit.trace.calls
                  if c.endpoint == "client" and c.consumed)
    assert took == [7, flight - 7]  # what OpenSSL read: the split, then the rest
    assert ex.format_schedule(schedule.applied) == "s0.7"


def test_space_is_counted_from_the_unsplit_run() -> None:
    sc = load_scenario(FALSE_CLAIM)
    frame, _ = ex.frame_of(sc, sc.explore or ExploreSpec())
    space = ex.Space(sc.explore or ExploreSpec(), frame)
    (link, lengths), = frame.flights
    assert link == "server>client"
    assert space.levels == [1, sum(n - 1 for n in lengths),
                            (lengths[0] - 1) * (lengths[1] - 1)]
    first = list(space.exhaustive(0, 3))
    assert first == [(), (ex.Split(link, 0, 1),), (ex.Split(link, 0, 2),)]


def _every_valid(space: ex.Space) -> list[ex.Point]:
    # The definition of the canonical order: every combination of every atom a flight
    # could be split at, by size, kept when within the bounds.
    atoms = [ex.Split(link, k, off) for link, lengths in space.frame.flights
             for k, n in enumerate(lengths) for off in range(1, n)] + \
        [a for a in space.atoms if not isinstance(a, ex.Split)]
    return [combo for level in range(len(space.levels))
            for combo in itertools.combinations(atoms, level) if space.valid(combo)]


@pytest.mark.parametrize(("splits", "turns", "pauses"), [(1, 0, 0), (2, 1, 1), (0, 1, 2),
                                                         (1, 1, 2), (3, 0, 1)])
def test_exhaustive_order_is_every_valid_combination(splits: int, turns: int,
                                                     pauses: int) -> None:
    frame = ex.Frame(flights=(("client>server", (4, 1, 3)), ("server>client", (5, 2))),
                     starts=(), rounds=3, multi_rounds=2)
    space = ex.Space(ExploreSpec(splits=splits, turns=turns, pauses=pauses), frame)
    every = _every_valid(space)
    assert list(space.exhaustive()) == every and len(every) == space.size
    for start, stop in ((0, 1), (3, 9), (space.levels[0] + space.levels[1] - 1, None),
                        (space.size - 2, space.size + 5), (space.size, None)):
        assert list(space.exhaustive(start, stop)) == every[start:stop]


def test_exhaustive_walks_the_space_not_the_atoms() -> None:
    # 20 KB flights with no split allowed: 66 schedules of pauses and swaps.  Walking every
    # combination of every split point (as explore once did) took hours here.
    frame = ex.Frame(flights=(("client>server", (20_000, 9_000)),
                              ("server>client", (20_000,))),
                     starts=(), rounds=3, multi_rounds=2)
    space = ex.Space(ExploreSpec(splits=0, turns=1, pauses=2), frame)
    assert space.size == 66 and len(space.atoms) == 2 + 6
    points = list(space.exhaustive())
    assert len(points) == 66 and len(set(points)) == 66
    assert not any(isinstance(a, ex.Split) for p in points for a in p)
    assert all(not any(isinstance(a, ex.Split) for a in space.random_point(1, i))
               for i in range(200))


def test_the_random_sequence_never_repeats_a_schedule() -> None:
    frame = ex.Frame(flights=(("server>client", (40, 30)),), starts=(), rounds=3,
                     multi_rounds=2)
    space = ex.Space(ExploreSpec(splits=1, turns=1, pauses=1), frame)
    points = list(itertools.islice(space.random_points(7), 500))
    assert points[0] == () and len(set(points)) == len(points) == 500
    # The draws in order, each kept the first time it appears.
    firsts = list(dict.fromkeys(space.random_point(7, j) for j in range(5000)))
    assert points == firsts[:500]
    assert list(itertools.islice(space.random_points(7), 500)) == points


def test_a_random_search_over_a_small_space_runs_each_schedule_once() -> None:
    sc = load_scenario(ROOT / "scenarios/explore/socket-tickets-fit.toml")
    report = ex.explore(sc, seed=1, budget=200, store=None)
    assert report.space.size == 3 and report.schedules == 3  # not 200: none twice
    assert report.covered == 3 and "(the whole space)" in report.coverage()
    assert "no counterexample in the space" in report.summary()


def test_a_random_sequence_that_runs_dry_ends_and_says_so(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # With few draws allowed in a row, the rare schedules are never reached: the sequence
    # ends before the budget, and the report says why it ran fewer.
    monkeypatch.setattr(ex, "DRY_DRAWS", 2)
    sc = load_scenario(ROOT / "scenarios/explore/socket-tickets-want-write.toml")
    report = ex.explore(sc, seed=0, budget=60, store=None)
    assert 1 <= report.covered < report.space.size and report.dry
    assert "ran dry" in report.coverage() and report.to_json()["ran_dry"] is True
    assert report.schedules == report.covered


def test_a_deadline_after_the_last_point_still_says_ran_dry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The deadline passes while the workers run the sequence's last points: nothing was
    # left undone, so the report still says why it ran fewer than the budget.
    monkeypatch.setattr(ex, "DRY_DRAWS", 2)
    sc = load_scenario(ROOT / "scenarios/explore/socket-tickets-want-write.toml")
    alone = ex.explore(sc, seed=0, budget=60, store=None)
    report = ex.explore(sc, seed=0, budget=60, store=None, jobs=2, seconds=1e-6)
    assert report.covered == alone.covered and report.dry and alone.dry


def test_a_signal_while_shrinking_keeps_what_was_found(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import signal

    from biopair.search import interrupt

    def stopped(*args: object, **kwargs: object) -> None:
        raise interrupt.Interrupted(signal.SIGTERM)

    monkeypatch.setattr(ex, "shrink", stopped)
    assert main(["explore", str(FALSE_CLAIM), "--budget", "40"]) == 143
    out = capsys.readouterr().out
    assert "behaviour classes" in out and "interrupted by SIGTERM" in out
    assert "counterexample: " in out and "replay: biopair explore" in out


def test_counts_are_exact_up_to_1000_digits() -> None:
    assert ex.count_text(10 ** 1000 - 1) == "9" * 1000
    assert ex.count_text(2 ** 3320) == str(2 ** 3320)
    assert ex.count_text(10 ** 1000) == "about 1.00e+1000"


@pytest.mark.parametrize("jobs", [1, 2])
def test_time_without_a_budget_searches_for_that_long(
        jobs: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # --time alone is a time limit, not the default budget's (it once stopped after 1,000
    # schedules whatever --time said).
    monkeypatch.setattr(ex, "DEFAULT_BUDGET", 8)
    sc = load_scenario(ROOT / "scenarios/explore/tls13-handshake-want-sequences.toml")
    started = time.monotonic()
    report = ex.explore(sc, seconds=0.6, store=None, jobs=jobs)
    assert report.schedules > 8 and not report.dry and report.counterexample is None
    assert 0.6 <= time.monotonic() - started < 10
    assert ex.explore(sc, store=None).schedules == 8


def test_a_search_keeps_its_classes_not_a_report_per_run() -> None:
    sc = load_scenario(TICKETS)
    lean = ex.explore(sc, seed=4, budget=48, store=None)
    kept = ex.explore(sc, seed=4, budget=48, store=None, keep_runs=True)
    assert lean.runs == [] and len(kept.runs) == kept.schedules == lean.schedules == 48
    assert [(k, c, e.index) for k, c, e in lean.classes()] == \
        [(k, c, e.index) for k, c, e in kept.classes()]
    assert lean.first_failure() == kept.first_failure() == \
        next(r for r in kept.runs if r.failure is not None)
    # The same report, but for the time it took.
    assert lean.summary().split("\n")[2:] == kept.summary().split("\n")[2:]


def test_same_seed_same_classes_and_shrunk_schedule() -> None:
    sc = load_scenario(FALSE_CLAIM)
    a = ex.explore(sc, seed=3, budget=24, store=None)
    b = ex.explore(sc, seed=3, budget=24, store=None)
    assert a.classes() and [(k, c) for k, c, _ in a.classes()] == \
        [(k, c) for k, c, _ in b.classes()]
    assert a.counterexample is not None and b.counterexample is not None
    assert a.counterexample.schedule == b.counterexample.schedule == "s0.1"


def test_jobs_2_gives_the_result_of_jobs_1() -> None:
    sc = load_scenario(TICKETS)
    one = ex.explore(sc, seed=5, budget=32, store=None, jobs=1)
    two = ex.explore(sc, seed=5, budget=32, store=None, jobs=2)
    assert one.to_json()["classes"] == two.to_json()["classes"]
    assert one.counterexample is not None and two.counterexample is not None
    assert one.counterexample.schedule == two.counterexample.schedule


def test_false_claim_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "min.toml"
    assert main(["explore", str(FALSE_CLAIM), "--budget", "20", "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "counterexample: s0.1" in text
    assert text.rstrip().endswith(f"replay: biopair run {out}")
    replay = run_scenario(load_scenario(out))
    assert not replay.passed
    assert replay.failures[0].key == "steps[1].expect.client"
    assert replay.failures[0].actual == "WANT_READ{2} 1"
    assert main(["run", str(out)]) == 1
    # The failure is stored and tried first next time: found at index 0.
    again = ex.explore(load_scenario(FALSE_CLAIM), budget=1)
    first = again.first_failure()
    assert first is not None and first.index == 0 and first.schedule == "s0.1"


def test_shrunk_file_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    files = []
    for name in ("a.toml", "b.toml"):
        sc = load_scenario(TICKETS)
        report = ex.explore(sc, seed=2, budget=16, store=None)
        assert ex.write_out(report, sc, str(tmp_path / name))
        files.append((tmp_path / name).read_text())
    assert files[0] == files[1]
    replay = run_scenario(load_scenario(tmp_path / "a.toml"))
    assert replay.failures and replay.failures[0].actual.startswith("WANT_READ")


def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(FALSE_CLAIM), "--budget", "8", "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["schedules"] == 8 and doc["seconds"] >= 0
    assert all("count" in c and "example" in c for c in doc["classes"])
    assert doc["counterexample"]["schedule"] == "s0.1"


@pytest.mark.parametrize("name", ["socket-tickets-fit", "socket-tickets-want-write"])
def test_exhaustive_true_claim_exits_0(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / f"scenarios/explore/{name}.toml"
    assert main(["explore", str(path), "--exhaustive"]) == 0
    out = capsys.readouterr().out
    assert "(the whole space)" in out and "no counterexample in the space" in out


def test_socket_tickets_want_write_is_the_tickets_call() -> None:
    # The WANT_WRITE is the accept call that writes the tickets, each larger than half
    # the socket's send buffer because it carries the client's padded certificate.
    verdict = run_scenario(load_scenario(ROOT / "scenarios/explore/socket-tickets-want-write.toml"))
    assert not verdict.failures
    [blocked] = [c for c in verdict.trace.calls if c.error == "WANT_WRITE"]
    assert blocked.endpoint == "server" and blocked.ret == -1
    tickets = [e for e in verdict.trace.events if isinstance(e, MessageEvent)
               and e.name == "NewSessionTicket" and e.call == blocked.seq]
    assert len(tickets) == 2 and all(t.length > 2_000 for t in tickets)


def test_forbid_refutes_wherever_it_appears(tmp_path: Path) -> None:
    # A pattern that allows a DEADLOCK still fails when [explore] forbids it.
    path = write(tmp_path, """title = "t"
[[steps]]
run = ["client connect"]
expect = { client = "WANT_READ+ DEADLOCK" }
[explore]
forbid = ["DEADLOCK"]
""")
    report = ex.explore(load_scenario(path), budget=2, store=None)
    assert report.counterexample is not None
    assert report.counterexample.kind == "forbid DEADLOCK"


def test_replay_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explore", str(FALSE_CLAIM), "--replay", "s0.1"]) == 1
    assert "WANT_READ{2} 1" in capsys.readouterr().out
    assert main(["explore", str(FALSE_CLAIM), "--replay", "-"]) == 0


def test_store_is_not_written_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "link.txt"
    os.symlink(target, link)
    with pytest.raises(OSError, match="symlink"):
        ex.write_atomic(link, "x")
    assert target.read_text() == ""


def test_per_direction_deliver_table(tmp_path: Path) -> None:
    path = write(tmp_path, """title = "t"
[[steps]]
run = ["client connect", "server accept"]
deliver = { "server>client" = [1] }
expect = { client = "WANT_READ{2} 1" }
""")
    assert run_scenario(load_scenario(path)).passed
    bad = write(tmp_path, HANDSHAKE.replace('expect', 'deliver = { "x>y" = 1 }\nexpect'),
                "bad.toml")
    with pytest.raises(ScenarioError, match="deliver"):
        load_scenario(bad)


def test_same_file_and_shrink_across_jobs_with_one_pool(tmp_path: Path) -> None:
    # --jobs 2 shrinks on the worker pool (candidates in parallel, the first failing one
    # taken): the same runs, the same shrink, the same file as --jobs 1; the pool is kept.
    sc = load_scenario(TICKETS)
    reports = {}
    for jobs in (1, 2, 2):
        report = ex.explore(sc, seed=2, budget=16, store=None, jobs=jobs, keep_runs=True)
        assert ex.write_out(report, sc, str(tmp_path / f"j{jobs}.toml"))
        reports[jobs] = report
        if jobs == 2:
            pool = ex.WorkerPool._pool
            assert pool is not None
    assert ex.WorkerPool._pool is pool  # the second --jobs 2 search used the same workers
    one, two = reports[1], reports[2]
    assert [(r.index, r.schedule, r.klass) for r in one.runs] == \
        [(r.index, r.schedule, r.klass) for r in two.runs]
    assert (one.shrunk_from, one.shrink_runs) == (two.shrunk_from, two.shrink_runs)
    assert (tmp_path / "j1.toml").read_text() == (tmp_path / "j2.toml").read_text()
    ex.WorkerPool.close()
    ex.WorkerPool.close()  # safe twice


def test_a_scenario_that_does_not_run_here_is_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Found while adding shard items: explore crashed (IndexError) on unmet requires.
    path = write(tmp_path, 'requires = ["openssl >= 99"]\n' + HANDSHAKE)
    assert main(["explore", str(path)]) == 0
    assert "skipped: requires openssl >= 99" in capsys.readouterr().out
    assert main(["explore", str(path), "--replay", "-"]) == 0
    with pytest.raises(ex.Skipped):
        ex.explore(load_scenario(path), store=None)


def test_a_lean_run_leaves_no_reference_cycle() -> None:
    # The pair refers to its exploring schedule and the schedule to the pair: undone when
    # the run ends, so a search's finished pairs are freed by reference counting, not
    # kept for the cyclic GC to walk in every collection.
    import gc

    sc = load_scenario(FALSE_CLAIM)
    spec = sc.explore or ExploreSpec()
    cache = ex.contexts_for(sc, spec)
    point = ex.parse_schedule("s0.100")
    ex.run_point(sc, spec, point, contexts=cache)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            report = ex.run_point(sc, spec, point, contexts=cache)
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert report.kind == "steps[1].expect.client"


def test_lean_runs_fit_the_scenario_once_and_judge_the_same() -> None:
    # Fitted once per search (version tables chosen, expectations remembered), a lean
    # run reports what a full run of the scenario as loaded reports.
    for path, schedule in ((TICKETS, "s0.100"), (FALSE_CLAIM, "s0.100"), (FALSE_CLAIM, "-")):
        sc = load_scenario(path)
        spec = sc.explore or ExploreSpec()
        assert ex.fitted(sc) is ex.fitted(sc)
        point = ex.parse_schedule(schedule)
        for _ in range(2):  # the second judged from what the first remembered
            lean, _ = ex.run_once(sc, spec, point, contexts=ex.contexts_for(sc, spec))
            plain, _ = ex.run_once(sc, spec, point, full=True)
            assert ex.fingerprint(lean) == ex.fingerprint(plain)
            assert ex.behaviour(lean) == ex.behaviour(plain)
            assert lean.failures == plain.failures
            assert bool(lean.failures) == (path == FALSE_CLAIM and schedule != "-")
