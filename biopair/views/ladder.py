"""The ladder view: a trace drawn as client column, wire, server column, one line an event.

Reading a ladder::

    #0  connect                                        <- the call starts (client column)
          >> ClientHello 1545                          <- messages OpenSSL reported
         ClientHello 1550 B -------------------->      <- a record the call put on the wire
        = -1 WANT_READ  (waits: nothing from server)   <- the result, tied to the bytes
        ========== 1550 B delivered ==========>        <- a move

Runs of identical turns (bytewise delivery makes thousands) are collapsed into one line
saying how often the turn repeated; ``full=True`` draws every event.  Colour is used only
when asked for (the CLI asks on a TTY, never with ``NO_COLOR``).  Info-callback ``loop``
states are left out of the ladder (they repeat what the messages say); the JSON and golden
traces keep them.

:class:`WireView` is shared with :mod:`biopair.views.explain`: it follows the bytes on each link
through the trace and says, for a call that returned WANT_READ, which bytes were missing.

The text helpers at the end are every text view's (run lines, failure reports, explain,
sweep, diff): each fits an 80-column terminal (:data:`WIDTH` characters) unless the front
end passes another width (``biopair`` reads ``COLUMNS``: views never read the
environment); long values are wrapped onto indented continuation lines, never cut, so a
reason string a TLS engineer needs is shown whole; data is never shown whole
(:func:`show_bytes`: its length and its first and last bytes).
"""

from __future__ import annotations

import bisect
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from biopair.engine.trace import (
    AlertEvent,
    Call,
    Event,
    LinkEvent,
    MessageEvent,
    MoveEvent,
    RecordEvent,
    RunEnd,
    StateEvent,
    Trace,
)
from biopair.outcome import format_outcome
from biopair.transport.link import DIRECTIONS, parse_direction

#: The width of every text view: 79 characters, so a line fits an 80-column terminal with
#: the last column free (a terminal that fills it may wrap early).
WIDTH = 79
_PREFIX = 6  # "#1234 "
_COLOURS = {"client": "\x1b[36m", "server": "\x1b[35m", "wire": "\x1b[2m",
            "want": "\x1b[33m", "ok": "\x1b[32m", "bad": "\x1b[31m"}
_RESET = "\x1b[0m"


def n(value: int) -> str:
    """An integer with thousands separators (``1,436``)."""
    return f"{value:,}"


def incoming(endpoint: str) -> str:
    """The direction whose bytes ``endpoint`` reads."""
    return "server>client" if endpoint == "client" else "client>server"


def _record_end(record: RecordEvent) -> int:
    return record.end


@dataclass
class WireView:
    """Follows each link's bytes through a trace: records seen, bytes delivered, queued."""

    records: dict[str, list[RecordEvent]] = field(
        default_factory=lambda: {d: [] for d in DIRECTIONS})
    delivered: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0))
    pulled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, 0))
    closed: dict[str, bool] = field(default_factory=lambda: dict.fromkeys(DIRECTIONS, False))

    def see(self, event: Event) -> None:
        """Update the view with the next event of the trace."""
        if isinstance(event, RecordEvent):
            self.records.setdefault(event.direction, []).append(event)
            self.pulled[event.direction] = max(self.pulled.get(event.direction, 0), event.end)
        elif isinstance(event, MoveEvent):
            d = event.direction
            self.delivered[d] = self.delivered.get(d, 0) + event.nbytes
            self.pulled[d] = max(self.pulled.get(d, 0), self.delivered[d] + event.queued)
        elif isinstance(event, LinkEvent) and event.kind == "closed":
            self.closed[event.direction] = True

    def record_at(self, direction: str, offset: int) -> RecordEvent | None:
        """The record containing stream ``offset`` (None: at or past the last record).

        A binary search over the records' ends (they follow one another in stream
        order), so a trace of N calls over M records renders in O(N log M), not O(N M).
        """
        records = self.records.get(direction, [])
        # The first record that ends after ``offset``.
        i = bisect.bisect_right(records, offset, key=_record_end)
        if i < len(records) and records[i].offset <= offset:
            return records[i]
        return None

    def waiting(self, endpoint: str) -> str:
        """Why a WANT_READ: which bytes ``endpoint`` has and which it still lacks."""
        d = incoming(endpoint)
        peer = parse_direction(d)[0]
        got = self.delivered.get(d, 0)
        queued = self.pulled.get(d, 0) - got
        record = self.record_at(d, got)
        if record is not None and got > record.offset:
            return (f"has {n(got - record.offset)} of {n(record.size)} B of the "
                    f"{record.label()} record")
        have = f"has all {n(got)} B" if got else "has nothing yet"
        if record is not None:
            return (f"{have}; the next record ({record.label()}, "
                    f"{n(record.size)} B) is not delivered yet")
        if queued > 0:
            return f"{have}; {n(queued)} B still on the link"
        if got == 0:
            return f"has nothing from the {peer} yet"
        return f"has all {n(got)} B sent by the {peer}; nothing more in flight"


