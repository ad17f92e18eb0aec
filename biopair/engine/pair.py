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
when its call returns anything but WANT_*; a write entry that wrote only part of its
bytes (SSL_MODE_ENABLE_PARTIAL_WRITE) goes on with the rest, in a new buffer, so its
outcomes are the byte counts OpenSSL returned (``16384 16384 7232``).  A write entry
retried after WANT_* passes the same buffer again.  The run ends when every entry has finished,
or with a terminal outcome:

* ``DEADLOCK``: a whole round in which every entry still running said WANT_* and nothing
  changed: no call sent or consumed a byte, no move delivered one, no EOF reached a
  receiver.  OpenSSL is deterministic, so calling again could only repeat the same
  answers: a stall is a result, never a hang;
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

from biopair.endpoints import registry
from biopair.endpoints.config import READ_OPS, EndpointConfig
from biopair.endpoints.protocol import Endpoint
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.engine import builder, recorder
from biopair.engine.trace import Call, FaultEvent, HoldEvent, LinkEvent, MoveEvent, RunEnd, Trace
from biopair.outcome import DEADLOCK, LIMIT, Outcome
from biopair.transport.faults import Fault
from biopair.transport.holds import Condition
from biopair.transport.link import DIRECTIONS, parse_direction, share_sessions
from biopair.transport.memory import MemoryLink
from biopair.transport.socket import SocketEnds, SocketLink
from biopair.transport.wire import PeerLink

