"""The run loop: interleave calls and moves until every entry stops saying WANT_*.

A run takes a list of (endpoint, op) entries and, round by round, calls each entry that
has not yet finished, making the schedule's moves after every call (every choice --
turn order, keeping the turn, which links move and by how much -- is the
:class:`~biopair.engine.schedule.Schedule`'s).  An entry finishes when its call returns
anything but WANT_*; a write entry that wrote only part of its bytes
(SSL_MODE_ENABLE_PARTIAL_WRITE) goes on with the rest, in a new buffer, so its outcomes
are the byte counts OpenSSL returned (``16384 16384 7232``).  A write entry retried after
WANT_* passes the same buffer again.  The run ends when every entry has finished, or with
a terminal outcome:

* ``DEADLOCK``: a whole round in which every entry still running said WANT_* and nothing
  changed: no call sent or consumed a byte, no move delivered one, no EOF reached a
  receiver (after external peers had their chance to answer).  OpenSSL is deterministic,
  so calling again could only repeat the same answers: a stall is a result, never a hang;
* ``STRANDED``: a DEADLOCK while bytes wait inside a wrapper endpoint (its buffers,
  SSL_pending, a socket buffer it stopped reading): the driver's :meth:`Driver.stranded`
  names where, and the terminal carries that as its reasons (the transport oracle for
  wrapper endpoints, docs/wrappers.md);
* ``LIMIT``: the call cap was reached first.

The terminal is appended to the outcome sequence of every entry still running.

The loop drives a :class:`Driver` (the pair's basic events, as a narrow protocol), so it
imports nothing that imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from biopair.endpoints.config import WRITE_OPS
from biopair.engine.schedule import NO_MOVE, LinkState, Schedule, Size
from biopair.engine.trace import Call
from biopair.outcome import DEADLOCK, LIMIT, Outcome, stranded, wants

#: Ops whose retry passes the same buffer again (and whose partial success goes on).
_WRITE_OPS = frozenset(WRITE_OPS)


@dataclass(frozen=True)
class RunEntry:
    """One entry of a run: an endpoint, an op, and the op's arguments."""

    endpoint: str
    op: str
    size: int | None = None
    data: bytes | None = None


class RunResult:
    """What a run did.

    Attributes:
        outcomes: each endpoint's outcome sequence (with the terminal, if any); built
            from ``calls`` when first read (a bytewise run makes thousands of calls and a
            caller such as a benchmark may never look).
        terminal: ``"DEADLOCK"``, ``"STRANDED"``, ``"LIMIT"`` or None.
        end: the terminal outcome (with STRANDED's reasons: where the bytes wait), or None.
        calls: the calls the run made.
    """

    __slots__ = ("_outcomes", "_per_endpoint", "_unfinished", "calls", "end", "terminal")

    def __init__(self, calls: list[Call], terminal: str | None,
                 per_endpoint: dict[str, list[Call]], unfinished: Sequence[str] = (),
                 end: Outcome | None = None) -> None:
        self.calls = calls
        self.terminal = terminal
        if end is None and terminal is not None:
            end = DEADLOCK if terminal == DEADLOCK.error else LIMIT
        self.end = end
        self._per_endpoint = per_endpoint
        self._unfinished = tuple(unfinished)
        self._outcomes: dict[str, list[Outcome]] | None = None

    @property
    def outcomes(self) -> dict[str, list[Outcome]]:
        """Each endpoint's outcome sequence, the terminal appended for unfinished entries."""
        if self._outcomes is None:
            outcomes = {name: [c.outcome for c in calls]
                        for name, calls in self._per_endpoint.items()}
            if self.end is not None:
                for name in self._unfinished:
                    outcomes[name].append(self.end)
            self._outcomes = outcomes
        return self._outcomes

    def __repr__(self) -> str:
        return (f"RunResult(outcomes={self.outcomes!r}, terminal={self.terminal!r}, "
                f"calls=[{len(self.calls)} calls])")


#: The driver's link type.
L = TypeVar("L", bound=LinkState)