@dataclass
class Turn:
    """A call with everything attributed to it, and the moves and link events after it."""

    call: Call | None
    inner: list[Event] = field(default_factory=list)
    after: list[Event] = field(default_factory=list)
    waiting: str = ""

    def key(self) -> tuple[object, ...]:
        """What makes two turns "the same" for collapsing: no seqs, offsets, counts."""
        parts: list[object] = []
        c = self.call
        if c is not None:
            parts.append((c.endpoint, c.op, c.ret, c.error, c.reasons, bool(c.sent)))
        for e in (*self.inner, *self.after):
            if isinstance(e, MoveEvent):
                parts.append(("move", e.direction, e.nbytes, bool(e.queued)))
            elif isinstance(e, StateEvent):
                parts.append((e.endpoint, e.where, e.state))
            elif isinstance(e, RecordEvent | MessageEvent | AlertEvent):
                parts.append(id(e))  # never equal: turns with messages are never collapsed
            elif isinstance(e, LinkEvent):
                parts.append((e.kind, e.direction))
            elif isinstance(e, RunEnd):
                parts.append(("run-end", id(e)))
        parts.append(re.sub(r"[\d,]+", "#", self.waiting))
        return tuple(parts)


def turns(trace: Trace) -> list[Turn]:
    """Group a trace's events into turns, computing each WANT's ``waiting`` text."""
    view = WireView()
    out: list[Turn] = []
    current: Turn | None = None
    for event in trace.events:
        if isinstance(event, Call):
            pending = current if current is not None and current.call is None and \
                current.inner else None
            turn = pending or Turn(None)
            turn.call = event
            if pending is None:
                out.append(turn)
            if event.error in ("WANT_READ",):
                turn.waiting = view.waiting(event.endpoint)
            elif event.error == "WANT_WRITE":
                turn.waiting = "the link to the peer is full"
            current = turn
        elif getattr(event, "call", None) is not None:
            # A new turn unless this one is still gathering the coming call's events;
            # events already waiting in ``after`` happened before this call.
            if current is None or current.call is not None or current.after:
                current = Turn(None)
                out.append(current)
            current.inner.append(event)
        else:
            if current is None or (current.call is None and current.inner):
                current = Turn(None)
                out.append(current)
            current.after.append(event)
        view.see(event)
    return out


def collapse(keys: Sequence[object], min_reps: int = 3,
             periods: Sequence[int] = (1, 2)) -> list[tuple[int, int, int]]:
    """Find repeated runs: ``(start, period, repetitions)`` segments covering ``keys``.

    A segment with repetitions 1 is shown as is; otherwise its first period is shown and
    the rest summarised.  Periods 1 and 2 cover the common cases (one endpoint retrying,
    two endpoints alternating).
    """
    out: list[tuple[int, int, int]] = []
    i = 0
    while i < len(keys):
        best = (1, 1)
        for period in periods:
            j = i + period
            while j < len(keys) and keys[j] == keys[j - period]:
                j += 1
            reps = (j - i) // period
            if reps >= min_reps and reps * period > best[0] * best[1]:
                best = (period, reps)
        period, reps = best
        out.append((i, period, reps))
        i += period * reps
    return out


