"""What one exploration run costs against a plain `biopair run` of the same schedule, and
what `--jobs 2` gains over `--jobs 1`.

1. **Run ratio**: a TLS 1.3 handshake scenario under one schedule (``s0.100``: the
   server's flight in two moves).  The exploration run is what ``biopair explore`` makes
   per schedule (:func:`biopair.search.explore.run_point`: calls, moves and run ends
   recorded, no protocol hooks, then classified and judged); the baseline is what
   ``biopair run`` makes for the counterexample file of that schedule (the per-direction
   deliver list, full recording: records, messages, states).  Paired, interleaved rounds;
   the median of the per-round ratios.  Target: <= 0.5.
2. **Jobs ratio**: ``explore(..., budget=N, jobs=1)`` time over ``jobs=2`` time.  Target
   >= 1.6 on an idle 2-core machine; the load average is printed with it.

    python benchmarks/bench_explore.py [--rounds 15] [--budget 256]

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ExploreSpec
from biopair.scenario.runner import run_scenario
from biopair.search import explore as ex

SCENARIO = (Path(__file__).resolve().parent.parent
            / "scenarios/explore/false-claim-one-want-read.toml")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=int, default=256)
    args = parser.parse_args()
    sc = load_scenario(SCENARIO)
    spec = sc.explore or ExploreSpec()
    point = ex.parse_schedule("s0.100")
    with tempfile.TemporaryDirectory() as tmp:
        _, schedule = ex.run_once(sc, spec, point, full=True)
        text = ex.counterexample_file(sc, schedule, "s0.100", "bench")
        assert text is not None
        plain_path = Path(tmp) / "plain.toml"
        plain_path.write_text(text)
        plain = load_scenario(plain_path)
        ratios = []
        n = 20
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(n):
                run_scenario(plain)
            t1 = time.perf_counter()
            for _ in range(n):
                ex.run_point(sc, spec, point)
            t2 = time.perf_counter()
            ratios.append((t2 - t1) / (t1 - t0))
        run_ratio = statistics.median(ratios)
        print(f"plain run {1000 * (t1 - t0) / n:.2f} ms, exploration run "
              f"{1000 * (t2 - t1) / n:.2f} ms: ratio {run_ratio:.2f} (target <= 0.5)")
    load = os.getloadavg()[0]
    times = {}
    for jobs in (1, 2):
        t0 = time.perf_counter()
        ex.explore(sc, spec, seed=1, budget=args.budget, jobs=jobs, store=None)
        times[jobs] = time.perf_counter() - t0
    jobs_ratio = times[1] / times[2]
    print(f"--jobs 1 {times[1]:.2f} s, --jobs 2 {times[2]:.2f} s for {args.budget} "
          f"schedules: speed-up {jobs_ratio:.2f} (target >= 1.6 on an idle machine; "
          f"load average {load:.2f} on {os.cpu_count()} CPUs)")
    return 0 if run_ratio <= 0.5 and jobs_ratio >= 1.6 else 1


if __name__ == "__main__":
    sys.exit(main())
