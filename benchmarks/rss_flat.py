"""A finished Pair leaves nothing behind: RSS stays flat over many runs with the cyclic GC off.

Each run builds a Pair (default recording: calls, moves and the protocol trace), makes a
whole-buffer TLS 1.3 handshake and closes it.  With ``gc.disable()`` only reference
counting frees anything, so a reference cycle anywhere in a Pair would make RSS grow by
its size on every run (before issue 10: about 150 KB per whole-buffer Pair, 1.2 MB
per bytewise one).

    python benchmarks/rss_flat.py [--runs 10000] [--every 1000] [--limit-mb 8]

Prints RSS after each ``--every`` runs; exit status 1 if RSS grew by more than
``--limit-mb`` between the first sample and the last.
"""

from __future__ import annotations

import argparse
import gc
import resource
import sys

from biopair import Pair


def rss_mb() -> float:
    """The process's resident set size now, in MiB (from /proc; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / (1 << 20)
    except OSError:  # pragma: no cover - not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_run(protocol: bool) -> None:
    """One Pair's whole life: build, handshake, close."""
    with Pair(protocol=protocol) as pair:
        assert pair.handshake().terminal is None


def main(argv: list[str] | None = None) -> int:
    """Print the RSS samples; exit 1 if RSS grew past the limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--every", type=int, default=1_000)
    parser.add_argument("--limit-mb", type=float, default=8.0)
    parser.add_argument("--no-protocol", action="store_true",
                        help="record calls and moves only")
    args = parser.parse_args(argv)
    for _ in range(50):  # warm the PKI and import caches before the first sample
        one_run(not args.no_protocol)
    gc.collect()
    gc.disable()
    first = rss_mb()
    print(f"runs {0:>6}  rss {first:8.1f} MiB  (cyclic GC off)")
    last = first
    for done in range(1, args.runs + 1):
        one_run(not args.no_protocol)
        if done % args.every == 0:
            last = rss_mb()
            print(f"runs {done:>6}  rss {last:8.1f} MiB  ({last - first:+.1f})")
    garbage = gc.collect()
    print(f"grew {last - first:+.1f} MiB over {args.runs} runs; the cyclic GC then found "
          f"{garbage} unreachable objects")
    return 0 if last - first <= args.limit_mb and garbage == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