class Ladder:
    """Draws a trace as a ladder, :data:`WIDTH` columns wide unless told otherwise."""

    def __init__(self, colour: bool = False, full: bool = False, width: int = WIDTH) -> None:
        self.colour = colour
        self.full = full
        self.width = width

    def paint(self, text: str, kind: str) -> str:
        """Wrap ``text`` in the ANSI colour of ``kind`` when colour is on."""
        return f"{_COLOURS[kind]}{text}{_RESET}" if self.colour else text

    def line(self, seq: str, side: str, text: str, kind: str | None = None) -> str:
        """One ladder line: ``side`` is client (left), server (right) or wire (centre)."""
        room = self.width - _PREFIX
        if len(text) > room:
            indent = len(text) - len(text.lstrip()) + 2
            parts = balanced(text, room, " " * indent)
            return "\n".join(self.line(seq if i == 0 else "", side, part, kind)
                             for i, part in enumerate(parts))
        if side == "client":
            body = text
        elif side == "server":
            body = text.rjust(room)
        else:
            body = text.center(room).rstrip()
        body = body.rstrip()
        return f"{seq:<{_PREFIX}}" + self.paint(body, kind or side)

    def header(self) -> list[str]:
        """Column titles."""
        room = self.width - _PREFIX
        title = "client" + "wire".center(room - 12) + "server"
        return [" " * _PREFIX + title, " " * _PREFIX + "-" * room]

    def event_lines(self, event: Event) -> list[str]:
        """The line(s) for one non-call event."""
        if isinstance(event, MessageEvent):
            arrow = ">>" if event.sent else "<<"
            verb = "sent" if event.sent else "got"
            return [self.line("", event.endpoint,
                              f"  {arrow} {verb} {event.name} {n(event.length)}")]
        if isinstance(event, AlertEvent):
            verb = "sent" if event.sent else "got"
            return [self.line("", event.endpoint,
                              f"  !! {verb} alert {event.level} {event.description}", "bad")]
        if isinstance(event, StateEvent):
            if event.where == "loop":
                return []
            return [self.line("", event.endpoint, f"  .. {event.where}: {event.state}")]
        if isinstance(event, RecordEvent):
            text = f"{event.label()} {n(event.size)} B"
            if event.direction == "client>server":
                text = f"{text} " + "-" * max(3, 40 - len(text)) + ">"
            else:
                text = "<" + "-" * max(3, 40 - len(text)) + f" {text}"
            return [self.line("", "wire", text)]
        if isinstance(event, MoveEvent):
            label = f" {n(event.nbytes)} B delivered "
            rest = f" ({n(event.queued)} queued)" if event.queued else ""
            if event.direction == "client>server":
                text = "=" * 8 + label + "=" * 8 + ">" + rest
            else:
                text = "<" + "=" * 8 + label + "=" * 8 + rest
            return [self.line("", "wire", text)]
        if isinstance(event, LinkEvent):
            return [self.line("", "wire", f"-- {event.kind} {event.direction} --")]
        if isinstance(event, RunEnd):
            end = f", {event.terminal}" if event.terminal else ""
            return [self.line("", "wire", f"-- run ended: {n(event.calls)} calls{end} --",
                              "bad" if event.terminal else "wire")]
        return []

    def turn_lines(self, turn: Turn) -> list[str]:
        """The lines of one turn: call start, its events, its result, what followed."""
        lines: list[str] = []
        c = turn.call
        if c is not None:
            lines.append(self.line(f"#{c.seq}", c.endpoint, f"{c.endpoint} {c.op}"))
        for event in turn.inner:
            lines += self.event_lines(event)
        if c is not None:
            kind = "want" if c.outcome.wants else ("ok" if (c.ret or 0) > 0 or c.error is None
                                                   else "bad")
            result = f"= {format_outcome(c.outcome)}"
            if c.op in ("read", "peek") and (c.ret or 0) > 0:
                result += f" ({n(c.ret or 0)} bytes read)"
            if turn.waiting:
                result += f": {turn.waiting}"
            lines.append(self.line("", c.endpoint, result, kind))
        for event in turn.after:
            lines += self.event_lines(event)
        return lines

    def render(self, trace: Trace, title: str = "") -> str:
        """The whole ladder as text."""
        lines = wrap(title, self.width, "", "  ") if title else []
        lines += self.header()
        grouped = turns(trace)
        segments = ([(i, 1, 1) for i in range(len(grouped))] if self.full
                    else collapse([t.key() for t in grouped]))
        for start, period, reps in segments:
            for turn in grouped[start:start + period]:
                lines += self.turn_lines(turn)
            if reps > 1:
                # first and last repetition drawn, the ones between summarised
                hidden = grouped[start + period:start + period * (reps - 1)]
                span = _seq_span(hidden[0], hidden[-1])
                lines.append(self.line("", "wire",
                                       f"... {_plural(period, 'turn')} like the above, "
                                       f"{n(reps - 2)} more times{span} ..."))
                for turn in grouped[start + period * (reps - 1):start + period * reps]:
                    lines += self.turn_lines(turn)
        return "\n".join(lines)


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{count} {word}s"


