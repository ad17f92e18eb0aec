"""What biopair costs over the fastest honest loop doing the same TLS 1.3 handshake.

The baseline is a *direct cffi loop* (:func:`direct_loop`): the same contexts (biopair's
test PKI, built by the same code), the same turns (client, server, client, ...), the same
moves (after every call, what the caller wrote is read from its output BIO and each
direction hands over 1 byte, or everything queued) and the same C calls biopair makes to
report exact values -- the input BIO's fill level before and after the call,
ERR_clear_error, errno, SSL_do_handshake, SSL_get_error, ERR_peek_error where
SSL_get_error left the queue open, BIO_read, BIO_write -- made straight through
``OpenSSL._util.lib``: no pyOpenSSL exception, no Python object per call, no record.
``tests/engine/test_bench_parity.py`` counts both loops' C calls and proves the multisets equal,
and this script checks that both report the same calls, bytes sent and bytes consumed.
Nothing reporting those values can do this handshake in Python with fewer steps, so the
ratio is the harness's whole cost: the Call record of every call, moves and their
records, deadlock bookkeeping, the layers' glue, and with ``protocol=True`` OpenSSL's
callbacks and the wire parser.

Both loops run in this process, in *paired, interleaved rounds* (direct, harness, direct,
harness, ...), and each figure is the median of the per-round ratios, so both sides of a
ratio saw the same machine load.  Each run is timed on this thread's CPU time (the
default: on a shared machine another process's turn on the CPU is not this loop's cost)
and on wall time; both ratios are printed, with the load average.

    python benchmarks/bench_handshake.py [--rounds 21] [--clock cpu|wall]

Exit status 1 if a target ratio is missed (on the chosen clock).
"""
from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

from OpenSSL import SSL
from OpenSSL._util import ffi, lib

from biopair import Call, EndpointConfig, Pair
from biopair.endpoints._openssl import set_verify_host
from biopair.endpoints.pyopenssl import build_context

_BUF_SIZE = 1 << 16


def _connections() -> tuple[SSL.Connection, SSL.Connection]:
    # The same contexts and connection setup as biopair's default endpoints.
    client = SSL.Connection(build_context(EndpointConfig(role="client")), None)
    server = SSL.Connection(build_context(EndpointConfig(role="server")), None)
    client.set_connect_state()
    client.set_tlsext_host_name(b"server.test")
    set_verify_host(client, "server.test")
    server.set_accept_state()
    return client, server


#: What a handshake loop reports, summed over its calls: (SSL calls, bytes the calls
#: put on the wire, bytes the calls took from their input).  Both loops must agree.
Totals = tuple[int, int, int]


def direct(step: int | None) -> Totals:
    """The handshake as a direct cffi loop (see :func:`direct_loop`)."""
    return direct_loop(_connections(), step, lib, ffi)


