"""The trace: every event of a run, in order, and its JSON form.

Calls are :class:`~biopair.endpoints.pyopenssl.Call` records; the other events say what happened to
the bytes between calls.  All events are frozen dataclasses with a ``to_json`` method, and
nothing in a trace depends on time or addresses, so two runs of a deterministic scenario
produce equal traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from biopair.endpoints.config import READ_OPS
from biopair.endpoints.protocol import WriteData
from biopair.outcome import Outcome, format_outcome, format_reasons, format_ret, wants
from biopair.tls.parser import RecordView


class Call(NamedTuple):
    """One SSL call and what it returned: the record every trace and report is built from.

    Immutable like the other events; a NamedTuple rather than a frozen dataclass because a
    bytewise run makes thousands and a frozen dataclass costs three times as much to build.

    Attributes:
        seq: position among all calls of the run (0-based).
        endpoint: "client" or "server".
        op: the scenario op (``connect``, ``read``, ...).
        ret: the raw C return value; None where the stack hides it (stdlib ``ssl``).
        error: SSL_get_error() name, or None where not asked.
        reasons: the error queue's reason strings.
        pyopenssl: what pyOpenSSL's public method would have raised or returned.
        data: bytes read (read/peek) or offered (write: what the caller passed, ``b""``
            for a generated payload; for a write that goes on after a partial write, a
            read-only ``memoryview`` of the entry's payload -- every such call shares the
            one payload, ``bytes(call.data)`` makes a copy).
        sent: bytes the endpoint put on its link during the call.
        consumed: bytes the call took from the endpoint's input (memory BIO or socket).
        step: index of the scenario step that made the call, if any.
    """

    seq: int
    endpoint: str
    op: str
    ret: int | None
    error: str | None
    reasons: tuple[str, ...]
    pyopenssl: str
    data: WriteData = b""
    sent: int = 0
    consumed: int = 0
    step: int | None = None

    @property
    def wants(self) -> bool:
        """True when OpenSSL asked for the call to be repeated (:func:`biopair.outcome.wants`)."""
        return wants(self.error)

    @property
    def outcome(self) -> Outcome:
        """The call's :class:`~biopair.outcome.Outcome`."""
        return Outcome(self.ret, self.error, self.reasons)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: endpoint, op, ret, error (null where not asked), reasons, ..."""
        return {
            "seq": self.seq,
            "step": self.step,
            "endpoint": self.endpoint,
            "op": self.op,
            "ret": self.ret,
            "error": self.error,
            "reasons": list(self.reasons),
            "pyopenssl": self.pyopenssl,
            "sent": self.sent,
            "consumed": self.consumed,
            "data": str(self.data, "latin-1")
            if self.op in READ_OPS else None,
        }


class MoveEvent(NamedTuple):
    """Bytes handed from a link to its receiver (a NamedTuple: there is one per move)."""

    direction: str
    nbytes: int
    queued: int
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "event": "move",
            "step": self.step,
            "direction": self.direction,
            "bytes": self.nbytes,
            "queued": self.queued,
        }


@dataclass(frozen=True)
class LinkEvent:
    """A change to a link: ``eof``, ``closed`` (EOF reached the receiver), ``pause``, ``resume``."""

    kind: str
    direction: str
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": self.kind, "step": self.step, "direction": self.direction}


@dataclass(frozen=True)
class RunEnd:
    """The end of a ``run`` step: how many calls it made and its terminal, if any."""

    calls: int
    terminal: str | None
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "run-end", "step": self.step, "calls": self.calls,
                "terminal": self.terminal}


@dataclass(frozen=True)
class FaultEvent:
    """A fault that applied to a link's bytes (see :mod:`biopair.transport.faults`).

    Attributes:
        kind: the fault kind (``corrupt``, ``drop``, ...).
        direction: the link.
        offset: stream offset (in what the sender wrote) where it applied.
        record: the record index it was addressed to, if any.
        detail: what it did (``xor ff over 1 bytes``, ``dropped 23 bytes``).
    """

    kind: str
    direction: str
    offset: int
    record: int | None
    detail: str
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "fault", "step": self.step, "kind": self.kind,
                "direction": self.direction, "offset": self.offset, "record": self.record,
                "detail": self.detail}


@dataclass(frozen=True)
class HoldEvent:
    """A link held until a condition (``hold``), or released because it became true."""

    kind: str
    direction: str
    condition: str
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": self.kind, "step": self.step, "direction": self.direction,
                "until": self.condition}

@dataclass(frozen=True)
class EndpointEvent:
    """A change a step made to one endpoint outside any SSL call: ``junk`` (bytes written
    into its own input) or ``modes`` (SSL_MODE_*/SSL_OP_* changed on the live connection).

    Attributes:
        kind: ``junk`` or ``modes``.
        endpoint: whose input or connection.
        detail: ``5 bytes 160303ffff (5 accepted)``, ``clear ACCEPT_MOVING_WRITE_BUFFER``.
    """

    kind: str
    endpoint: str
    detail: str
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": self.kind, "step": self.step, "endpoint": self.endpoint,
                "detail": self.detail}


@dataclass(frozen=True)
class RecordEvent(RecordView):
    """A TLS record that appeared on a link (parsed as its sender's bytes were pulled).

    Attributes:
        direction: the link.
        offset: position of the record's first byte in the link's byte stream.
        content_type: ``handshake``, ``application_data``, ... or ``not-tls``.
        length: the header's length field (the record is ``length + 5`` bytes).
        messages: plaintext messages starting in it (``ClientHello``, ...); empty when
            encrypted (the endpoints' :class:`MessageEvent` names those).
        encrypted: True when the payload is protected.
        call: seq of the call that wrote it.
    """

    direction: str
    offset: int
    content_type: str
    length: int
    messages: tuple[str, ...] = ()
    encrypted: bool = False
    call: int | None = None
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "record", "step": self.step, "call": self.call,
                "direction": self.direction, "offset": self.offset,
                "content_type": self.content_type, "length": self.length,
                "messages": list(self.messages), "encrypted": self.encrypted}


@dataclass(frozen=True)
class MessageEvent:
    """A protocol message an endpoint sent or received, as OpenSSL's message callback saw it.

    These are the decrypted messages: in TLS 1.3 they name what the encrypted records on
    the wire carry (EncryptedExtensions, Certificate, Finished, NewSessionTicket).

    Attributes:
        endpoint: who reported it.
        sent: True if the endpoint wrote it, False if it read it.
        content_type: ``handshake`` or ``change_cipher_spec``.
        name: the handshake message's name (``ClientHello``) or ``ChangeCipherSpec``.
        length: the message's length in bytes, its 4-byte handshake header included.
        call: seq of the call during which OpenSSL reported it.
    """

    endpoint: str
    sent: bool
    content_type: str
    name: str
    length: int
    call: int | None = None
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "message", "step": self.step, "call": self.call,
                "endpoint": self.endpoint, "sent": self.sent,
                "content_type": self.content_type, "name": self.name,
                "length": self.length}


@dataclass(frozen=True)
class AlertEvent:
    """An alert an endpoint sent or received (from the message callback, so decrypted).

    Attributes:
        level: ``warning`` or ``fatal``.
        description: ``close_notify``, ``handshake_failure``, ...
    """

    endpoint: str
    sent: bool
    level: str
    description: str
    call: int | None = None
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "alert", "step": self.step, "call": self.call,
                "endpoint": self.endpoint, "sent": self.sent, "level": self.level,
                "description": self.description}


@dataclass(frozen=True)
class StateEvent:
    """A state change the info callback reported.

    Attributes:
        where: ``loop`` (a state-machine step), ``handshake-start`` or ``handshake-done``.
        state: SSL_state_string_long() at that moment.
    """

    endpoint: str
    where: str
    state: str
    call: int | None = None
    step: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"event": "state", "step": self.step, "call": self.call,
                "endpoint": self.endpoint, "where": self.where, "state": self.state}


Event = (Call | MoveEvent | LinkEvent | RunEnd | RecordEvent | MessageEvent | AlertEvent
         | StateEvent | FaultEvent | HoldEvent | EndpointEvent)

#: How a call line in a failure trace names each stack's own view of the call.
STACK_LABELS: dict[str, str] = {
    "pyopenssl": "pyOpenSSL", "stdlib": "ssl", "libssl": "libssl", "wolfssl": "wolfSSL",
    "tlslite-ng": "tlslite-ng",
}


@dataclass
class Trace:
    """The ordered events of one pair's life.

    Attributes:
        events: every event; ``calls`` is the subset that are SSL calls.
        link: the link kind the pair ran on.
        record: when False only calls are kept (cheaper for benchmarks and sweeps).
        wire: every byte each link queued for its receiver, by direction (for pcapng
            export; never in JSON or golden traces: it holds random bytes).
        keylog: NSS key log lines of both endpoints (secrets: never in JSON or golden
            traces).
        stacks: each endpoint's stack, by endpoint name, so a call line names the view
            of its own stack (``[ssl: ...]`` for the stdlib); not in JSON.
    """

    link: str = "memory"
    record: bool = True
    events: list[Event] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    wire: dict[str, bytearray] = field(default_factory=dict)
    keylog: list[str] = field(default_factory=list)
    stacks: dict[str, str] = field(default_factory=dict)

    def add(self, event: Event) -> None:
        """Append an event."""
        if isinstance(event, Call):
            self.calls.append(event)
            self.events.append(event)
        elif self.record:
            self.events.append(event)

    def to_json(self) -> list[dict[str, Any]]:
        """Every event as a JSON-ready dict; calls have ``"event": "call"``."""
        out = []
        for event in self.events:
            item = event.to_json()
            if isinstance(event, Call):
                item = {"event": "call", **item}
            out.append(item)
        return out

    def format_calls(self, collapse: int = 6) -> str:
        """The whole call trace as text, one call a line (used in failure reports).

        Nothing is left out, but a stretch of more than ``collapse`` calls that all said
        WANT_* and sent nothing (a bytewise run waiting for its bytes) is written as one
        summary line per endpoint, with the call numbers it covers.
        """
        lines: list[str] = []
        calls = self.calls
        i = 0
        while i < len(calls):
            j = i
            while j < len(calls) and _quiet(calls[j]):
                j += 1
            if j - i > collapse:
                lines.append(_summary_line(calls[i:j]))
                i = j
                continue
            lines.append(_call_line(calls[i], self.stacks))
            i += 1
        return "\n".join(lines)


def _quiet(call: Call) -> bool:
    return call.wants and not call.sent


def _call_line(c: Call, stacks: dict[str, str] | None = None) -> str:
    step = f"step {c.step + 1}" if c.step is not None else ""
    err = c.error if c.error is not None else "(not asked)"  # a column: short form
    reasons = f" {format_reasons(c.reasons)}" if c.reasons else ""
    io = "".join(
        f" {label} {n}" for label, n in (("took", c.consumed), ("sent", c.sent)) if n
    )
    view = c.pyopenssl if len(c.pyopenssl) <= 100 else c.pyopenssl[:96] + " ..."
    ret = format_ret(c.ret)
    stack = (stacks or {}).get(c.endpoint, "pyopenssl")
    label = STACK_LABELS.get(stack, stack)
    return (f"  #{c.seq:<5} {step:>8} {c.endpoint:>6} {c.op:<11} ret={ret:<6} "
            f"{err}{reasons}{io}  [{label}: {view}]")


def _summary_line(block: list[Call]) -> str:
    parts = []
    for endpoint in dict.fromkeys(c.endpoint for c in block):
        mine = [c for c in block if c.endpoint == endpoint]
        kinds = ", ".join(dict.fromkeys(f"{c.op} {format_outcome(c.outcome)}" for c in mine))
        took = sum(c.consumed for c in mine)
        parts.append(f"{endpoint} {kinds} x{len(mine)} (took {took} bytes)")
    return f"  #{block[0].seq}-#{block[-1].seq}: {len(block)} calls, nothing sent: " + \
        "; ".join(parts)
