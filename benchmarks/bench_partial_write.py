"""Partial writes cost the same per KiB from 1 KiB to 64 MiB, and stay small in memory.

With SSL_MODE_ENABLE_PARTIAL_WRITE (pyOpenSSL's default) a ``run`` entry
``client write N`` returns 16384 per call and the run loop goes on with the rest until all
N bytes are written.  For each size the script runs, each in a **fresh subprocess** (so
its peak RSS is its own):

* **one entry**: a TLS 1.3 handshake, then one run with the single entry
  ``client write N``: N / 16384 partial writes that go on in the same buffer;
* **baseline**: the same handshake, then one run whose entries are N / 16384 separate
  ``client write 16384`` entries (one record per write: no partial write at all), the
  same bytes and the same SSL_write calls -- the fastest honest way to put N bytes through
  the same harness.

A row shows µs per KiB of each, their ratio (measured in the same subprocess, one after
the other, after the handshake), and the peak RSS of the process that made the one-entry
write (a process that did nothing but import biopair and handshake peaks at about
55 MB).

    python benchmarks/bench_partial_write.py [--max-mib 64] [--limit-mb 300]

``net/KiB`` is the one-entry write's cost per KiB with the run's fixed cost (a run of a
one-byte write, measured in the same subprocess) taken off: below 16 KiB that fixed cost
is most of a run.  Exit status 1 if the 8 MiB one-entry write peaks over ``--limit-mb``,
if the one-entry write costs over 2.5x the baseline at the largest size, or if its net
cost per KiB at the largest size is over 3x the cheapest of 16, 32 and 64 KiB (below
16 KiB the net figure is the difference of two near-equal times: noise).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

RECORD = 16384


def _one(size: int) -> dict[str, float]:
    from biopair import Pair, RunEntry

    def timed(entries: list[RunEntry], expect: int = size) -> float:
        with Pair(record=False) as pair:
            assert pair.handshake().terminal is None
            start = time.perf_counter()
            result = pair.run(entries)
            took = time.perf_counter() - start
            assert result.terminal is None
            written = sum(c.ret or 0 for c in result.calls)
            assert written == expect, (written, expect)
        return took

    # The baseline first: it never holds more than one record, so the peak RSS read at
    # the end is the one-entry write's.
    whole, rest = divmod(size, RECORD)
    records = [RunEntry("client", "write", size=RECORD)] * whole
    if rest:
        records.append(RunEntry("client", "write", size=rest))
    # Small sizes are repeated (the best of several) so every figure reads enough bytes.
    repeats = max(1, min(20, (4 << 20) // size))
    base = min(timed(records) for _ in range(repeats))
    one = min(timed([RunEntry("client", "write", size=size)]) for _ in range(repeats))
    # The fixed cost of a run (a one-byte write): what a size's bytes cost is the rest.
    fixed = min(timed([RunEntry("client", "write", size=1)], 1) for _ in range(20)) \
        if size > 1 else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"one": one, "base": base, "fixed": fixed, "peak_mb": peak}


def main(argv: list[str] | None = None) -> int:
    """Print one row per size; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mib", type=int, default=64)
    parser.add_argument("--limit-mb", type=float, default=300.0)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(_one(args.child)))
        return 0
    sizes = [1 << k for k in range(10, 21 + args.max_mib.bit_length())
             if (1 << k) <= args.max_mib << 20]
    print(f"{'size':>9} {'one entry':>12} {'baseline':>12} {'ratio':>6} {'net/KiB':>10} "
          f"{'peak RSS':>10}   (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    net: dict[int, float] = {}
    per_kib: dict[int, float] = {}
    peaks: dict[int, float] = {}
    ratios: dict[int, float] = {}
    for size in sizes:
        out = subprocess.run([sys.executable, __file__, "--child", str(size)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout)
        kib = size / 1024
        per_kib[size] = row["one"] / kib * 1e6
        peaks[size] = row["peak_mb"]
        ratios[size] = row["one"] / row["base"]
        net[size] = max(row["one"] - row["fixed"], 0.0) / kib * 1e6
        label = f"{size >> 20} MiB" if size >= 1 << 20 else f"{size >> 10} KiB"
        print(f"{label:>9} {per_kib[size]:9.2f} µs {row['base'] / kib * 1e6:9.2f} µs "
              f"{row['one'] / row['base']:5.2f}x {net[size]:7.2f} µs {row['peak_mb']:7.0f} MB",
              flush=True)
    failed = False
    eight = 8 << 20
    if eight in peaks and peaks[eight] > args.limit_mb:
        print(f"FAIL: an 8 MiB write peaked at {peaks[eight]:.0f} MB (limit {args.limit_mb})")
        failed = True
    # Flat from 1 KiB: the bytes' cost (the run's fixed cost taken off) per KiB at the
    # largest size against the cheapest per KiB of the sizes up to 64 KiB.
    small = min(v for k, v in net.items() if 16 << 10 <= k <= 64 << 10)
    if net[sizes[-1]] > 3 * small:
        print(f"FAIL: {net[sizes[-1]]:.2f} µs/KiB at the largest size vs {small:.2f} "
              "at the cheapest of 16-64 KiB")
        failed = True
    if ratios[sizes[-1]] > 2.5:
        print(f"FAIL: the one-entry write costs {ratios[sizes[-1]]:.2f}x the baseline")
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
