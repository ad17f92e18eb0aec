"""How much biopair costs over a bare pyOpenSSL loop doing the same handshake.

Both sides do the same work in the same process: the same contexts (biopair's test PKI),
the same turn order (client, server, ...) and the same delivery (1 byte per move per
direction, or the whole buffer).  The bare loop uses only pyOpenSSL's public API; biopair
makes raw calls, records every call (and, with tracing on, every move) and checks for
deadlock.  The result is a ratio, so it means the same on a slow or a busy machine.

    python benchmarks/bench_handshake.py [--rounds 15]

Targets (issue 2): <= 1.3x bytewise with tracing on; <= 1.1x whole-buffer.  "calls+moves"
is the trace of issue 2 (every SSL call and byte move); "full protocol" adds what issue 4
records through OpenSSL's callbacks and the wire parser (records, handshake messages,
alerts, states, secrets), which costs a Python callback per SSL_do_handshake exit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from OpenSSL import SSL

from biopair import EndpointConfig, Pair
from biopair.endpoints._openssl import set_verify_host
from biopair.endpoints.pyopenssl import build_context


def bare(step: int | None) -> int:
    """A plain pyOpenSSL handshake loop; returns the number of SSL calls."""
    client = SSL.Connection(build_context(EndpointConfig(role="client")), None)
    server = SSL.Connection(build_context(EndpointConfig(role="server")), None)
    client.set_connect_state()
    client.set_tlsext_host_name(b"server.test")
    # The same certificate checks as biopair's client: pyOpenSSL has no public call for
    # the host name, so this one line borrows biopair's.
    set_verify_host(client, "server.test")
    server.set_accept_state()
    queues = {id(client): bytearray(), id(server): bytearray()}
    peer = {id(client): server, id(server): client}
    done = {id(client): False, id(server): False}
    calls = 0

    def pump() -> None:
        for conn in (client, server):
            q = queues[id(conn)]
            try:  # noqa: SIM105 - the idiom a bare loop uses; suppress() is slower
                q += conn.bio_read(65536)
            except SSL.WantReadError:
                pass
            if q:
                n = len(q) if step is None else step
                peer[id(conn)].bio_write(bytes(q[:n]))
                del q[:n]

    while not all(done.values()):
        for conn in (client, server):
            if done[id(conn)]:
                continue
            calls += 1
            try:
                conn.do_handshake()
                done[id(conn)] = True
            except SSL.WantReadError:
                pass
            pump()
    return calls


def harness(step: int | None, record: bool, protocol: bool | None = None) -> int:
    """The same handshake through biopair; returns the number of SSL calls."""
    with Pair(deliver="bytewise" if step == 1 else "all", record=record,
              protocol=protocol) as pair:
        result = pair.handshake()
        assert result.terminal is None
        return len(result.calls)


def measure(
    base: Callable[[], int], ours: Callable[[], int], rounds: int
) -> tuple[float, float, float, int, int]:
    """Run the two back to back ``rounds`` times; the median of the per-round ratios.

    Pairing the runs and taking the median ratio keeps the comparison fair on a machine
    that is busy with other work: both sides of a ratio saw the same load.

    Returns:
        (median ratio, median bare seconds, median biopair seconds, bare calls, our calls)
    """
    ratios, base_times, our_times = [], [], []
    base_calls = our_calls = 0
    for _ in range(rounds):
        start = time.perf_counter()
        base_calls = base()
        middle = time.perf_counter()
        our_calls = ours()
        end = time.perf_counter()
        base_times.append(middle - start)
        our_times.append(end - middle)
        ratios.append((end - middle) / (middle - start))
    return (statistics.median(ratios), statistics.median(base_times),
            statistics.median(our_times), base_calls, our_calls)


def main(argv: list[str] | None = None) -> int:
    """Print the ratios; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args(argv)
    harness(None, True)  # warm the PKI caches for both sides
    # (name, bytes per move, record calls/moves, record the protocol, target)
    rows = [
        ("bytewise, calls+moves", 1, True, False, 1.3),
        ("bytewise, tracing off", 1, False, False, 1.3),
        ("whole buffer, calls+moves", None, True, False, 1.1),
        ("bytewise, full protocol", 1, True, True, 1.3),
        ("whole buffer, full protocol", None, True, True, 1.1),
    ]
    missed = 0
    for name, step, record, protocol, target in rows:
        ratio, base, ours, base_calls, our_calls = measure(
            lambda s=step: bare(s),
            lambda s=step, r=record, p=protocol: harness(s, r, p),
            args.rounds,
        )
        ok = ratio <= target
        missed += not ok
        print(f"{name:<28} bare {base * 1e3:8.2f} ms ({base_calls} calls)  "
              f"biopair {ours * 1e3:8.2f} ms ({our_calls} calls)  "
              f"ratio {ratio:.2f}x  target <= {target}x  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
