"""The pair: two endpoints, two links, and the basic events that change them.

Theory of operation
-------------------
A :class:`Pair` holds two endpoints (``client`` and ``server``) and two links, one per
direction, made by :mod:`biopair.engine.builder`.  Its basic events change its state, and
each is explicit:

* a **call**: one SSL function on one endpoint.  Afterwards every link *pulls* what its
  sender wrote, so the trace can say how many bytes the call put on the wire.  A call
  never delivers bytes.
* a **move**: a link hands queued bytes to its receiver (all of them, or a limit).
* a link change: ``eof`` (the receiver sees EOF once the queue is drained), ``pause`` and
  ``resume`` (a paused link delivers nothing), ``hold`` (delivers nothing until a
  condition visible on the wire is true), ``fault`` (arm a byte edit on a link).

A ``run`` (:mod:`biopair.engine.runloop`) interleaves calls and moves automatically, and
every choice it makes is its :class:`~biopair.engine.schedule.Schedule`'s.  Everything is
deterministic: with the deterministic test PKI the same scenario makes the same calls and
moves the same bytes on every run.

A pair owns no reference cycle: its links, endpoints, trace and recorder callbacks refer
to one another only downwards (the recorder reads a :class:`~biopair.engine.recorder.Clock`,
hold conditions a :class:`Sides` view), so a closed pair is freed by reference counting.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from OpenSSL import SSL

from biopair.endpoints.config import READ_OPS, WRITE_OPS, EndpointConfig
from biopair.endpoints.protocol import Endpoint, RawResult, WriteData
from biopair.engine import builder, recorder, runloop
from biopair.engine.builder import LINK_KINDS
from biopair.engine.recorder import Clock
from biopair.engine.runloop import RunEntry, RunResult
from biopair.engine.schedule import DELIVER_NAMES, TURNS, Deliver, Delivery, Schedule
from biopair.engine.trace import (
    Call,
    EndpointEvent,
    FaultEvent,
    HoldEvent,
    LinkEvent,
    MoveEvent,
    RunEnd,
    Trace,
)
from biopair.tls.parser import Parser
from biopair.transport.faults import Fault
from biopair.transport.holds import Condition
from biopair.transport.link import Link, parse_direction
from biopair.transport.wire import PeerLink

__all__ = ["DEFAULT_MAX_CALLS", "DELIVER_NAMES", "LINK_KINDS", "TURNS", "Deliver", "Delivery",
           "Pair", "RunEntry", "RunResult", "Schedule", "Sides"]

DEFAULT_MAX_CALLS = 100_000
#: Ops whose call record keeps the bytes read rather than the bytes offered (the rule
#: is config.READ_OPS; a frozenset because every call asks).
_READ_OPS = frozenset(READ_OPS)
_WRITE_OPS = frozenset(WRITE_OPS)
#: Builds a NamedTuple record from all its fields at once, skipping the generated
#: ``__new__`` (a Python frame per call and per move).
_new_tuple: Any = tuple.__new__


class Sides:
    """What hold conditions see of a pair (:class:`~biopair.transport.holds.SidesView`):
    each side's sent and received streams as the wire parser reads them, and its state."""

    __slots__ = ("_endpoints", "_inbound", "_outbound")

    def __init__(self, links: Mapping[str, Link], endpoints: Mapping[str, Endpoint]) -> None:
        self._endpoints = endpoints
        self._outbound = {parse_direction(d)[0]: link for d, link in links.items()}
        self._inbound = {parse_direction(d)[1]: link for d, link in links.items()}

    def sent(self, endpoint: str) -> Parser:
        """What ``endpoint`` wrote (pulled from it)."""
        return self._outbound[endpoint].sent

    def received(self, endpoint: str) -> Parser:
        """What was handed to ``endpoint``."""
        return self._inbound[endpoint].rx_watcher

    def state_string(self, endpoint: str) -> str | None:
        """SSL_state_string_long() of ``endpoint`` (None where its stack does not say)."""
        return self._endpoints[endpoint].state_string()