#: Delivery policy names (``records``: one whole TLS record per move).
DELIVER_NAMES = ("all", "bytewise", "records")
#: Turn-taking rules for a run.
TURNS = ("alternate", "drain")
#: Link kinds: unbounded memory BIOs, or bounded AF_UNIX socketpairs (genuine WANT_WRITE).
LINK_KINDS = ("memory", "socket")
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

    def next_size(self, direction: str) -> int | str | None:
        """Bytes for the next move on ``direction`` (None: everything queued; ``"record"``:
        up to the end of the current record)."""
        policy = self.policy
        if policy == "all":
            return None
        if policy == "bytewise":
            return 1
        if policy == "records":
            return "record"
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
        protocol: also record the protocol as OpenSSL and the wire show it (records,
            handshake messages, alerts, states, secrets for pcapng); default: ``record``.
        contexts: prepared Contexts by endpoint name, e.g. to share session-ticket keys
            with an earlier pair for resumption; built from the settings if absent.
        link: ``"memory"`` (memory BIOs: writes never block) or ``"socket"`` (each
            endpoint on a socketpair with the smallest send buffer the kernel allows, so a
            writer that is not drained gets WANT_WRITE; see
            :class:`~biopair.transport.socket.SocketLink`).
        socket_buffer: on a socket link, the SO_SNDBUF each endpoint's socket asks for
            (default: the smallest the kernel allows); a larger window lets several
            records through before OpenSSL answers WANT_WRITE.

    Raises:
        ValueError: for an unknown ``turns`` or ``link``.

    Example::

        with Pair(deliver="bytewise") as pair:
            result = pair.run([("client", "connect"), ("server", "accept")])
            assert result.terminal is None
    """

    def __init__(
        self,
        client: EndpointConfig | None = None,
        server: EndpointConfig | None = None,
        *,
        deliver: Deliver = "all",
        turns: str = "alternate",
        max_calls: int = DEFAULT_MAX_CALLS,
        record: bool = True,
        protocol: bool | None = None,
        contexts: Mapping[str, SSL.Context] | None = None,
        link: str = "memory",
        socket_buffer: int | None = None,
    ) -> None:
        if turns not in TURNS:
            raise ValueError(f"turns must be one of {TURNS}, not {turns!r}")
        if link not in LINK_KINDS:
            raise ValueError(f"link must be one of {LINK_KINDS}, not {link!r}")
        self.link_kind = link
        contexts = contexts or {}
        protocol_on = record if protocol is None else protocol
        self._ends: dict[str, SocketEnds] = {}
        try:
            if link == "socket":
                for name in ("client", "server"):
                    self._ends[name] = (SocketEnds() if socket_buffer is None
                                        else SocketEnds(socket_buffer))
            # Endpoints of other stacks (stdlib ssl, external peers) come from
            # biopair.stacks; pyOpenSSL ones sit on memory BIOs or on their socket.
            self.endpoints: dict[str, Endpoint] = registry.make_endpoints(
                client or EndpointConfig(role="client"),
                server or EndpointConfig(role="server"),
                contexts,
                socks={name: self._socket(name) for name in ("client", "server")},
                trace_hooks=protocol_on,
            )
        except BaseException:
            for ends in self._ends.values():
                ends.close()
            raise
        try:
            self.links = (builder.make_links(self.endpoints) if builder.mixed(self.endpoints)
                          else self._make_links())
        except BaseException:
            self.close()
            raise
        share_sessions(self.links.values())
        if builder.mixed(self.endpoints):
            self.link_kind = builder.link_kind(self.endpoints)
        self._out_link = {parse_direction(d)[0]: link for d, link in self.links.items()}
        self._in_link = {parse_direction(d)[1]: link for d, link in self.links.items()}
        # Bumped by every event that changes what a call could see: bytes sent, consumed
        # or delivered, an EOF reaching a receiver.  A run round that leaves it unchanged
        # while every entry said WANT_* is a DEADLOCK (after external peers had their
        # chance to answer: see _wait_for_peers).
        self._progress = 0
        self.delivery = Delivery(deliver)
        self.turns = turns
        self.max_calls = max_calls
        self.trace = Trace(link=self.link_kind, record=record)
        self.step: int | None = None
        self.holds: dict[str, Condition] = {}
        self._faulty = False  # set once a fault is armed on any link
        #: faults that could not apply once their record was seen (runner: a failure).
        self.refused: list[FaultEvent] = []
        #: True while an SSL call runs (trace events made then belong to that call).
        self.in_call = False
        if protocol_on:
            recorder.attach(self)

    def _socket(self, name: str) -> Any:
        ends = self._ends.get(name)
        return ends.endpoint if ends is not None else None

    def _make_links(self) -> dict[str, Any]:
        links: dict[str, Any] = {}
        for direction in DIRECTIONS:
            sender, receiver = parse_direction(direction)
            ends = (self.endpoints[sender], self.endpoints[receiver])
            # Only two pyOpenSSL endpoints get here (see builder.mixed).
            assert isinstance(ends[0], PyOpenSSLEndpoint)
            assert isinstance(ends[1], PyOpenSSLEndpoint)
            conns = (ends[0].conn, ends[1].conn)
            if self.link_kind == "socket":
                links[direction] = SocketLink(
                    direction, *conns, source=self._ends[sender], sink=self._ends[receiver]
                )
            else:
                links[direction] = MemoryLink(direction, *conns)
        return links

    # -- context management -------------------------------------------------------------
    def close(self) -> None:
        """Release links, endpoints (kill peer processes) and sockets; idempotent."""
        for link in getattr(self, "links", {}).values():
            link.close()
        for ep in getattr(self, "endpoints", {}).values():
            close = getattr(ep, "close", None)
            if close is not None:
                close()
        for ends in self._ends.values():
            ends.close()

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
            The recorded :class:`~biopair.endpoints.pyopenssl.Call`.
        """
        ep = self.endpoints[endpoint]
        inbound = self._in_link[endpoint]
        outbound = self._out_link[endpoint]
        pending = inbound.receiver_pending()
        # A paused socket link does not drain its sender: bytes the call wrote then wait in
        # the sender's socket, and only its fill level shows that the call made progress.
        stalled = outbound.sender_pending() if outbound.paused else 0
        self.in_call = True
        try:
            raw = ep.call(op, size=size, data=data, buffer=buffer)
            sent = outbound.pull()
        finally:
            self.in_call = False
        consumed = pending - inbound.receiver_pending()
        if sent or consumed or (outbound.paused and outbound.sender_pending() != stalled):
            self._progress += 1
        trace = self.trace
        # Positional: this runs once per SSL call, thousands of times in a bytewise run.
        record = Call(
            len(trace.calls),  # seq
            endpoint,
            op,
            raw.ret,
            raw.error,
            raw.reasons,
            raw.pyopenssl,
            raw.data if op in READ_OPS else (data or b""),
            sent,
            consumed,
            self.step,
        )
        trace.calls.append(record)
        trace.events.append(record)
        if self._faulty or self.holds:
            self._after_bytes()
        return record

    def move(self, direction: str, nbytes: int | str | None = None) -> int:
        """Hand up to ``nbytes`` (all if None) queued bytes on ``direction`` to the receiver.

        ``nbytes`` may also name a stop point (:data:`biopair.tls.framing.STOPS`): ``"record"``,
        ``"record-1"``, ``"header"`` or ``"header-1"``.

        Returns:
            Bytes delivered.
        """
        return self._move(direction, nbytes, pull=True)

    def _move(self, direction: str, nbytes: int | str | None, *, pull: bool) -> int:
        link = self.links[direction]
        if pull:
            link.pull()
            if self._faulty or self.holds:
                self._after_bytes()
        was_closed = link.closed
        if isinstance(nbytes, str):
            nbytes = 0 if link.paused or link.held else link.rx.stop(link.queue, nbytes)
        moved = int(link.deliver(nbytes))
        if moved or link.closed != was_closed:
            self._progress += 1
        if (moved or nbytes != 0) and self.trace.record:
            self.trace.events.append(MoveEvent(direction, moved, len(link.queue), self.step))
        if link.closed and not was_closed:
            self.trace.add(LinkEvent("closed", direction, self.step))
        if moved and (self._faulty or self.holds):
            self._after_bytes()
        return moved

    def fault(self, fault: Fault) -> Fault:
        """Arm a fault on its link (:mod:`biopair.transport.faults`); it applies as its bytes pass.

        Returns:
            The armed fault.

        Raises:
            FaultError: when the bytes it names have already passed.
        """
        self._faulty = True
        armed: Fault = self.links[fault.direction].arm(fault)
        self._after_bytes()
        return armed

    def hold(self, direction: str, until: Condition) -> None:
        """Deliver nothing on ``direction`` until ``until`` is true (checked after every
        call and move); released at once if it already is."""
        self.links[direction].held = True
        self.holds[direction] = until
        self.trace.add(HoldEvent("hold", direction, until.text(), self.step))
        self._check_holds()

    def _check_holds(self) -> None:
        for direction, until in list(self.holds.items()):
            if until.holds(self):
                del self.holds[direction]
                self.links[direction].held = False
                self.trace.add(HoldEvent("release", direction, until.text(), self.step))

    def _after_bytes(self) -> None:
        # Put applied faults in the trace, signal EOFs they asked for, release holds.
        for direction, link in self.links.items():
            for applied in link.fault_log:
                event = FaultEvent(applied.fault.kind, direction, applied.offset,
                                   applied.record, applied.detail, self.step)
                self.trace.add(event)
                if applied.detail.startswith("not applied"):
                    self.refused.append(event)
            link.fault_log.clear()
            if link.engine.eof and not link.eof:
                self.eof(direction)
        if self.holds:
            self._check_holds()

    def eof(self, direction: str) -> None:
        """Close ``direction``: its receiver sees EOF once the queued bytes are delivered."""
        link = self.links[direction]
        self.trace.add(LinkEvent("eof", direction, self.step))
        was_closed = link.closed
        link.request_eof()
        if link.closed and not was_closed:
            self._progress += 1
            self.trace.add(LinkEvent("closed", direction, self.step))

    def pause(self, direction: str) -> None:
        """Stop delivering on ``direction`` until :meth:`resume` (a socket link also stops
        draining its sender, whose buffer then fills: WANT_WRITE)."""
        self.links[direction].paused = True
        self.trace.add(LinkEvent("pause", direction, self.step))

    def resume(self, direction: str) -> None:
        """Deliver on ``direction`` again (also ends a :meth:`hold`; a socket link also
        drains its sender again)."""
        self.holds.pop(direction, None)
        link = self.links[direction]
        link.paused = link.held = False
        self.trace.add(LinkEvent("resume", direction, self.step))
        link.pull()

    def _move_all_links(self) -> None:
        # Every link was pulled right after the call that filled it, so these moves skip
        # the pull (a run makes one per call) -- except from an external peer, whose
        # bytes arrive on their own; only a link with something to hand over moves.
        for direction, link in self.links.items():
            if link.paused or link.held:
                continue
            if link.queue:
                size = self.delivery.next_size(direction)
            elif link.eof and not link.closed:
                size = 0
            else:
                continue
            self._move(direction, size, pull=link.waits)

    def _wait_for_peers(self) -> bool:
        # An external peer answers asynchronously: before a quiet round is a DEADLOCK,
        # each peer link waits (bounded) for bytes; any byte or EOF is progress.
        waited = [link.wait_for_bytes() for link in self.links.values()
                  if isinstance(link, PeerLink)]
        return any(waited)

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
        per_entry: dict[str, list[Call]] = {e.endpoint: [] for e in todo}
        made: list[Call] = []
        terminal: Outcome | None = None
        first_of: dict[int, bool] = {}
        rest: dict[int, bytes] = {}
        try:
            while todo and terminal is None:
                before = self._progress
                all_wanted = True
                drain = self.turns == "drain"
                for entry in list(todo):
                    while True:
                        if len(made) >= cap or len(self.trace.calls) >= self.max_calls:
                            terminal = LIMIT
                            break
                        turn_start = self._progress
                        # A write that said WANT_* is retried with the same buffer; one
                        # that wrote part of its bytes (ENABLE_PARTIAL_WRITE) goes on
                        # with the rest, as an application would.
                        retry = first_of.get(id(entry), False) and entry.op in (
                            "write", "write_early_data")
                        data = rest.pop(id(entry), None)
                        call = self.call(
                            entry.endpoint,
                            entry.op,
                            size=None if retry or data is not None else entry.size,
                            data=data if data is not None else None if retry else entry.data,
                        )
                        first_of[id(entry)] = True
                        made.append(call)
                        per_entry[entry.endpoint].append(call)
                        self._move_all_links()
                        done = call.ret
                        if entry.op == "write" and done is not None and done > 0:
                            written = self.endpoints[entry.endpoint].write_data
                            if done < len(written):
                                rest[id(entry)] = written[done:]
                        if not call.wants and id(entry) not in rest:
                            todo.remove(entry)
                            all_wanted = False
                            break
                        if not drain or self._progress == turn_start:
                            break
                    if terminal is not None:
                        break
                if (terminal is None and todo and all_wanted and self._progress == before
                        and not self._wait_for_peers()):
                    terminal = DEADLOCK
        finally:
            self.delivery = saved
        outcomes = {name: [c.outcome for c in calls] for name, calls in per_entry.items()}
        if terminal is not None:
            for entry in todo:
                outcomes[entry.endpoint].append(terminal)
        name = terminal.error if terminal is not None else None
        self.trace.add(RunEnd(len(made), name, self.step))
        return RunResult(outcomes=outcomes, terminal=name, calls=made)

    def handshake(self) -> RunResult:
        """Run ``client connect`` and ``server accept`` to completion (or a terminal)."""
        return self.run([("client", "connect"), ("server", "accept")])
