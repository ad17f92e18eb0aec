"""Outcome patterns match in linear time: cost per outcome is flat from 1k to 100k outcomes.

For each nested pattern and each length (1,000, 10,000, 100,000 outcomes) the script
times ``Pattern.matches`` over a sequence it reads to the end and, in the same process,
interleaved with it, the *baseline*: one plain Python pass over the same list testing
each outcome's error name (the least any matcher must do: look at every outcome once).
A row shows the median time per outcome, the ratio to the baseline, and the growth from
the previous length (linear growth is 10x for 10x the outcomes).  It runs each pattern twice:

* **as shipped**: the matcher remembers the move from each set of states on each
  combination of predicate verdicts, so a long run of like outcomes costs a few tests
  each;
* **no memory**: ``_REMEMBERED_SETS = 1`` forgets every move at once, so every outcome
  pays a full epsilon closure -- the worst case the O(len x size) bound is about.

Last, the regex matcher patterns used before (kept as the oracle in
``tests/outcome/test_patterns.py``) on the issue's pattern, for contrast: its time
doubles with each extra outcome.

    python benchmarks/bench_patterns.py [--rounds 5]

Exit status 1 if the cost per outcome grows more than 2x from 1k to 100k outcomes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from biopair import outcome
from biopair.outcome import Outcome, Pattern, compile_pattern

WR = Outcome(-1, "WANT_READ")
LENGTHS = (1_000, 10_000, 100_000)
#: Outcomes timed per measurement: a short sequence is matched repeatedly, so every
#: figure is read over the same window of time.
WINDOW = 200_000


def _starved(n: int) -> list[Outcome]:
    # A handshake delivered a few bytes per move: WANT_READ after WANT_READ, then 1.
    return [WR] * (n - 1) + [Outcome(1, "NONE")]


def _mixed(n: int) -> list[Outcome]:
    # Reads of many sizes between the WANT_READs, then a reason-carrying SSL error.
    return ([WR if i % 3 else Outcome(i % 16384 + 1, "NONE") for i in range(n - 1)]
            + [Outcome(-1, "SSL", ("unexpected eof while reading",))])


#: Nested patterns, each with a sequence it reads to the end (no early exit).
CASES: tuple[tuple[str, str, Callable[[int], list[Outcome]]], ...] = (
    ("(WANT_READ+)+ SSL", "WANT_READ.. 1", _starved),          # issue 11's: never finished
    ("((WANT_READ | ANY)+)+ SSL", "mixed .. SSL", _mixed),
    ("(" * 30 + "WANT_READ+" + ")+" * 30 + " (1 | SSL)", "WANT_READ.. 1", _starved),
)


def _baseline(seq: list[Outcome]) -> int:
    return sum(1 for o in seq if o.error == "WANT_READ")


def _paired(work: Callable[[], object], base: Callable[[], object], repeat: int,
            rounds: int) -> tuple[float, float]:
    # Median seconds of each (per pass), measured in alternating order.
    mine: list[float] = []
    floor: list[float] = []
    for i in range(rounds):
        for fn, times in ((work, mine), (base, floor))[:: 1 if i % 2 else -1]:
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            times.append((time.perf_counter() - start) / repeat)
    return statistics.median(mine), statistics.median(floor)


def _table(rounds: int, label: str) -> float:
    print(f"\n{label}")
    print(f"{'pattern':<34} {'sequence':<14} {'outcomes':>8} {'us/outcome':>10} "
          f"{'x baseline':>10} {'growth':>7}")
    worst = 0.0
    for text, kind, make in CASES:
        pattern = compile_pattern(text)
        shown = text if len(text) < 34 else text[:20] + "..." + text[-10:]
        previous: float | None = None
        first: float | None = None
        for n in LENGTHS:
            seq = make(n)
            def ours(s: list[Outcome] = seq, p: Pattern = pattern) -> object:
                return p.matches(s)

            def floor_(s: list[Outcome] = seq) -> object:
                return _baseline(s)

            mine, floor = _paired(ours, floor_, max(1, WINDOW // n), rounds)
            per = mine / n * 1e6
            growth = "" if previous is None else f"{mine / previous:.1f}x"
            print(f"{shown:<34} {kind:<14} {n:>8,} {per:>10.2f} {mine / floor:>10.1f} "
                  f"{growth:>7}")
            previous = mine
            first = per if first is None else first
            worst = max(worst, per / first)
    return worst


def _old_regex() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.outcome.test_patterns import oracle

    print("\nthe old regex matcher, (WANT_READ+)+ SSL over WANT_READ x n, 1 (no match)")
    for n in range(14, 30, 2):
        seq = [WR] * (n - 1) + [Outcome(1, "NONE")]
        start = time.perf_counter()
        oracle("(WANT_READ+)+ SSL", seq)
        took = time.perf_counter() - start
        new = compile_pattern("(WANT_READ+)+ SSL")
        start = time.perf_counter()
        new.matches(seq)
        now = time.perf_counter() - start
        print(f"  {n:>3} outcomes: regex {took * 1e3:10.1f} ms   NFA {now * 1e3:6.3f} ms")
        if took > 1.0:
            break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    worst = _table(args.rounds, "as shipped")
    saved = outcome._REMEMBERED_SETS
    outcome._REMEMBERED_SETS = 1
    try:
        worst = max(worst, _table(args.rounds, "no memory (every outcome a full closure)"))
    finally:
        outcome._REMEMBERED_SETS = saved
    _old_regex()
    print(f"\ncost per outcome, 100k against 1k: at most {worst:.2f}x (target <= 2.0x)")
    return 0 if worst <= 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
