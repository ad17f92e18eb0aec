"""The trace: every event of a run, in order, and its JSON form.

Calls are :class:`~biopair.endpoint.Call` records; the other events say what happened to
the bytes between calls.  All events are frozen dataclasses with a ``to_json`` method, and
nothing in a trace depends on time or addresses, so two runs of a deterministic scenario
produce equal traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from biopair.endpoint import Call


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
    """A fault that applied to a link's bytes (see :mod:`biopair.faults`).

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


Event = Call | MoveEvent | LinkEvent | RunEnd | FaultEvent | HoldEvent


@dataclass
class Trace:
    """The ordered events of one pair's life.

    Attributes:
        events: every event; ``calls`` is the subset that are SSL calls.
        link: the link kind the pair ran on.
        record: when False only calls are kept (cheaper for benchmarks and sweeps).
    """

    link: str = "memory"
    record: bool = True
    events: list[Event] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

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
            lines.append(_call_line(calls[i]))
            i += 1
        return "\n".join(lines)


def _quiet(call: Call) -> bool:
    return call.wants and not call.sent


def _call_line(c: Call) -> str:
    step = f"step {c.step + 1}" if c.step is not None else ""
    err = c.error if c.error is not None else "(not asked)"
    reasons = f' "{"; ".join(c.reasons)}"' if c.reasons else ""
    io = "".join(
        f" {label} {n}" for label, n in (("took", c.consumed), ("sent", c.sent)) if n
    )
    view = c.pyopenssl if len(c.pyopenssl) <= 100 else c.pyopenssl[:96] + " ..."
    return (f"  #{c.seq:<5} {step:>8} {c.endpoint:>6} {c.op:<11} ret={c.ret:<6} "
            f"{err}{reasons}{io}  [pyOpenSSL: {view}]")


def _summary_line(block: list[Call]) -> str:
    parts = []
    for endpoint in dict.fromkeys(c.endpoint for c in block):
        mine = [c for c in block if c.endpoint == endpoint]
        kinds = ", ".join(dict.fromkeys(f"{c.op} {c.ret} {c.error}" for c in mine))
        took = sum(c.consumed for c in mine)
        parts.append(f"{endpoint} {kinds} x{len(mine)} (took {took} bytes)")
    return f"  #{block[0].seq}-#{block[-1].seq}: {len(block)} calls, nothing sent: " + \
        "; ".join(parts)