class Pair:
    """Two endpoints joined by two links, and the scheduler that drives them.

    Args:
        client: client settings (defaults: verify ``server.test`` against the test CA).
        server: server settings (default: an Ed25519 certificate for ``server.test``).
        deliver: the run delivery policy (see :class:`~biopair.engine.schedule.Delivery`).
        turns: ``"alternate"`` or ``"drain"``.  (Both make the pair's default
            :class:`~biopair.engine.schedule.Schedule`; :attr:`schedule` may be replaced
            by any other before a run.)
        max_calls: the cap on calls over the pair's life; reaching it ends a run with LIMIT.
        record: keep move and link events in the trace (calls are always kept).
        protocol: also record the protocol as OpenSSL and the wire show it (records,
            handshake messages, alerts, states, secrets for pcapng); default: ``record``.
        contexts: prepared Contexts by endpoint name, e.g. to share session-ticket keys
            with an earlier pair for resumption; built from the settings if absent.
        link: ``"memory"`` (memory BIOs: writes never block), ``"bio-pair"`` (libssl
            endpoints on bounded BIO pairs) or ``"socket"`` (each
            endpoint on a socketpair with the smallest send buffer the kernel allows, so a
            writer that is not drained gets WANT_WRITE; see
            :class:`~biopair.transport.socket.SocketLink`).
        socket_buffer: on a socket link, the SO_SNDBUF each endpoint's socket asks for
            (default: the smallest the kernel allows); a larger window lets several
            records through before OpenSSL answers WANT_WRITE.
        bio_pair_size: on ``link = "bio-pair"``, the bytes each way of the BIO pair every
            libssl endpoint sits on (see :mod:`biopair.transport.biopair`).
        send_cap: on a memory link, the most output bytes each callback-I/O endpoint
            (wolfSSL, tlslite-ng) holds until the link takes them: its sends beyond are
            told "would block", a genuine WANT_WRITE (None: unbounded).

    Raises:
        ValueError: for an unknown ``turns`` or ``link``, or a ``send_cap`` no endpoint
            takes.

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
        bio_pair_size: int | None = None,
        send_cap: int | None = None,
    ) -> None:
        if turns not in TURNS:
            raise ValueError(f"turns must be one of {TURNS}, not {turns!r}")
        protocol_on = record if protocol is None else protocol
        parts = builder.build(client, server, contexts=contexts or {}, link=link,
                              socket_buffer=socket_buffer, trace_hooks=protocol_on,
                              bio_pair_size=bio_pair_size, send_cap=send_cap)
        self.endpoints: dict[str, Endpoint] = parts.endpoints
        self.links: dict[str, Link] = parts.links
        self.link_kind = parts.link_kind
        self._ends = parts.sockets
        self._link_list = tuple(self.links.values())
        self._out_link = {parse_direction(d)[0]: link for d, link in self.links.items()}
        self._in_link = {parse_direction(d)[1]: link for d, link in self.links.items()}
        # What a call needs of its endpoint, looked up once: the endpoint, its outbound
        # link, and how to count its unread input.
        self._wiring = {
            name: (ep, self._out_link[name],
                   self._in_link[name].pending_counter or self._in_link[name].receiver_pending)
            for name, ep in self.endpoints.items()
        }
        self._peer_links = tuple(lk for lk in self._link_list if isinstance(lk, PeerLink))
        self._sides = Sides(self.links, self.endpoints)
        # Bumped by every event that changes what a call could see: bytes sent, consumed
        # or delivered, an EOF reaching a receiver.  A run round that leaves it unchanged
        # while every entry said WANT_* is a DEADLOCK (after external peers had their
        # chance to answer: see wait_for_peers).
        self.progress = 0
        self.schedule = Schedule(deliver, turns)
        self.max_calls = max_calls
        self.trace = Trace(link=self.link_kind, record=record,
                           stacks={name: ep.stack for name, ep in self.endpoints.items()})
        self._clock = Clock()
        self._holding = False  # set while any link is held (checked after every call)
        self._faulty = False  # set once a fault is armed on any link
        #: faults that could not apply once their record was seen (runner: a failure).
        self.refused: list[FaultEvent] = []
        #: the application bytes each endpoint's writes and sends returned as written
        #: (what the transport oracle compares with what the other side received).
        self.sent: dict[str, bytearray] = {name: bytearray() for name in self.endpoints}
        if protocol_on:
            recorder.attach(self.trace, self.links, self.endpoints, self._clock)

    @property
    def delivery(self) -> Delivery:
        """The pair's delivery policy (its schedule's)."""
        return self.schedule.delivery

    @property
    def turns(self) -> str:
        """The pair's turn rule (its schedule's)."""
        return self.schedule.turns

    @property
    def step(self) -> int | None:
        """The index of the scenario step being run (stamped on every event)."""
        return self._clock.step

    @step.setter
    def step(self, value: int | None) -> None:
        self._clock.step = value

    @property
    def in_call(self) -> bool:
        """True while an SSL call runs (trace events made then belong to that call)."""
        return self._clock.call is not None

    @property
    def holds(self) -> dict[str, Condition]:
        """The hold condition of each held link, by direction."""
        return {d: link.until for d, link in self.links.items() if link.until is not None}

    # -- context management -------------------------------------------------------------
    def close(self) -> None:
        """Release links, endpoints (kill peer processes) and sockets; idempotent."""
        for link in self._link_list:
            link.close()
        builder.release(self.endpoints, self._ends)

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
        data: WriteData | None = None,
        buffer: str = "auto",
    ) -> Call:
        """Make one SSL call on ``endpoint``, then pull what it wrote onto the links.

        Returns:
            The recorded :class:`~biopair.engine.trace.Call`.
        """
        return self.caller(endpoint, op, size, data, buffer)()

    def caller(self, endpoint: str, op: str, size: int | None = None,
               data: WriteData | None = None, buffer: str = "auto") -> Callable[[], Call]:
        """A callable that makes ``call(endpoint, op, size=size, data=data,
        buffer=buffer)`` each time it is called, with every lookup made once.

        A run prepares one per entry: its calls are the hot path of every run (a bytewise
        handshake makes thousands).  The callable refers to the pair; the pair does not
        keep it (that would be a reference cycle).

        Returns:
            A callable returning the recorded :class:`~biopair.engine.trace.Call`.
        """
        ep, outbound, pending_of = self._wiring[endpoint]
        prepare = getattr(ep, "caller", None)
        raw_call: Callable[[], RawResult] = (
            prepare(op, size, data, buffer) if prepare is not None
            else functools.partial(ep.call, op, size=size, data=data, buffer=buffer))
        pull = outbound.pull
        trace = self.trace
        calls = trace.calls
        events = trace.events
        clock = self._clock
        reads = op in _READ_OPS
        writes = op in _WRITE_OPS
        offered = data or b""
        pair = self
        sent_log = self.sent[endpoint]

        def make_call() -> Call:
            pending = pending_of()
            # A paused socket link does not drain its sender: bytes the call wrote then
            # wait in the sender's socket, and only its fill level shows that the call
            # made progress.
            paused = outbound.paused
            stalled = outbound.sender_pending() if paused else 0
            seq = clock.call = len(calls)
            try:
                raw = raw_call()
                sent = pull()
            finally:
                clock.call = None
            consumed = pending - pending_of()
            if sent or consumed or (paused and outbound.sender_pending() != stalled):
                pair.progress += 1
            # Unpacked and positional: this runs once per SSL call, thousands of times in a
            # bytewise run (one unpack costs less than five field lookups).
            ret, error, reasons, _errno, read, view = raw
            if writes and ret is not None and ret > 0:
                sent_log.extend(ep.write_data[:ret])
            record: Call = _new_tuple(Call, (
                seq, endpoint, op, ret, error, reasons, view, read if reads else offered,
                sent, consumed, clock.step))
            calls.append(record)
            events.append(record)
            if pair._faulty or pair._holding:
                pair._after_bytes()
            return record

        return make_call

    def move(self, direction: str, nbytes: int | str | None = None) -> int:
        """Hand up to ``nbytes`` (all if None) queued bytes on ``direction`` to the receiver.

        ``nbytes`` may also name a stop point (:data:`biopair.tls.framing.STOPS`): ``"record"``,
        ``"record-1"``, ``"header"`` or ``"header-1"``.

        Returns:
            Bytes delivered.
        """
        return self.move_link(self.links[direction], nbytes, True)

    def move_link(self, link: Link, nbytes: int | str | None, pull: bool) -> int:
        """Move bytes on one of the pair's links: :meth:`move`, and the moves a run's
        schedule chooses (which pull only from an external peer, whose bytes arrive on
        their own: the call before them already pulled the rest).

        Returns:
            Bytes delivered.
        """
        if pull:
            link.pull()
            if self._faulty or self._holding:
                self._after_bytes()
        return self.mover(link)(nbytes)

    def mover(self, link: Link) -> Callable[[int | str | None], int]:
        """A callable making ``move_link(link, nbytes, False)`` each time it is called
        with ``nbytes``, with every lookup made once.

        A run prepares one per link: a bytewise run moves after nearly every call.  The
        callable refers to the pair; the pair does not keep it (a reference cycle).
        """
        deliver = link.deliver
        queue = link.queue
        name = link.name
        trace = self.trace
        events = trace.events
        record = trace.record
        clock = self._clock
        pair = self

        def move(nbytes: int | str | None) -> int:
            was_closed = link.closed
            if isinstance(nbytes, str):
                nbytes = 0 if link.paused or link.held else link.rx.stop(queue, nbytes)
            moved = deliver(nbytes)
            closed = link.closed
            if moved or closed != was_closed:
                pair.progress += 1
            if (moved or nbytes != 0) and record:
                events.append(_new_tuple(MoveEvent, (name, moved, len(queue), clock.step)))
            if closed and not was_closed:
                trace.add(LinkEvent("closed", name, clock.step))
            if moved and (pair._faulty or pair._holding):
                pair._after_bytes()
            return moved

        return move

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
        self.links[direction].until = until
        self._holding = True
        self.trace.add(HoldEvent("hold", direction, until.text(), self._clock.step))
        self._check_holds()

    def _check_holds(self) -> None:
        holding = False
        for direction, link in self.links.items():
            until = link.until
            if until is None:
                continue
            if until.holds(self._sides):
                link.until = None
                self.trace.add(HoldEvent("release", direction, until.text(), self._clock.step))
            else:
                holding = True
        self._holding = holding

    def _after_bytes(self) -> None:
        # Put applied faults in the trace, signal EOFs they asked for, release holds.
        for direction, link in self.links.items():
            for applied in link.fault_log:
                event = FaultEvent(applied.fault.kind, direction, applied.offset,
                                   applied.record, applied.detail, self._clock.step)
                self.trace.add(event)
                if applied.detail.startswith("not applied"):
                    self.refused.append(event)
            link.fault_log.clear()
            if link.engine.eof and not link.eof:
                self.eof(direction)
        if self._holding:
            self._check_holds()

    def junk(self, endpoint: str, data: bytes) -> int:
        """Write ``data`` straight into ``endpoint``'s own input (the BIO or socket it
        reads from), outside the peer's stream: no fault, hold or parser of the link sees
        it, and the next call reads it before anything the peer sends afterwards.

        Returns:
            Bytes the input accepted (a full socket may take fewer).
        """
        link = self._in_link[endpoint]
        accepted = link.give_receiver(data)
        if accepted:
            self.progress += 1
        shown = data[:16].hex() + ("..." if len(data) > 16 else "")
        self.trace.add(EndpointEvent("junk", endpoint, f"{len(data)} bytes {shown} "
                                                       f"({accepted} accepted)",
                                     self._clock.step))
        return accepted

    def change_modes(self, endpoint: str, set_modes: tuple[str, ...] = (),
                     clear_modes: tuple[str, ...] = (),
                     set_options: tuple[str, ...] = ()) -> None:
        """Change modes and options of ``endpoint``'s live connection: clear, then set,
        then options (:meth:`~biopair.endpoints.protocol.Endpoint.change_modes`)."""
        self.endpoints[endpoint].change_modes(set_modes, clear_modes, set_options)
        detail = "; ".join(f"{what} {' '.join(names)}" for what, names in (
            ("clear", clear_modes), ("set", set_modes), ("options", set_options)) if names)
        self.trace.add(EndpointEvent("modes", endpoint, detail, self._clock.step))

    def eof(self, direction: str) -> None:
        """Close ``direction``: its receiver sees EOF once the queued bytes are delivered."""
        link = self.links[direction]
        self.trace.add(LinkEvent("eof", direction, self._clock.step))
        was_closed = link.closed
        link.request_eof()
        if link.closed and not was_closed:
            self.progress += 1
            self.trace.add(LinkEvent("closed", direction, self._clock.step))

    def pause(self, direction: str) -> None:
        """Stop delivering on ``direction`` until :meth:`resume` (a socket link also stops
        draining its sender, whose buffer then fills: WANT_WRITE)."""
        self.links[direction].paused = True
        self.trace.add(LinkEvent("pause", direction, self._clock.step))

    def resume(self, direction: str) -> None:
        """Deliver on ``direction`` again (also ends a :meth:`hold`; a socket link also
        drains its sender again)."""
        link = self.links[direction]
        link.paused = False
        link.until = None
        self.trace.add(LinkEvent("resume", direction, self._clock.step))
        link.pull()

    # -- what a run needs (runloop.Driver) ------------------------------------------------
    @property
    def calls_made(self) -> int:
        """Calls over the pair's life."""
        return len(self.trace.calls)

    @property
    def link_states(self) -> tuple[Link, ...]:
        """The links, in direction order (what a schedule's moves choose from)."""
        return self._link_list

    def write_data(self, endpoint: str) -> WriteData:
        """The payload of ``endpoint``'s pending write."""
        return self.endpoints[endpoint].write_data

    def wait_for_peers(self) -> bool:
        """Before a quiet round is a DEADLOCK, let each external peer answer (bounded).

        Returns:
            True if any peer sent a byte or an EOF (progress).
        """
        waited = [link.wait_for_bytes() for link in self._peer_links]
        return any(waited)

    def end_run(self, calls: int, terminal: str | None) -> None:
        """Record the end of a run."""
        self.trace.add(RunEnd(calls, terminal, self._clock.step))

    def stranded(self) -> list[str]:
        """Where bytes wait inside endpoints that can tell (wrapper endpoints offer
        ``stranded()``: their buffers, SSL_pending, an unread socket buffer), each as
        ``ENDPOINT: where``; empty for every other stack (then a stall is a DEADLOCK)."""
        found: list[str] = []
        for name, ep in self.endpoints.items():
            probe = getattr(ep, "stranded", None)
            if probe is not None:
                found.extend(f"{name}: {where}" for where in probe())
        return found

    # -- runs ---------------------------------------------------------------------------
    def run(
        self,
        entries: Sequence[RunEntry | tuple[str, str]],
        *,
        deliver: Deliver | None = None,
        max_calls: int | None = None,
        schedule: Schedule | None = None,
    ) -> RunResult:
        """Interleave calls and moves until every entry stops saying WANT_*.

        Args:
            entries: (endpoint, op) pairs or :class:`RunEntry` values, in turn order.
            deliver: a delivery policy for this run only.
            max_calls: a call cap for this run only.
            schedule: a schedule for this run only (default: :attr:`schedule`, with
                ``deliver`` if given).

        Returns:
            The :class:`RunResult`; a stall ends it with ``DEADLOCK``, the cap with ``LIMIT``.
        """
        if schedule is None:
            schedule = (self.schedule if deliver is None
                        else self.schedule.with_delivery(deliver))
        cap = max_calls if max_calls is not None else self.max_calls
        return runloop.run(self, entries, schedule, cap)

    def handshake(self) -> RunResult:
        """Run ``client connect`` and ``server accept`` to completion (or a terminal)."""
        return self.run([("client", "connect"), ("server", "accept")])
