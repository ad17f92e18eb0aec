"""The run loop's rules (finish, partial writes, DEADLOCK, LIMIT), and a Pair's memory."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from biopair import EndpointConfig, Pair, RunEntry
from biopair.endpoints.config import pattern_bytes
from biopair.engine.runloop import EntryState, RunResult
from biopair.outcome import DEADLOCK, summarize


def test_entry_state_is_an_object_per_entry() -> None:
    state = EntryState(RunEntry("client", "write", data=b"x"), 3)
    assert (state.endpoint, state.op, state.index, state.calls, state.rest) == \
        ("client", "write", 3, 0, None)


def test_the_same_entry_twice_keeps_two_states() -> None:
    entry = RunEntry("client", "read")
    with Pair() as pair:
        pair.handshake()
        result = pair.run([entry, entry])
    # Each entry has its own state: both run (and stall) on their own.
    assert result.terminal == "DEADLOCK"
    assert summarize(result.outcomes["client"]).endswith("DEADLOCK{2}")


def test_outcomes_are_built_from_the_calls_with_the_terminal() -> None:
    with Pair() as pair:
        pair.handshake()
        result = pair.run([("client", "read")])
    assert isinstance(result, RunResult)
    assert result.outcomes["client"][:-1] == [c.outcome for c in result.calls]
    assert result.outcomes["client"][-1] == DEADLOCK
    assert result.outcomes is result.outcomes  # built once
    assert "DEADLOCK" in repr(result)


def test_a_partial_write_goes_on_with_the_rest() -> None:
    cfg = EndpointConfig(role="client", modes=("ENABLE_PARTIAL_WRITE",))
    with Pair(cfg) as pair:
        pair.handshake()
        result = pair.run([RunEntry("client", "write", size=40000)])
    payload = pattern_bytes(40000)
    # Each call after a partial one offers exactly the unwritten rest, in a new buffer.
    assert [(c.ret, c.data) for c in result.calls] == [
        (16384, b""), (16384, payload[16384:]), (7232, payload[32768:])]


def test_the_pair_cap_is_a_budget_shared_by_its_runs() -> None:
    with Pair(deliver="bytewise", max_calls=30) as pair:
        first = pair.run([("client", "connect"), ("server", "accept")], max_calls=20)
        assert first.terminal == "LIMIT" and len(first.calls) == 20
        second = pair.run([("client", "connect"), ("server", "accept")])
        assert second.terminal == "LIMIT" and len(second.calls) == 10
        third = pair.run([("client", "connect")])
        assert third.terminal == "LIMIT" and not third.calls


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize(("record", "protocol", "link"), [
    (False, False, "memory"), (True, False, "memory"), (True, True, "memory"),
    (True, True, "socket"),
])
@pytest.mark.usefixtures("no_cyclic_gc")
def test_a_closed_pair_is_freed_by_reference_counting(record: bool, protocol: bool,
                                                      link: str) -> None:
    pair = Pair(deliver="bytewise", record=record, protocol=protocol, link=link)
    assert pair.handshake().terminal is None
    pair.close()
    alive: list[weakref.ref[Any]] = [weakref.ref(pair), weakref.ref(pair.trace),
             *(weakref.ref(lk) for lk in pair.links.values())]
    del pair
    assert [ref() for ref in alive] == [None] * len(alive)
    assert gc.collect() == 0  # and nothing inside it was left in a cycle either


@pytest.mark.usefixtures("no_cyclic_gc")
def test_a_pair_with_faults_and_holds_is_freed_too() -> None:
    from biopair.transport.faults import Fault
    from biopair.transport.holds import parse_condition

    pair = Pair()
    pair.fault(Fault("corrupt", "server>client", record=3))
    pair.hold("client>server", parse_condition("server sent ServerHello"))
    pair.handshake()
    pair.close()
    ref = weakref.ref(pair)
    del pair
    assert ref() is None
    assert gc.collect() == 0
