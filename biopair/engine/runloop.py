"""The run loop: interleave calls and moves until every entry stops saying WANT_*.

A run takes a list of (endpoint, op) entries and, round by round, calls each entry that
has not yet finished, making the schedule's moves after every call (every choice --
turn order, keeping the turn, which links move and by how much -- is the
:class:`~biopair.engine.schedule.Schedule`'s).  An entry finishes when its call returns
anything but WANT_*; a write entry that wrote only part of its bytes
(SSL_MODE_ENABLE_PARTIAL_WRITE) goes on with the rest, passed as a ``memoryview`` of the
same payload (never a copy: writing N bytes costs O(N) however many calls it takes), so
its outcomes are the byte counts OpenSSL returned (``16384 16384 7232``).  A write entry
retried after WANT_* passes the same buffer again.  The run ends when every entry has
finished, or with a terminal outcome:

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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from biopair.endpoints.config import WRITE_OPS
from biopair.endpoints.protocol import WriteData
from biopair.engine.schedule import NO_MOVE, LinkState, MoveChoice, Schedule, Size
from biopair.engine.trace import Call
from biopair.outcome import DEADLOCK, LIMIT, Outcome, stranded

#: Ops whose retry passes the same buffer again (and whose partial success goes on).
_WRITE_OPS = frozenset(WRITE_OPS)


@dataclass(frozen=True)
class RunEntry:
    """One entry of a run: an endpoint, an op, and the op's arguments."""

    endpoint: str
    op: str
    size: int | None = None
    data: bytes | None = None
    #: the entry finishes after this many outcomes other than WANT_* (each a new call;
    #: a write writes the same payload again).
    repeat: int = 1


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

    __slots__ = ("_endpoints", "_outcomes", "_unfinished", "calls", "end", "terminal")

    def __init__(self, calls: list[Call], terminal: str | None,
                 endpoints: Sequence[str], unfinished: Sequence[str] = (),
                 end: Outcome | None = None) -> None:
        self.calls = calls
        self.terminal = terminal
        if end is None and terminal is not None:
            end = DEADLOCK if terminal == DEADLOCK.error else LIMIT
        self.end = end
        self._endpoints = tuple(dict.fromkeys(endpoints))
        self._unfinished = tuple(unfinished)
        self._outcomes: dict[str, list[Outcome]] | None = None

    @property
    def outcomes(self) -> dict[str, list[Outcome]]:
        """Each endpoint's outcome sequence, the terminal appended for unfinished entries."""
        if self._outcomes is None:
            outcomes = {name: [c.outcome for c in self.calls if c.endpoint == name]
                        for name in self._endpoints}
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
             data: WriteData | None = None) -> Call:
        """One SSL call, and the pulls after it."""
        ...

    def caller(self, endpoint: str, op: str, size: int | None = None,
               data: bytes | None = None) -> Callable[[], Call]:
        """A callable making ``call(endpoint, op, size=size, data=data)`` each time."""
        ...

    def move_link(self, link: L, size: Size, pull: bool) -> int:
        """One move the schedule chose (``pull``: look for the sender's bytes first)."""
        ...

    def mover(self, link: L) -> Callable[[Size], int]:
        """A callable making ``move_link(link, size, False)`` each time."""
        ...

    def write_data(self, endpoint: str) -> WriteData:
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
        done: its outcomes other than WANT_* so far (it finishes at ``entry.repeat``).
        rest: the unwritten rest of a partial write, passed by the next call (a view of
            the payload, not a copy).
    """

    __slots__ = ("calls", "done", "entry", "index", "rest")

    def __init__(self, entry: RunEntry, index: int) -> None:
        self.entry = entry
        self.index = index
        self.calls = 0
        self.done = 0  # outcomes other than WANT_* so far (repeat)
        self.rest: WriteData | None = None

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
    listed = [e if isinstance(e, RunEntry) else RunEntry(e[0], e[1]) for e in entries]
    running = [EntryState(e, i) for i, e in enumerate(listed)]
    # Per entry (by index), what its turns need, looked up once: its endpoint and op,
    # whether it writes, and its call with its own arguments, prepared by the driver.
    plans = [(e.endpoint, e.op, e.op in _WRITE_OPS, e.op == "write",
              driver.caller(e.endpoint, e.op, e.size, e.data)) for e in listed]
    made: list[Call] = []
    terminal: Outcome | None = None
    # Only this run calls while it runs, so the pair's life cap is a budget for it.
    budget = min(cap, driver.max_calls - driver.calls_made)
    links = driver.link_states
    # Each link with its move prepared once by the driver (a link whose sender's bytes
    # arrive on their own, an external peer's, is moved with a pull first).
    moving = [(link, None if link.waits else driver.mover(link)) for link in links]
    # Bound once: these run after every call.
    call_fn = driver.call
    move_link = driver.move_link
    move_size = schedule.move
    keep_turn = schedule.keep_turn
    # What the schedule answers whatever it is asked, taken once.
    move_known, fixed_size, keeps, in_order = schedule.fixed()
    while running and terminal is None:
        before = driver.progress
        all_wanted = True
        # A copy: entries that finish leave ``running`` during the round.
        order = tuple(running)
        for state in order if in_order else schedule.turn_order(order):
            endpoint, op, is_write, plain_write, prepared = plans[state.index]
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
                    call = prepared()
                state.calls += 1
                made.append(call)
                for link, move in moving:
                    # A link with nothing to hand over cannot move: not a choice to ask.
                    if link.queue:
                        if move_known and not (link.paused or link.held):
                            size: MoveChoice = fixed_size
                        else:
                            size = move_size(link)
                    elif link.eof and not link.closed:
                        size = move_size(link)
                    else:
                        continue
                    if size is NO_MOVE:
                        continue
                    if move is None:
                        move_link(link, size, True)
                    else:
                        move(size)
                if plain_write:
                    done = call.ret
                    if done is not None and done > 0:
                        written = driver.write_data(endpoint)
                        if done < len(written):
                            # A view: the rest shares the payload's memory (no O(N)
                            # copy per partial write; the Call records share it too).
                            state.rest = memoryview(written)[done:]
                error = call.error
                if state.rest is None and (error is None or not (
                        error.startswith("WANT_") or error == "PENDING")):
                    # Finished (the rule is outcome.wants(), written out on the hot path),
                    # once ``repeat`` times.
                    all_wanted = False
                    state.done += 1
                    if state.done >= state.entry.repeat:
                        running.remove(state)
                    break
                if not (keep_turn(state, driver.progress != turn_start) if keeps is None
                        else keeps):
                    break
            if terminal is not None:
                break
        if (terminal is None and running and all_wanted and driver.progress == before
                and not driver.wait_for_peers()):
            where = driver.stranded()
            terminal = stranded(where) if where else DEADLOCK
    name = terminal.error if terminal is not None else None
    driver.end_run(len(made), name)
    return RunResult(made, name, [e.endpoint for e in listed],
                     [s.endpoint for s in running], terminal)