def direct_loop(conns: tuple[SSL.Connection, SSL.Connection], step: int | None,
                lib: Any, ffi: Any) -> Totals:
    """The handshake on ``conns`` as a direct cffi loop, every C call through ``lib``.

    Per SSL call it makes exactly the C calls biopair makes to report exact values (and
    ``tests/engine/test_bench_parity.py`` proves the two multisets equal): the input BIO's fill
    level before and after (what the call consumed), ERR_clear_error(), errno = 0,
    SSL_do_handshake(), errno, SSL_get_error(), ERR_peek_error() where SSL_get_error()
    did not already prove the queue empty, one BIO_read() of the output BIO (a memory
    BIO hands over all it holds up to the size asked); and per move one BIO_write().

    Args:
        conns: a fresh client and server connection.
        step: bytes per move (1: bytewise), or None for the whole buffer.
        lib, ffi: the cffi binding (a test passes counting proxies).
    """
    client, server = conns
    ssls = (client._ssl, server._ssl)
    outs = (client._from_ssl, server._from_ssl)
    ins = (client._into_ssl, server._into_ssl)
    buf = ffi.new("char[]", _BUF_SIZE)
    mem_ptr = ffi.new("char **")
    unpack = ffi.unpack
    queues = (bytearray(), bytearray())
    done = [False, False]
    clear, peek = lib.ERR_clear_error, lib.ERR_peek_error
    do_handshake, get_error = lib.SSL_do_handshake, lib.SSL_get_error
    bio_read, bio_write, fill = lib.BIO_read, lib.BIO_write, lib.BIO_get_mem_data
    want_read, err_ssl, err_syscall = (lib.SSL_ERROR_WANT_READ, lib.SSL_ERROR_SSL,
                                       lib.SSL_ERROR_SYSCALL)
    calls = sent = consumed = 0
    while not (done[0] and done[1]):
        for side in (0, 1):
            if done[side]:
                continue
            ssl = ssls[side]
            into = ins[side]
            before = fill(into, mem_ptr)
            clear()
            ffi.errno = 0
            ret = do_handshake(ssl)
            err_no = ffi.errno
            error = get_error(ssl, ret)
            if (ret > 0 or error in (err_ssl, err_syscall)) and peek():
                raise RuntimeError(f"handshake failed: error queue not empty ({error})")
            calls += 1
            if ret == 1:
                done[side] = True
            elif error != want_read or err_no:
                raise RuntimeError(f"handshake failed: SSL_get_error {error}, errno {err_no}")
            queue = queues[side]
            n = bio_read(outs[side], buf, _BUF_SIZE)
            while n > 0:
                queue += unpack(buf, n)
                sent += n
                n = bio_read(outs[side], buf, _BUF_SIZE) if n == _BUF_SIZE else 0
            consumed += before - fill(into, mem_ptr)
            for link in (0, 1):
                queue = queues[link]
                if queue:
                    n = len(queue) if step is None else min(step, len(queue))
                    bio_write(ins[1 - link], bytes(queue[:n]), n)
                    del queue[:n]
    return calls, sent, consumed


def pyopenssl_loop(step: int | None) -> int:
    """The same handshake through pyOpenSSL's public API (exceptions, 64 KiB bio_read
    per call): the baseline the previous benchmark used, shown for reference."""
    client, server = _connections()
    conns = (client, server)
    queues = (bytearray(), bytearray())
    done = [False, False]
    calls = 0
    while not (done[0] and done[1]):
        for side in (0, 1):
            if done[side]:
                continue
            calls += 1
            try:
                conns[side].do_handshake()
                done[side] = True
            except SSL.WantReadError:
                pass
            for link in (0, 1):
                queue = queues[link]
                try:  # noqa: SIM105 - the idiom a pyOpenSSL loop uses
                    queue += conns[link].bio_read(_BUF_SIZE)
                except SSL.WantReadError:
                    pass
                if queue:
                    n = len(queue) if step is None else step
                    conns[1 - link].bio_write(bytes(queue[:n]))
                    del queue[:n]
    return calls


def harness(step: int | None, record: bool = True, protocol: bool = False) -> list[Call]:
    """The same handshake through :class:`biopair.Pair`; returns its calls."""
    with Pair(deliver="bytewise" if step == 1 else "all", record=record,
              protocol=protocol) as pair:
        result = pair.handshake()
        assert result.terminal is None
        return result.calls


def totals(calls: list[Call]) -> Totals:
    """What biopair reported, summed as :func:`direct_loop` sums it."""
    return len(calls), sum(c.sent for c in calls), sum(c.consumed for c in calls)


R = TypeVar("R")
S = TypeVar("S")


#: The clocks a round is timed with: this thread's CPU time (what the work costs; the
#: default, since this machine is shared and another process's turn on the CPU is not
#: ours) and wall time.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}


class Figures(NamedTuple):
    """One row's figures: medians over the rounds, per clock."""

    ratio: dict[str, float]
    base: dict[str, float]
    ours: dict[str, float]


