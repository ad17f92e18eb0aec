"""What one exploration (or sweep) run costs against a plain `biopair run` of the same
schedule, and what `--jobs 2` gains over `--jobs 1`.

1. **Run ratio**: a TLS 1.3 handshake scenario under one schedule (``s0.100``: the
   server's flight in two moves).  The exploration run is what ``biopair explore`` makes
   per schedule (:func:`biopair.search.explore.run_point` on the process's proven
   :class:`~biopair.search.explore.ContextCache`: calls, moves and run ends recorded, no
   protocol hooks, no final states or stream counts, then classified and judged); the
   baseline is what ``biopair run`` makes for the counterexample file of that schedule
   (the per-direction deliver list, fresh contexts, full recording).  A third row, the
   **floor**: the same handshake as a direct cffi loop on reused contexts (the same C
   calls, no record: ``bench_handshake.direct_loop``), against the same plain run: no
   exploration run that makes this handshake can cost less.  Target: <= 0.5.
2. **Sweep ratio**: one sweep run (:func:`biopair.search.sweep.run_point`: a truncate
   fault on the client's stream, lean and on shared contexts) against the same run as
   sweeps made it before (``run_scenario(judge=False, faults=...)``: fresh contexts,
   the protocol recorded).
3. **Jobs ratio**: ``explore(..., budget=N, jobs=1)`` wall time over ``jobs=2`` (the
   worker pool kept from a warm-up search, as a process running many searches keeps it;
   a true claim, so no shrinking).  Target >= 1.6 on an idle 2-core machine.  It prints
   how many cores' worth of CPU the search got (its process and the pool's workers, from
   /proc) and calls the machine idle when 2 jobs got at least 1.8 cores (the load average,
   printed too, is read before the row: the search itself raises it).  On a shared
   machine the kernel's scheduler (autogroups: one share per session, however many
   processes it runs) caps the cores below 2, and the ratio with them.

Rows 1 and 2 are paired, interleaved rounds (plain, ours, plain, ours, ...), the median of
the per-round ratios, timed on this thread's CPU time by default (on a shared machine
another process's turn on the CPU is not this loop's cost) and on wall time; row 3 can
only be wall time.

    python benchmarks/bench_explore.py [--rounds 15] [--budget 256] [--clock cpu|wall]

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from OpenSSL import SSL
from OpenSSL._util import ffi, lib

from biopair.endpoints._openssl import set_verify_host
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.pyopenssl import build_context
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ExploreSpec
from biopair.scenario.runner import run_scenario
from biopair.search import explore as ex
from biopair.search import sweep as sw

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_handshake import direct_loop

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios/explore/false-claim-one-want-read.toml"
HOLDS = ROOT / "scenarios/explore/tls13-handshake-want-sequences.toml"
SWEPT = ROOT / "scenarios/faults/sweep-tls13-server-flight.toml"
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}


def _group_cpu() -> float:
    """CPU seconds used so far by this process and the explore worker pool's processes
    (read from /proc: pool workers are not reaped, so os.times() does not count them)."""
    total = time.process_time()
    pool = ex.WorkerPool._pool
    for proc in getattr(pool, "_pool", None) or ():
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def paired(base: Callable[[], object], ours: Callable[[], object], rounds: int, n: int,
           clock: Callable[[], float]) -> tuple[float, float, float]:
    """Median of per-round ratios ours/base, and the last round's ms per run of each."""
    for _ in range(3):
        base()
        ours()
    ratios = []
    a = b = 0.0
    for _ in range(rounds):
        t0 = clock()
        for _ in range(n):
            base()
        t1 = clock()
        for _ in range(n):
            ours()
        t2 = clock()
        a, b = (t1 - t0) / n, (t2 - t1) / n
        ratios.append(b / a)
    return statistics.median(ratios), 1000 * a, 1000 * b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--budget", type=int, default=256)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    sc = load_scenario(SCENARIO)
    spec = sc.explore or ExploreSpec()
    point = ex.parse_schedule("s0.100")
    ok = True
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        _, schedule = ex.run_once(sc, spec, point, full=True)
        text = ex.counterexample_file(sc, schedule, "s0.100", "bench")
        assert text is not None
        plain_path = Path(tmp) / "plain.toml"
        plain_path.write_text(text)
        plain = load_scenario(plain_path)
        cache = ex.contexts_for(sc, spec)
        assert cache.enabled, "context reuse was not proven for the benchmark scenario"
        # The plain run and the exploration run make the same calls.
        assert [c.outcome for c in run_scenario(plain).trace.calls] == \
            [c.outcome for c in ex.run_once(sc, spec, point, contexts=cache)[0].trace.calls]
        contexts = (build_context(EndpointConfig(role="client")),
                    build_context(EndpointConfig(role="server")))

        def floor() -> object:
            client = SSL.Connection(contexts[0], None)
            server = SSL.Connection(contexts[1], None)
            client.set_connect_state()
            client.set_tlsext_host_name(b"server.test")
            set_verify_host(client, "server.test")
            server.set_accept_state()
            return direct_loop((client, server), None, lib, ffi)

        for clock_name in (args.clock, *(c for c in CLOCKS if c != args.clock)):
            clock = CLOCKS[clock_name]
            ratio, a, b = paired(lambda: run_scenario(plain),
                                 lambda: ex.run_point(sc, spec, point, contexts=cache),
                                 args.rounds, 20, clock)
            low, _, c = paired(lambda: run_scenario(plain), floor, args.rounds, 20, clock)
            print(f"[{clock_name}] plain run {a:.2f} ms, exploration run {b:.2f} ms: ratio "
                  f"{ratio:.2f} (target <= 0.5); floor (direct cffi handshake, reused "
                  f"contexts) {c:.2f} ms: {low:.2f}")
            if clock_name == args.clock:
                ok &= ratio <= 0.5

    swept = load_scenario(SWEPT)
    assert swept.sweep is not None
    fault = [sw.fault_at(swept.sweep, 40)]
    spec_sweep = swept.sweep
    sw.contexts_for(swept)
    for clock_name in (args.clock, *(c for c in CLOCKS if c != args.clock)):
        ratio, a, b = paired(
            lambda: run_scenario(swept, judge=False, faults=fault),
            lambda: sw.run_point(str(SWEPT), spec_sweep, 40),
            args.rounds, 20, CLOCKS[clock_name])
        print(f"[{clock_name}] sweep run as before {a:.2f} ms, now {b:.2f} ms: ratio "
              f"{ratio:.2f}")

    holds = load_scenario(HOLDS)
    hspec = holds.explore or ExploreSpec()
    load_before = os.getloadavg()[0]
    ex.explore(holds, hspec, seed=1, budget=32, jobs=2, store=None)  # the pool, warm
    ratios = []
    t = {1: 0.0, 2: 0.0}
    cores = {1: 0.0, 2: 0.0}
    for _ in range(max(1, args.rounds // 5)):
        for jobs in (1, 2):
            c0 = _group_cpu()
            t0 = time.perf_counter()
            report = ex.explore(holds, hspec, seed=1, budget=args.budget, jobs=jobs,
                                store=None)
            t[jobs] = time.perf_counter() - t0
            cores[jobs] = (_group_cpu() - c0) / t[jobs]
            assert report.counterexample is None
        ratios.append(t[1] / t[2])
    jobs_ratio = statistics.median(ratios)
    # Whether the machine was idle is judged by what the search got, not by the load
    # average (which the search itself raises by up to 2): with nothing else running, 2
    # jobs get about 2 cores.
    uncontended = cores[2] >= 1.8
    print(f"[wall] --jobs 1 {t[1]:.2f} s, --jobs 2 {t[2]:.2f} s for {args.budget} "
          f"schedules: speed-up {jobs_ratio:.2f} (target >= 1.6 on an idle machine); "
          f"CPU this search got: {cores[1]:.2f} cores with 1 job, {cores[2]:.2f} cores "
          f"with 2 (parent and workers): {'idle' if uncontended else 'NOT idle'} (load "
          f"average before {load_before:.2f} on {os.cpu_count()} CPUs)")
    ex.WorkerPool.close()
    ok &= jobs_ratio >= 1.6
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
