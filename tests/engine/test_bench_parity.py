"""The benchmark's baseline makes the very C calls biopair makes (untimed).

``benchmarks/bench_handshake.py`` compares a handshake through ``Pair`` with a direct cffi
loop; the ratio means something only if the loop makes the same C calls biopair needs to
report exact values.  Here both run a bytewise TLS 1.3 handshake with a counting proxy in
place of the cffi binding (every ``lib`` function, and ``ffi.errno`` read and written),
and the two multisets of calls must be equal, as must what they report.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from OpenSSL._util import ffi, lib

from biopair import Pair
from biopair.endpoints import _openssl

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_handshake.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_handshake", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_handshake", module)
    spec.loader.exec_module(module)
    return module


class CountingLib:
    """The cffi ``lib`` with every function call counted by name."""

    def __init__(self, real: Any, counts: Counter[str]) -> None:
        self._real = real
        self._counts = counts

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._real, name)
        if not callable(value):
            return value
        counts = self._counts

        def counted(*args: Any) -> Any:
            counts[name] += 1
            return value(*args)

        return counted


class CountingFFI:
    """The cffi ``ffi`` with reads and writes of ``errno`` counted."""

    def __init__(self, real: Any, counts: Counter[str]) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "_counts", counts)

    @property
    def errno(self) -> int:
        self._counts["errno (read)"] += 1
        value: int = self._real.errno
        return value

    @errno.setter
    def errno(self, value: int) -> None:
        self._counts["errno (set)"] += 1
        self._real.errno = value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """biopair's binding replaced by counting proxies (for the pairs built meanwhile)."""
    counter: Counter[str] = Counter()
    monkeypatch.setattr(_openssl, "_lib", CountingLib(lib, counter))
    monkeypatch.setattr(_openssl, "_ffi", CountingFFI(ffi, counter))
    yield counter


def _counted(counter: Counter[str], run: Callable[[], Any]) -> tuple[Counter[str], Any]:
    counter.clear()
    result = run()
    return Counter(counter), result


@pytest.mark.parametrize("deliver", ["bytewise", "all"])
def test_direct_loop_makes_the_c_calls_biopair_makes(counts: Counter[str],
                                                     deliver: str) -> None:
    bench = _bench()
    step = 1 if deliver == "bytewise" else None
    proxy_lib, proxy_ffi = CountingLib(lib, counts), CountingFFI(ffi, counts)
    conns = bench._connections()
    direct, base_totals = _counted(counts,
                                   lambda: bench.direct_loop(conns, step, proxy_lib, proxy_ffi))
    with Pair(deliver=deliver, record=True, protocol=False) as pair:
        ours, result = _counted(counts, pair.handshake)
    assert result.terminal is None
    assert base_totals == bench.totals(result.calls)
    assert ours == direct
    calls = result.calls
    # What the multiset is made of, per SSL call and per move (the README's list).
    assert ours["SSL_do_handshake"] == len(calls)
    for per_call in ("ERR_clear_error", "SSL_get_error", "BIO_read", "errno (set)",
                     "errno (read)"):
        assert ours[per_call] == len(calls), per_call
    assert ours["BIO_get_mem_data"] == 2 * len(calls)  # the input's fill, before and after
    assert ours["ERR_peek_error"] == sum(c.ret is not None and c.ret > 0 for c in calls)
    moves = sum(1 for e in pair.trace.events if type(e).__name__ == "MoveEvent")
    assert ours["BIO_write"] == moves
    assert set(ours) == {"SSL_do_handshake", "ERR_clear_error", "SSL_get_error", "BIO_read",
                         "BIO_get_mem_data", "ERR_peek_error", "BIO_write", "errno (set)",
                         "errno (read)"}


def test_want_read_leaves_the_error_queue_empty() -> None:
    # Why biopair does not ask ERR_peek_error() after a WANT_READ: SSL_get_error() with
    # ret <= 0 answers SSL or SYSCALL whenever the queue is not empty.  Checked on every
    # call of a real bytewise handshake, each move a byte.
    conns = _bench()._connections()
    done = [False, False]
    queues = [bytearray(), bytearray()]
    wants = 0
    while not all(done):
        for side, conn in enumerate(conns):
            if done[side]:
                continue
            lib.ERR_clear_error()
            ret = lib.SSL_do_handshake(conn._ssl)
            if lib.SSL_get_error(conn._ssl, ret) == lib.SSL_ERROR_WANT_READ:
                wants += 1
                assert ret <= 0 and lib.ERR_peek_error() == 0
            else:
                assert ret == 1
                done[side] = True
            queues[side] += _openssl.take_output(conn)
            for d, queue in enumerate(queues):
                if queue:
                    _openssl.give_input(conns[1 - d], bytes(queue[:1]))
                    del queue[:1]
    assert wants > 500  # every WANT_READ of a bytewise handshake: over a thousand