def measure(base: Callable[[], R], ours: Callable[[], S],
            rounds: int) -> tuple[Figures, R, S]:
    """Run the two interleaved ``rounds`` times; the median of the per-round ratios.

    Every run is timed on both clocks (:data:`CLOCKS`).

    Returns:
        (the figures, the last base result, the last of ours)
    """
    samples: dict[str, tuple[list[float], list[float], list[float]]] = {
        name: ([], [], []) for name in CLOCKS}
    base_out: Any = None
    our_out: Any = None
    cpu, wall = CLOCKS["cpu"], CLOCKS["wall"]
    for i in range(rounds):
        # Alternate which side goes first, so neither always runs on a warm cache.
        spent = {}
        for side in ((base, ours) if i % 2 == 0 else (ours, base)):
            c0, w0 = cpu(), wall()
            out = side()
            spent[side is base] = (cpu() - c0, wall() - w0)
            if side is base:
                base_out = out
            else:
                our_out = out
        for k, name in enumerate(("cpu", "wall")):
            tb, to = spent[True][k], spent[False][k]
            ratios, bases, ourss = samples[name]
            ratios.append(to / tb)
            bases.append(tb)
            ourss.append(to)
    med = statistics.median
    figures = Figures({n: med(v[0]) for n, v in samples.items()},
                      {n: med(v[1]) for n, v in samples.items()},
                      {n: med(v[2]) for n, v in samples.items()})
    return figures, base_out, our_out


#: (name, bytes per move, record calls/moves, record the protocol, target or None)
ROWS: list[tuple[str, int | None, bool, bool, float | None]] = [
    ("bytewise, calls+moves", 1, True, False, 2.0),
    ("whole buffer, calls+moves", None, True, False, 1.2),
    ("bytewise, full protocol", 1, True, True, 2.6),
    ("bytewise, calls only", 1, False, False, None),
    ("whole buffer, full protocol", None, True, True, None),
]


def main(argv: list[str] | None = None) -> int:
    """Print every ratio; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="the clock the targets are judged on (both are printed)")
    args = parser.parse_args(argv)
    harness(None)  # warm the PKI caches for both sides
    missed = 0
    other = "wall" if args.clock == "cpu" else "cpu"
    print(f"baseline: direct cffi loop; median of {args.rounds} paired rounds; "
          f"{args.clock} time ({other} time in brackets); load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    for name, step, record, protocol, target in ROWS:
        figures, base_totals, our_calls = measure(
            functools.partial(direct, step),
            functools.partial(harness, step, record, protocol),
            args.rounds,
        )
        if base_totals != totals(our_calls):
            print(f"{name}: the loops reported different (calls, sent, consumed): "
                  f"{base_totals} vs {totals(our_calls)}")
            missed += 1
        ratio = figures.ratio[args.clock]
        verdict = ""
        if target is not None:
            ok = ratio <= target
            missed += not ok
            verdict = f"  target <= {target}x  {'ok' if ok else 'MISSED'}"
        print(f"{name:<28} direct {figures.base[args.clock] * 1e3:7.2f} ms  biopair "
              f"{figures.ours[args.clock] * 1e3:7.2f} ms  ({len(our_calls)} calls)  "
              f"ratio {ratio:.2f}x [{figures.ratio[other]:.2f}x]{verdict}")
    for step, label in ((1, "bytewise"), (None, "whole buffer")):
        figures, _, _ = measure(functools.partial(direct, step),
                                functools.partial(pyopenssl_loop, step), args.rounds)
        print(f"{'pyOpenSSL loop, ' + label:<28} direct {figures.base[args.clock] * 1e3:7.2f} "
              f"ms  pyOpenSSL {figures.ours[args.clock] * 1e3:7.2f} ms  ratio "
              f"{figures.ratio[args.clock]:.2f}x [{figures.ratio[other]:.2f}x]  (reference)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