def _seq_span(first: Turn, last: Turn) -> str:
    calls = [t.call.seq for t in (first, last) if t.call is not None]
    return f" (calls #{calls[0]}-#{calls[-1]})" if len(calls) == 2 else ""


def render_ladder(trace: Trace, *, title: str = "", colour: bool = False,
                  full: bool = False, width: int = WIDTH) -> str:
    """A trace as a ladder diagram.

    Args:
        trace: the recorded trace.
        title: a first line (the scenario's file and title).
        colour: use ANSI colours.
        full: draw every turn instead of collapsing repeated ones.
        width: the line width.

    Returns:
        The ladder, lines at most ``width`` columns wide (colour codes aside).
    """
    return Ladder(colour=colour, full=full, width=width).render(trace, title)


def use_colour(stream_isatty: bool, environ: Mapping[str, str]) -> bool:
    """Colour only on a TTY and never when ``NO_COLOR`` is set (https://no-color.org)."""
    return stream_isatty and not environ.get("NO_COLOR")


# -- text for a terminal: one width, wrapping (never cutting), short payloads ------------

#: The narrowest width honoured (``COLUMNS=10`` would make every line a word).
MIN_WIDTH = 40
#: Bytes shown at each end of a payload.
EDGE = 12
#: A space that must not break a line ("ClientHello (208 B)" stays whole).
_GLUE = "\x00"


def width_from(env: Mapping[str, str]) -> int:
    """The width for text views from an environment's ``COLUMNS`` (default :data:`WIDTH`).

    Returns:
        ``COLUMNS`` less one (the last column stays free) when it is a whole number of at
        least :data:`MIN_WIDTH`, else :data:`WIDTH` (a bad value is ignored).
    """
    raw = env.get("COLUMNS", "").strip()
    if raw.isdigit() and int(raw) >= MIN_WIDTH:
        return min(int(raw), 1000) - 1
    return WIDTH


def glue(text: str) -> str:
    """``text`` with its spaces made unbreakable for :func:`wrap`."""
    return text.replace(" ", _GLUE)


def wrap(text: str, width: int = WIDTH, indent: str = "", subsequent: str | None = None
         ) -> list[str]:
    """Wrap one paragraph to ``width`` columns, breaking only at spaces, never cutting.

    A word longer than the line stays whole on a line of its own (a reason string or a
    path is never split).  Spaces made with :func:`glue` never break.

    Args:
        text: the paragraph.
        width: the line width.
        indent: the first line's indent.
        subsequent: the continuation lines' indent (default: ``indent`` plus two spaces).

    Returns:
        The lines (at least one).
    """
    rest = indent + "  " if subsequent is None else subsequent
    lines = textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False) or [indent]
    return [line.replace(_GLUE, " ") for line in lines]


def balanced(text: str, width: int, subsequent: str = "") -> list[str]:
    """:func:`wrap` into as few lines as fit ``width``, but of even length: the narrowest
    width that needs no more lines, so no single word is stranded on the last line.

    Returns:
        The lines.
    """
    lines = wrap(text, width, "", subsequent)
    best = lines
    for narrower in range(width - 1, max(len(subsequent) + 8, width // 2), -1):
        trial = wrap(text, narrower, "", subsequent)
        if len(trial) > len(lines):
            break
        best = trial
    return best


def fill(text: str, width: int = WIDTH, indent: str = "", subsequent: str | None = None
         ) -> str:
    """:func:`wrap`, joined with newlines."""
    return "\n".join(wrap(text, width, indent, subsequent))


def show_bytes(data: bytes, edge: int = EDGE) -> str:
    """A payload for a person: whole when short, else its length, first and last bytes.

    Returns:
        ``b'hello'`` for up to ``2 * edge`` bytes, else
        ``16,384 bytes b'abcdefghijkl'...b'uvwxyzabcdef'``.
    """
    if len(data) <= 2 * edge:
        return repr(data)
    return f"{len(data):,} bytes {data[:edge]!r}...{data[-edge:]!r}"


def shorten_repr(text: str, limit: int = 120, edge: int = 40) -> str:
    """A long repr shortened to its ends and its length; short text unchanged.

    Returns:
        ``text`` when at most ``limit`` characters, else
        ``"<first edge chars>...<last edge chars> (N chars)"``.
    """
    if len(text) <= limit:
        return text
    return f"{text[:edge]}...{text[-edge:]} ({len(text):,} chars)"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 call``, ``2 calls``, ``1,775 calls``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"