class Driver(Protocol[L]):
    """The events a run is made of (a :class:`~biopair.engine.pair.Pair` provides them)."""

    @property
    def progress(self) -> int:
        """A counter every event that changes what a call could see bumps."""
        ...

    @property
    def calls_made(self) -> int:
        """Calls over the pair's life (the pair's own cap counts these)."""
        ...

    @property
    def max_calls(self) -> int:
        """The cap on calls over the pair's life."""
        ...

    @property
    def link_states(self) -> Sequence[L]:
        """The links, in direction order."""
        ...

    def call(self, endpoint: str, op: str, *, size: int | None = None,
             data: bytes | None = None) -> Call:
        """One SSL call, and the pulls after it."""
        ...

    def move_link(self, link: L, size: Size, pull: bool) -> int:
        """One move the schedule chose (``pull``: look for the sender's bytes first)."""
        ...

    def write_data(self, endpoint: str) -> bytes:
        """The payload of the endpoint's pending write."""
        ...

    def wait_for_peers(self) -> bool:
        """Give external peers a bounded chance to answer; True if any did."""
        ...

    def end_run(self, calls: int, terminal: str | None) -> None:
        """Record the end of a run."""
        ...

    def stranded(self) -> list[str]:
        """Where bytes wait inside the endpoints when a run stalls (``client: 100 bytes in
        Twisted's _appSendBuffer``); empty: nowhere, or nothing can tell."""
        ...


class EntryState:
    """One entry's state during a run (what the schedule sees as a :class:`Turn`).

    Attributes:
        entry: the entry.
        index: its position in the run's entry list.
        calls: calls made for it so far.
        rest: the unwritten rest of a partial write, passed by the next call.
    """

    __slots__ = ("calls", "entry", "index", "rest")

    def __init__(self, entry: RunEntry, index: int) -> None:
        self.entry = entry
        self.index = index
        self.calls = 0
        self.rest: bytes | None = None

    @property
    def endpoint(self) -> str:
        """The entry's endpoint."""
        return self.entry.endpoint

    @property
    def op(self) -> str:
        """The entry's op."""
        return self.entry.op


def run(
    driver: Driver[L],
    entries: Sequence[RunEntry | tuple[str, str]],
    schedule: Schedule,
    cap: int,
) -> RunResult:
    """Run ``entries`` on ``driver`` under ``schedule``, making at most ``cap`` calls.

    Returns:
        The :class:`RunResult`; a stall ends it with ``DEADLOCK``, a cap with ``LIMIT``.
    """
    running = [EntryState(e if isinstance(e, RunEntry) else RunEntry(e[0], e[1]), i)
               for i, e in enumerate(entries)]
    per_endpoint: dict[str, list[Call]] = {s.endpoint: [] for s in running}
    made: list[Call] = []
    terminal: Outcome | None = None
    # Only this run calls while it runs, so the pair's life cap is a budget for it.
    budget = min(cap, driver.max_calls - driver.calls_made)
    links = driver.link_states
    # Bound once: these run after every call.
    call_fn = driver.call
    move_link = driver.move_link
    move_size = schedule.move
    keep_turn = schedule.keep_turn
    while running and terminal is None:
        before = driver.progress
        all_wanted = True
        for state in schedule.turn_order(tuple(running)):
            entry = state.entry
            endpoint = entry.endpoint
            op = entry.op
            is_write = op in _WRITE_OPS
            mine = per_endpoint[endpoint]
            while True:
                if len(made) >= budget:
                    terminal = LIMIT
                    break
                turn_start = driver.progress
                # A write that said WANT_* is retried with the same buffer; one that wrote
                # part of its bytes (ENABLE_PARTIAL_WRITE) goes on with the rest.
                rest = state.rest
                if rest is not None:
                    state.rest = None
                    call = call_fn(endpoint, op, size=None, data=rest)
                elif is_write and state.calls:
                    call = call_fn(endpoint, op, size=None, data=None)
                else:
                    call = call_fn(endpoint, op, size=entry.size, data=entry.data)
                state.calls += 1
                made.append(call)
                mine.append(call)
                for link in links:
                    # A link with nothing to hand over cannot move: not a choice to ask.
                    if link.queue or (link.eof and not link.closed):
                        size = move_size(link)
                        if size is not NO_MOVE:
                            move_link(link, size, link.waits)
                done = call.ret
                if op == "write" and done is not None and done > 0:
                    written = driver.write_data(endpoint)
                    if done < len(written):
                        state.rest = written[done:]
                if state.rest is None and not wants(call.error):
                    running.remove(state)
                    all_wanted = False
                    break
                if not keep_turn(state, driver.progress != turn_start):
                    break
            if terminal is not None:
                break
        if (terminal is None and running and all_wanted and driver.progress == before
                and not driver.wait_for_peers()):
            where = driver.stranded()
            terminal = stranded(where) if where else DEADLOCK
    name = terminal.error if terminal is not None else None
    driver.end_run(len(made), name)
    return RunResult(made, name, per_endpoint, [s.endpoint for s in running], terminal)
