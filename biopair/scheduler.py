"""The pair and its scheduler: who is called next, and what bytes move.

Theory of operation
-------------------
A :class:`Pair` holds two endpoints (``client`` and ``server``) and two links, one per
direction.  Three kinds of event change its state, and each is explicit:

* a **call**: one SSL function on one endpoint.  Afterwards every link *pulls* what its
  sender wrote, so the trace can say how many bytes the call put on the wire.  A call
  never delivers bytes.
* a **move**: a link hands queued bytes to its receiver (all of them, or a limit).
* a link change: ``eof`` (the receiver's BIO reports EOF once the queue is drained),
  ``pause`` and ``resume`` (a paused link delivers nothing).

A ``run`` interleaves calls and moves automatically.  It takes a list of (endpoint, op)
entries and, round by round, calls each entry that has not yet finished, making one
*move* on every link after every call; how many bytes a move hands over is the delivery
policy (``all``, ``bytewise``, N bytes, or a list of sizes then all).  An entry finishes
when its call returns anything but WANT_*.  The run ends when every entry has finished,
or with a terminal outcome:

* ``DEADLOCK``: a whole round in which every entry still running said WANT_* and nothing
  changed on any link (no byte pulled, delivered or consumed, no EOF): calling again
  could only repeat the same answers, so a stall is a result, never a hang;
* ``LIMIT``: the ``max_calls`` cap was reached first.

The terminal is appended to the outcome sequence of every entry still running.  With
``turns = "drain"`` an entry keeps the turn while its calls make progress, instead of
passing it after each call.  Everything is deterministic: with the deterministic test PKI
the same scenario makes the same calls and moves the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from OpenSSL import SSL

from biopair import stacks
from biopair.endpoint import Call, Endpoint, EndpointConfig
from biopair.link import DIRECTIONS, MemoryLink, parse_direction
from biopair.outcome import DEADLOCK, LIMIT, Outcome
from biopair.trace import LinkEvent, MoveEvent, RunEnd, Trace

#: Delivery policy names.
DELIVER_NAMES = ("all", "bytewise")
#: Turn-taking rules for a run.
TURNS = ("alternate", "drain")
DEFAULT_MAX_CALLS = 100_000

Deliver = str | int | Sequence[int]


class Delivery:
    """A delivery policy's state: how many bytes the next move on each link hands over.

    Args:
        policy: ``"all"``, ``"bytewise"``, a positive int, or a list of positive ints
            (one per move on each link, then all).
    """

    def __init__(self, policy: Deliver = "all") -> None:
        self.policy = policy
        self._moves: dict[str, int] = dict.fromkeys(DIRECTIONS, 0)

    def next_size(self, direction: str) -> int | None:
        """Bytes for the next move on ``direction`` (None: everything queued)."""
        policy = self.policy
        if policy == "all":
            return None
        if policy == "bytewise":
            return 1
        if isinstance(policy, int):
            return policy
        assert not isinstance(policy, str)
        index = self._moves[direction]
        self._moves[direction] = index + 1
        return policy[index] if index < len(policy) else None


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


class Pair:
    """Two endpoints joined by two links, and the scheduler that drives them.

    Args:
        client: client settings (defaults: verify ``server.test`` against the test CA).
        server: server settings (default: an Ed25519 certificate for ``server.test``).
        deliver: the run delivery policy (see :class:`Delivery`).
        turns: ``"alternate"`` or ``"drain"``.
        max_calls: the cap on calls over the pair's life; reaching it ends a run with LIMIT.
        record: keep move and link events in the trace (calls are always kept).
        contexts: prepared Contexts by endpoint name, e.g. to share session-ticket keys
            with an earlier pair for resumption; built from the settings if absent.

    Example::

        with Pair(deliver="bytewise") as pair:
            result = pair.run([("client", "connect"), ("server", "accept")])
            assert result.terminal is None
    """

    link_kind = "memory"

    def __init__(
        self,
        client: EndpointConfig | None = None,
        server: EndpointConfig | None = None,
        *,
        deliver: Deliver = "all",
        turns: str = "alternate",
        max_calls: int = DEFAULT_MAX_CALLS,
        record: bool = True,
        contexts: Mapping[str, SSL.Context] | None = None,
    ) -> None:
        if turns not in TURNS:
            raise ValueError(f"turns must be one of {TURNS}, not {turns!r}")
        contexts = contexts or {}
        # Endpoints of other stacks (stdlib ssl, external peers) come from biopair.stacks.
        self.endpoints: dict[str, Endpoint] = stacks.make_endpoints(
            client or EndpointConfig(role="client"),
            server or EndpointConfig(role="server"),
            contexts,
        )
        try:
            self.links = (stacks.make_links(self.endpoints) if stacks.mixed(self.endpoints)
                          else self._make_links())
        except BaseException:
            self.close()
            raise
        self.link_kind = stacks.link_kind(self.endpoints) if stacks.mixed(
            self.endpoints) else self.link_kind
        self.delivery = Delivery(deliver)
        self.turns = turns
        self.max_calls = max_calls
        self.trace = Trace(link=self.link_kind, record=record)
        self.step: int | None = None

    def _make_links(self) -> dict[str, Any]:
        links = {}
        for direction in DIRECTIONS:
            sender, receiver = parse_direction(direction)
            links[direction] = MemoryLink(
                direction, self.endpoints[sender].conn, self.endpoints[receiver].conn
            )
        return links

    # -- context management -------------------------------------------------------------
    def close(self) -> None:
        """Release the links' and endpoints' resources (kill peer processes); idempotent."""
        for link in getattr(self, "links", {}).values():
            link.close()
        for ep in self.endpoints.values():
            close = getattr(ep, "close", None)
            if close is not None:
                close()

    def __enter__(self) -> Pair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events -------------------------------------------------------------------------
    @property
    def client(self) -> Endpoint:
        """The client endpoint."""
        return self.endpoints["client"]

    @property
    def server(self) -> Endpoint:
        """The server endpoint."""
        return self.endpoints["server"]

    def call(
        self,
        endpoint: str,
        op: str,
        *,
        size: int | None = None,
        data: bytes | None = None,
        buffer: str = "auto",
    ) -> Call:
        """Make one SSL call on ``endpoint``, then pull what it wrote onto the links.

        Returns:
            The recorded :class:`~biopair.endpoint.Call`.
        """
        ep = self.endpoints[endpoint]
        raw = ep.call(op, size=size, data=data, buffer=buffer)
        sent = sum(link.pull() for link in self.links.values() if link.sender is ep.conn)
        record = Call(
            seq=len(self.trace.calls),
            endpoint=endpoint,
            op=op,
            ret=raw.ret,
            error=raw.error,
            reasons=raw.reasons,
            pyopenssl=raw.pyopenssl,
            data=raw.data if op in ("read", "peek") else (data or b""),
            sent=sent,
            step=self.step,
        )
        self.trace.add(record)
        return record

    def move(self, direction: str, nbytes: int | None = None) -> int:
        """Hand up to ``nbytes`` (all if None) queued bytes on ``direction`` to the receiver.

        Returns:
            Bytes delivered.
        """
        link = self.links[direction]
        link.pull()
        was_closed = link.closed
        moved = int(link.deliver(nbytes))
        if moved or nbytes != 0:
            self.trace.add(MoveEvent(direction, moved, len(link.queue), self.step))
        if link.closed and not was_closed:
            self.trace.add(LinkEvent("closed", direction, self.step))
        return moved

    def eof(self, direction: str) -> None:
        """Close ``direction``: its receiver sees EOF once the queued bytes are delivered."""
        link = self.links[direction]
        self.trace.add(LinkEvent("eof", direction, self.step))
        was_closed = link.closed
        link.request_eof()
        if link.closed and not was_closed:
            self.trace.add(LinkEvent("closed", direction, self.step))

    def pause(self, direction: str) -> None:
        """Stop delivering on ``direction`` until :meth:`resume`."""
        self.links[direction].paused = True
        self.trace.add(LinkEvent("pause", direction, self.step))

    def resume(self, direction: str) -> None:
        """Deliver on ``direction`` again."""
        self.links[direction].paused = False
        self.trace.add(LinkEvent("resume", direction, self.step))

    def _move_all_links(self) -> None:
        for direction in DIRECTIONS:
            link = self.links[direction]
            if link.queue and not link.paused:
                self.move(direction, self.delivery.next_size(direction))
            elif link.eof and not link.closed and not link.paused:
                self.move(direction, 0)

    def _wait_for_peers(self) -> bool:
        # An external peer answers asynchronously: before a quiet round is a DEADLOCK,
        # each peer link waits (bounded) for bytes; any byte or EOF is progress.
        waited = [getattr(link, "wait_for_bytes")() for link in self.links.values()  # noqa: B009
                  if getattr(link, "waits", False)]
        return any(waited)

    def _fingerprint(self) -> tuple[tuple[int, ...], ...]:
        return tuple(link.fingerprint() for link in self.links.values())

    # -- runs ---------------------------------------------------------------------------
    def run(
        self,
        entries: Sequence[RunEntry | tuple[str, str]],
        *,
        deliver: Deliver | None = None,
        max_calls: int | None = None,
    ) -> RunResult:
        """Interleave calls and moves until every entry stops saying WANT_*.

        Args:
            entries: (endpoint, op) pairs or :class:`RunEntry` values, in turn order.
            deliver: a delivery policy for this run only.
            max_calls: a call cap for this run only.

        Returns:
            The :class:`RunResult`; a stall ends it with ``DEADLOCK``, the cap with ``LIMIT``.
        """
        todo = [e if isinstance(e, RunEntry) else RunEntry(e[0], e[1]) for e in entries]
        saved = self.delivery
        if deliver is not None:
            self.delivery = Delivery(deliver)
        cap = max_calls if max_calls is not None else self.max_calls
        outcomes: dict[str, list[Outcome]] = {e.endpoint: [] for e in todo}
        made: list[Call] = []
        terminal: Outcome | None = None
        first_of: dict[int, bool] = {}
        try:
            while todo and terminal is None:
                before = self._fingerprint()
                all_wanted = True
                for entry in list(todo):
                    while True:
                        if len(made) >= cap or len(self.trace.calls) >= self.max_calls:
                            terminal = LIMIT
                            break
                        turn_start = self._fingerprint()
                        # A write that said WANT_* is retried with the same buffer.
                        retry = first_of.get(id(entry), False) and entry.op == "write"
                        call = self.call(
                            entry.endpoint,
                            entry.op,
                            size=None if retry else entry.size,
                            data=None if retry else entry.data,
                        )
                        first_of[id(entry)] = True
                        made.append(call)
                        outcomes[entry.endpoint].append(call.outcome)
                        self._move_all_links()
                        if not call.outcome.wants:
                            todo.remove(entry)
                            all_wanted = False
                            break
                        if self.turns != "drain" or self._fingerprint() == turn_start:
                            break
                    if terminal is not None:
                        break
                if (terminal is None and todo and all_wanted and self._fingerprint() == before
                        and not self._wait_for_peers()):
                    terminal = DEADLOCK
        finally:
            self.delivery = saved
        if terminal is not None:
            for entry in todo:
                outcomes[entry.endpoint].append(terminal)
        name = terminal.error if terminal is not None else None
        self.trace.add(RunEnd(len(made), name, self.step))
        return RunResult(outcomes=outcomes, terminal=name, calls=made)

    def handshake(self) -> RunResult:
        """Run ``client connect`` and ``server accept`` to completion (or a terminal)."""
        return self.run([("client", "connect"), ("server", "accept")])
