"""The trace: every event of a run, in order, and its JSON form.

Calls are :class:`~biopair.endpoint.Call` records; the other events say what happened to
the bytes between calls.  All events are frozen dataclasses with a ``to_json`` method, and
nothing in a trace depends on time or addresses, so two runs of a deterministic scenario
produce equal traces.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from biopair.endpoint import Call


@dataclass(frozen=True)
class MoveEvent:
    """Bytes handed from a link to its receiver."""

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


Event = Call | MoveEvent | LinkEvent | RunEnd


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
        if self.record or isinstance(event, Call):
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

    def format_calls(self, limit: int | None = None) -> str:
        """The call trace as text, one call a line (used in failure reports)."""
        lines = []
        calls = self.calls if limit is None else self.calls[-limit:]
        if limit is not None and len(self.calls) > limit:
            lines.append(f"  ... {len(self.calls) - limit} earlier calls not shown")
        for c in calls:
            step = f"step {c.step + 1}" if c.step is not None else ""
            err = c.error if c.error is not None else "(not asked)"
            reasons = f' "{"; ".join(c.reasons)}"' if c.reasons else ""
            sent = f" sent {c.sent}" if c.sent else ""
            ret = "?" if c.ret is None else c.ret  # ? = hidden by the stack (stdlib ssl)
            lines.append(
                f"  #{c.seq:<5} {step:>8} {c.endpoint:>6} {c.op:<11} ret={ret:<6} "
                f"{err}{reasons}{sent}  [pyOpenSSL: {c.pyopenssl}]"
            )
        return "\n".join(lines)
