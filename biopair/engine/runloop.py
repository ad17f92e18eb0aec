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
* ``LIMIT``: the call cap was reached first.

The terminal is appended to the outcome sequence of every entry still running.

The loop drives a :class:`Driver` (the pair's basic events, as a narrow protocol), so it
imports nothing that imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from biopair.engine.schedule import LinkState, Schedule, Size
from biopair.engine.trace import Call
from biopair.outcome import DEADLOCK, LIMIT, Outcome

#: Ops whose retry passes the same buffer again (and whose partial success goes on).
_WRITE_OPS = frozenset({"write", "write_early_data"})


@dataclass(frozen=True)
class RunEntry:
    """One entry of a run: an endpoint, an op, and the op's arguments."""

    endpoint: str
    op: str
    size: int | None = None
    data: bytes | None = None


@dataclass
class RunResult:
    """What a run did.

    Attributes:
        outcomes: each endpoint's outcome sequence (with the terminal, if any).
        terminal: ``"DEADLOCK"``, ``"LIMIT"`` or None.
        calls: the calls the run made.
    """

    outcomes: dict[str, list[Outcome]]
    terminal: str | None
    calls: list[Call] = field(default_factory=list)


class Driver(Protocol):
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
    def link_states(self) -> Sequence[LinkState]:
        """The links, in direction order."""
        ...

    def call(self, endpoint: str, op: str, *, size: int | None = None,
             data: bytes | None = None) -> Call:
        """One SSL call, and the pulls after it."""
        ...

    def scheduled_move(self, link: LinkState, size: Size) -> int:
        """One move the schedule chose (without a pull: the call's pull made it)."""
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

    def arguments(self) -> tuple[int | None, bytes | None]:
        """``(size, data)`` for the entry's next call.

        A write that said WANT_* is retried with the same buffer (no size, no data); one
        that wrote part of its bytes (ENABLE_PARTIAL_WRITE) goes on with the rest, as an
        application would.
        """
        rest = self.rest
        if rest is not None:
            self.rest = None
            return None, rest
        if self.calls and self.entry.op in _WRITE_OPS:
            return None, None
        return self.entry.size, self.entry.data


def run(
    driver: Driver,
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
    links = driver.link_states
    max_calls = driver.max_calls
    call_fn = driver.call
    move_fn = driver.scheduled_move
    moves = schedule.moves
    keep_turn = schedule.keep_turn
    while running and terminal is None:
        before = driver.progress
        all_wanted = True
        for state in list(schedule.turn_order(tuple(running))):
            assert isinstance(state, EntryState)
            entry = state.entry
            mine = per_endpoint[entry.endpoint]
            while True:
                if len(made) >= cap or driver.calls_made >= max_calls:
                    terminal = LIMIT
                    break
                turn_start = driver.progress
                size, data = state.arguments()
                call = call_fn(entry.endpoint, entry.op, size=size, data=data)
                state.calls += 1
                made.append(call)
                mine.append(call)
                for link, nbytes in moves(links):
                    move_fn(link, nbytes)
                done = call.ret
                if entry.op == "write" and done is not None and done > 0:
                    written = driver.write_data(entry.endpoint)
                    if done < len(written):
                        state.rest = written[done:]
                if not call.wants and state.rest is None:
                    running.remove(state)
                    all_wanted = False
                    break
                if not keep_turn(state, driver.progress != turn_start):
                    break
            if terminal is not None:
                break
        if (terminal is None and running and all_wanted and driver.progress == before
                and not driver.wait_for_peers()):
            terminal = DEADLOCK
    outcomes = {name: [c.outcome for c in calls] for name, calls in per_endpoint.items()}
    if terminal is not None:
        for state in running:
            outcomes[state.endpoint].append(terminal)
    name = terminal.error if terminal is not None else None
    driver.end_run(len(made), name)
    return RunResult(outcomes=outcomes, terminal=name, calls=made)
