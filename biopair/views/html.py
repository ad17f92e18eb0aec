"""The HTML view: one run as a self-contained page with an SVG sequence diagram.

``biopair run --html OUT.html FILE`` writes one page; ``biopair report DIR -o SITE/``
writes one page per scenario and an index by topic (:func:`write_site`).

Theory of operation.  The diagram is drawn from the same grouping the ladder uses
(:func:`biopair.views.ladder.turns`): a *turn* is a call with everything attributed to it
(the messages OpenSSL reported, the records it put on the wire, its result) and what
happened between it and the next call (moves, link events, faults, holds).  Each turn is
one SVG ``<g class="block">`` whose inside is laid out here, in Python, so its height is
known; blocks are stacked top to bottom.  Runs of identical turns are found by the
ladder's :func:`~biopair.views.ladder.collapse`: the first and last repetition are drawn,
the ones between are drawn too but hidden (``class="hidden"``), behind one placeholder
block that shows and hides them.  The page's script only restacks the visible blocks
(their ``transform``), moves the current step with the keyboard and draws the tie from a
WANT result to the bytes it waits for; without the script the page still shows the
collapsed diagram, laid out here.

Three lanes: client (left), wire (centre), server (right).  A call is a box in its
endpoint's lane, outlined by its outcome (amber: WANT_*, green: success, red: failure),
with the outcome written by :func:`biopair.outcome.format_outcome`.  A handshake message
(OpenSSL's message callback, so decrypted) is a short arrow between the box and the wire;
a record on the link is an arrow across the wire lane, with its size and name; a move is
a broad arrow saying how many bytes were delivered.  A WANT_READ result says what its
endpoint had and lacked (:meth:`biopair.views.ladder.WireView.waiting`) and is tied to
the record holding the next byte the endpoint would read (the record may be written only
later; the tie says by which call).

Safety.  Every string from a scenario file -- title, about, hold conditions, reasons --
and every other text goes through :func:`html.escape`; nothing from a scenario is ever
put inside the script or the style.  The page carries a Content-Security-Policy that
allows no network at all and only the page's own script and style (by their SHA-256), so
even markup that slipped through could neither run nor fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import os
import re
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from biopair.engine.trace import (
    AlertEvent,
    Call,
    Event,
    FaultEvent,
    HoldEvent,
    LinkEvent,
    MessageEvent,
    MoveEvent,
    RecordEvent,
    RunEnd,
    StateEvent,
    Trace,
)
from biopair.outcome import format_outcome
from biopair.scenario.runner import Verdict
from biopair.transport.link import DIRECTIONS
from biopair.views import files
from biopair.views.ladder import Turn, WireView, collapse, incoming, n, turns

#: Width of the diagram (SVG user units, shown 1:1 as CSS pixels at most).
WIDTH = 1000
#: The lanes: where each column's box starts and ends.
CLIENT_BOX = (10, 330)
SERVER_BOX = (670, 990)
WIRE = (340, 660)
#: Characters of 12-pixel monospace text that fit in a box or in the wire lane.
BOX_CHARS = 42
WIRE_CHARS = 44
LINE = 16  # height of one line of text
TOP = 56  # the lane headers
#: At most this many hidden turns of one collapsed run are drawn (the rest are counted):
#: a byte-by-byte run repeats one turn thousands of times.
MAX_HIDDEN_DRAWN = 200
#: The pyOpenSSL view shown in a step's details is cut to this many characters.
DETAIL_CHARS = 240

_esc = html.escape


def _lines(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


@dataclass
class _Block:
    """One block of the diagram: its SVG content (relative to its top) and height."""

    parts: list[str] = field(default_factory=list)
    height: int = 0
    classes: list[str] = field(default_factory=lambda: ["block"])
    attrs: dict[str, str] = field(default_factory=dict)

    def text(self, x: float, lines: Sequence[str], cls: str, anchor: str = "start") -> None:
        for line in lines:
            self.height += LINE
            self.parts.append(f'<text x="{x:g}" y="{self.height - 4}" class="{cls}" '
                              f'text-anchor="{anchor}">{_esc(line)}</text>')

    def svg(self, y: int) -> str:
        attrs = "".join(f' {k}="{_esc(v)}"' for k, v in self.attrs.items())
        return (f'<g class="{" ".join(self.classes)}" data-h="{self.height}" '
                f'transform="translate(0,{y})"{attrs}>{"".join(self.parts)}</g>')


def _box(endpoint: str) -> tuple[int, int]:
    return CLIENT_BOX if endpoint == "client" else SERVER_BOX


def _record_id(direction: str, offset: int) -> str:
    return f"rec-{'cs' if direction == 'client>server' else 'sc'}-{offset}"


class _Awaited:
    """For each WANT_READ call: the record holding the next byte its endpoint would read."""

    def __init__(self, trace: Trace) -> None:
        self.records: dict[str, list[RecordEvent]] = {d: [] for d in DIRECTIONS}
        for event in trace.events:
            if isinstance(event, RecordEvent):
                self.records.setdefault(event.direction, []).append(event)
        self.by_call: dict[int, RecordEvent] = {}
        view = WireView()
        for event in trace.events:
            if isinstance(event, Call) and event.error == "WANT_READ":
                d = incoming(event.endpoint)
                got = view.delivered.get(d, 0)
                for record in self.records.get(d, []):
                    if record.offset <= got < record.end:
                        self.by_call[event.seq] = record
                        break
            view.see(event)


class _Drawer:
    """Draws the turns of one trace as blocks."""

    def __init__(self, trace: Trace) -> None:
        self.awaited = _Awaited(trace)

    # -- events ----------------------------------------------------------------------

    def message(self, b: _Block, e: MessageEvent) -> None:
        left, right = _box(e.endpoint)
        label = f"{e.name} {n(e.length)} B"
        y = b.height + 10
        if e.endpoint == "client":
            x1, x2, tx, anchor = (220, right - 4, 22, "start")
        else:
            x1, x2, tx, anchor = (780, left + 4, right - 12, "end")
        if not e.sent:
            x1, x2 = x2, x1
        verb = "sent" if e.sent else "got"
        b.parts.append(f'<g class="message {"sent" if e.sent else "got"}" '
                       f'data-name="{_esc(e.name)}"><title>{_esc(e.endpoint)} {verb} '
                       f'{_esc(e.name)}, {n(e.length)} bytes (message callback)</title>'
                       f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" '
                       f'marker-end="url(#arrow)"/></g>')
        b.text(tx, [label[:24]], "msg", anchor)

    def record(self, b: _Block, e: RecordEvent) -> None:
        label = f"{e.label()} {n(e.size)} B"
        lines = _lines(label, WIRE_CHARS)
        first = b.height
        b.text(500, lines, "rec-label", "middle")
        y = b.height + 6
        x1, x2 = (WIRE[0] + 4, WIRE[1] - 4)
        if e.direction != "client>server":
            x1, x2 = x2, x1
        b.height += 12
        cls = "record encrypted" if e.encrypted else "record"
        b.parts.insert(len(b.parts) - len(lines),
                       f'<g class="{cls}" id="{_record_id(e.direction, e.offset)}" '
                       f'data-ry="{y}" data-label="{_esc(label)}"><title>record at offset '
                       f'{n(e.offset)} of {_esc(e.direction)}: {_esc(e.content_type)}, '
                       f'{n(e.size)} bytes</title>'
                       f'<rect class="rec-hit" x="{WIRE[0]}" y="{first}" '
                       f'width="{WIRE[1] - WIRE[0]}" height="{y + 6 - first}"/>'
                       f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" '
                       f'marker-end="url(#arrow)"/></g>')

    def marker(self, b: _Block, kind: str, text: str, title: str) -> None:
        lines = _lines(text, WIRE_CHARS + 8)
        top = b.height
        b.text(500, lines, f"mark-text {kind}", "middle")
        b.parts.insert(len(b.parts) - len(lines),
                       f'<g class="marker {kind}" data-text="{_esc(text)}">'
                       f'<rect class="mark {kind}" x="{WIRE[0] - 20}" y="{top + 1}" '
                       f'width="{WIRE[1] - WIRE[0] + 40}" height="{b.height - top + 2}" '
                       f'rx="4"><title>{_esc(title)}</title></rect>')
        b.parts.append("</g>")
        b.height += 4

    def event(self, b: _Block, e: Event) -> None:
        if isinstance(e, MessageEvent):
            self.message(b, e)
        elif isinstance(e, RecordEvent):
            self.record(b, e)
        elif isinstance(e, AlertEvent):
            left, right = _box(e.endpoint)
            verb = "sent" if e.sent else "got"
            x, anchor = (left + 12, "start") if e.endpoint == "client" else (right - 12, "end")
            b.text(x, _lines(f"! {verb} alert {e.level} {e.description}", BOX_CHARS),
                   "alert", anchor)
        elif isinstance(e, StateEvent):
            if e.where == "loop":
                return
            left, right = _box(e.endpoint)
            x, anchor = (left + 12, "start") if e.endpoint == "client" else (right - 12, "end")
            b.text(x, _lines(f"{e.where}: {e.state}", BOX_CHARS), "state", anchor)
        elif isinstance(e, MoveEvent):
            rest = f", {n(e.queued)} queued" if e.queued else ""
            y = b.height + 12
            x1, x2 = (WIRE[0] + 4, WIRE[1] - 4)
            if e.direction != "client>server":
                x1, x2 = x2, x1
            b.parts.append(f'<g class="move"><title>{n(e.nbytes)} bytes delivered on '
                           f'{_esc(e.direction)}{rest}</title><line x1="{x1}" y1="{y}" '
                           f'x2="{x2}" y2="{y}" marker-end="url(#fat)"/></g>')
            b.height += 18
            b.text(500, [f"{n(e.nbytes)} B delivered{rest}"], "move-label", "middle")
        elif isinstance(e, FaultEvent):
            where = f"record {e.record}" if e.record is not None else f"offset {n(e.offset)}"
            text = f"FAULT {e.kind} on {e.direction} at {where}: {e.detail}"
            self.marker(b, "fault", text, text)
        elif isinstance(e, HoldEvent):
            verb = "HOLD" if e.kind == "hold" else "RELEASED"
            text = f"{verb} {e.direction} until {e.condition}"
            self.marker(b, "hold", text, text)
        elif isinstance(e, LinkEvent):
            self.marker(b, "link", f"{e.kind} {e.direction}", f"link event: {e.kind}")
        elif isinstance(e, RunEnd):
            end = f", {e.terminal}" if e.terminal else ""
            self.marker(b, "end bad" if e.terminal else "end",
                        f"run ended: {n(e.calls)} calls{end}", "the end of a run step")

    # -- turns -----------------------------------------------------------------------

    def turn(self, turn: Turn) -> _Block:
        b = _Block()
        c = turn.call
        b.height = 6
        if c is None:
            for e in (*turn.inner, *turn.after):
                self.event(b, e)
            b.classes.append("between")
            b.attrs["data-detail"] = "between calls: " + ", ".join(
                _describe(e) for e in (*turn.inner, *turn.after)) if (
                turn.inner or turn.after) else "between calls"
            b.height += 6
            return b
        left, right = _box(c.endpoint)
        top = b.height
        b.classes.append("turn")
        x, anchor = (left + 12, "start") if c.endpoint == "client" else (right - 12, "end")
        b.text(x, [f"#{c.seq} {c.endpoint} {c.op}"], "call-head", anchor)
        for e in turn.inner:
            self.event(b, e)
        outcome = format_outcome(c.outcome)
        kind = "want" if c.outcome.wants else ("ok" if (c.ret or 0) > 0 or c.error is None
                                               else "bad")
        result = f"= {outcome}"
        if c.op in ("read", "peek") and (c.ret or 0) > 0:
            result += f" ({n(c.ret or 0)} bytes read)"
        b.attrs["data-wy"] = str(b.height + 10)
        b.text(x, _lines(result, BOX_CHARS), f"result {kind}", anchor)
        if turn.waiting:
            b.text(x, _lines(turn.waiting, BOX_CHARS), "waiting", anchor)
        awaited = self.awaited.by_call.get(c.seq)
        detail = [f"#{c.seq} {c.endpoint} {c.op} = {outcome}"]
        if turn.waiting:
            detail.append(turn.waiting)
        if awaited is not None:
            b.attrs["data-waits"] = _record_id(awaited.direction, awaited.offset)
            by = f", written by call #{awaited.call}" if awaited.call is not None else ""
            line = f"next byte: {awaited.label()} {n(awaited.size)} B{by}"
            b.text(x, _lines(line, BOX_CHARS), "waits-for", anchor)
            detail.append(line)
        if c.pyopenssl:
            view = c.pyopenssl if len(c.pyopenssl) <= DETAIL_CHARS else (
                c.pyopenssl[:DETAIL_CHARS] + f"... ({n(len(c.pyopenssl))} characters)")
            detail.append(f"pyOpenSSL: {view}")
        b.height += 6
        b.parts.insert(0, f'<rect class="box {kind} {c.endpoint}" x="{left}" y="{top - 2}" '
                          f'width="{right - left}" height="{b.height - top}" rx="6"/>')
        b.attrs.update({"data-seq": str(c.seq), "data-endpoint": c.endpoint,
                        "data-op": c.op, "data-outcome": outcome,
                        "data-detail": " | ".join(detail)})
        for e in turn.after:
            self.event(b, e)
        b.height += 6
        return b

    def placeholder(self, run: int, hidden: Sequence[Turn], reps: int, period: int,
                    not_drawn: int) -> _Block:
        b = _Block()
        b.classes.append("collapsed")
        calls = [t.call.seq for t in (hidden[0], hidden[-1]) if t.call is not None]
        span = f" (calls #{calls[0]}-#{calls[-1]})" if len(calls) == 2 else ""
        what = "turn" if period == 1 else f"{period} turns"
        text = f"{what} like the above, {n(reps - 2)} more times{span}"
        b.height = 4
        b.parts.append(f'<rect class="fold" x="{WIRE[0] - 150}" y="4" '
                       f'width="{WIRE[1] - WIRE[0] + 300}" height="{2 * LINE + 6}" rx="4"/>')
        b.text(500, [text], "fold-text", "middle")
        hint = "click or Enter: show them"
        if not_drawn:
            hint += f" ({n(not_drawn)} not drawn: see `biopair run --trace --full`)"
        b.text(500, [hint], "fold-hint", "middle")
        b.height += 10
        b.attrs.update({"data-run": str(run), "data-count": str(len(hidden)),
                        "data-detail": f"collapsed: {text}", "tabindex": "0",
                        "role": "button", "aria-expanded": "false"})
        return b


def _describe(e: Event) -> str:
    if isinstance(e, MoveEvent):
        return f"{n(e.nbytes)} B delivered on {e.direction}"
    if isinstance(e, FaultEvent):
        return f"fault {e.kind} on {e.direction}: {e.detail}"
    if isinstance(e, HoldEvent):
        return f"{e.kind} {e.direction} until {e.condition}"
    if isinstance(e, LinkEvent):
        return f"{e.kind} {e.direction}"
    if isinstance(e, RunEnd):
        return f"run ended: {n(e.calls)} calls" + (f", {e.terminal}" if e.terminal else "")
    return type(e).__name__


def _key(turn: Turn) -> tuple[object, ...]:
    # The ladder's key, and a turn with a fault or a hold is never folded away.
    marks = tuple(id(e) for e in (*turn.inner, *turn.after)
                  if isinstance(e, FaultEvent | HoldEvent))
    return (*turn.key(), *marks)


def diagram(trace: Trace) -> str:
    """The SVG sequence diagram of a trace: lanes, call boxes, messages, records, moves.

    Returns:
        One ``<svg id="diagram">`` element (inline, no external references).
    """
    drawer = _Drawer(trace)
    grouped = turns(trace)
    blocks: list[_Block] = []
    for run, (start, period, reps) in enumerate(collapse([_key(t) for t in grouped])):
        blocks += [drawer.turn(t) for t in grouped[start:start + period]]
        if reps > 1:
            hidden = grouped[start + period:start + period * (reps - 1)]
            drawn = hidden[:MAX_HIDDEN_DRAWN]
            blocks.append(drawer.placeholder(run, hidden, reps, period,
                                             len(hidden) - len(drawn)))
            for t in drawn:
                block = drawer.turn(t)
                block.classes += ["hidden", "folded"]
                block.attrs["data-in-run"] = str(run)
                blocks.append(block)
            blocks += [drawer.turn(t) for t in grouped[start + period * (reps - 1):
                                                       start + period * reps]]
    y = TOP
    body: list[str] = []
    for block in blocks:
        body.append(block.svg(y))
        if "hidden" not in block.classes:
            y += block.height
    height = y + 20
    lanes = (
        f'<rect class="wire-band" x="{WIRE[0]}" y="0" width="{WIRE[1] - WIRE[0]}" '
        f'height="{height}"/>'
        f'<line class="lane-line client" x1="170" y1="{TOP - 12}" x2="170" y2="{height}"/>'
        f'<line class="lane-line server" x1="830" y1="{TOP - 12}" x2="830" y2="{height}"/>'
        f'<g class="lane" data-lane="client"><text x="170" y="30" text-anchor="middle">'
        f'client</text></g>'
        f'<g class="lane" data-lane="wire"><text x="500" y="30" text-anchor="middle">'
        f'wire ({_esc(trace.link)} link)</text></g>'
        f'<g class="lane" data-lane="server"><text x="830" y="30" text-anchor="middle">'
        f'server</text></g>')
    defs = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
            'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            '<path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker>'
            '<marker id="fat" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="3" '
            'markerHeight="3" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
            'class="fathead"/></marker></defs>')
    return (f'<svg id="diagram" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'aria-label="sequence diagram: client, wire, server" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}" data-top="{TOP}">'
            f'{defs}<g id="lanes">{lanes}</g><g id="blocks">{"".join(body)}</g>'
            f'<g id="ties"></g></svg>')


# -- the page --------------------------------------------------------------------------

_CSS = """
:root { --client: #1f6fb2; --server: #8a3ea8; --want: #b7791f; --ok: #2f855a;
        --bad: #c53030; --ink: #1a202c; --muted: #5a6577; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, sans-serif; color: var(--ink); margin: 0;
       background: #f7f8fa; }
header, main, footer { max-width: 1040px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 16px; }
h1 { font-size: 1.4em; margin: 0.3em 0; }
nav a, a { color: var(--client); }
.meta { color: var(--muted); font-size: 0.9em; }
.badge { display: inline-block; padding: 0 8px; border-radius: 4px; color: #fff;
         font-weight: 600; font-size: 0.85em; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.badge.skip { background: var(--muted); }
.about { background: #fff; border-left: 4px solid var(--client); padding: 4px 16px;
         margin: 12px 0; }
.failures { background: #fff5f5; border-left: 4px solid var(--bad); padding: 4px 16px; }
code { font: 0.92em ui-monospace, monospace; background: #edf0f4; padding: 0 3px; }
#help { color: var(--muted); font-size: 0.9em; }
#detail { position: sticky; top: 0; z-index: 2; background: #fff; min-height: 2.6em;
          border: 1px solid #d5dae1; border-radius: 6px; padding: 6px 10px;
          font: 13px/1.4 ui-monospace, monospace; white-space: pre-wrap; }
#diagram { display: block; background: #fff; border: 1px solid #d5dae1;
           border-radius: 6px; margin: 10px 0 30px; max-width: 100%; height: auto; }
#diagram text { font: 12px ui-monospace, monospace; fill: var(--ink); }
.lane text { font-weight: 700 !important; font-size: 15px !important; }
.lane[data-lane=client] text { fill: var(--client) !important; }
.lane[data-lane=server] text { fill: var(--server) !important; }
.wire-band { fill: #f1f3f6; }
.lane-line { stroke-width: 2; stroke-dasharray: 4 4; }
.lane-line.client { stroke: var(--client); } .lane-line.server { stroke: var(--server); }
.hidden { display: none; }
.box { fill: #fff; stroke-width: 1.5; }
.box.want { stroke: var(--want); fill: #fffaf0; } .box.ok { stroke: var(--ok); }
.box.bad { stroke: var(--bad); fill: #fff5f5; }
.call-head { font-weight: 700 !important; }
.result.want { fill: var(--want) !important; font-weight: 700 !important; }
.result.ok { fill: var(--ok) !important; font-weight: 700 !important; }
.result.bad { fill: var(--bad) !important; font-weight: 700 !important; }
.waiting, .state, .waits-for { fill: var(--muted) !important; }
.waits-for { font-style: italic; }
.alert { fill: var(--bad) !important; }
.message line { stroke: #4a5568; stroke-width: 1.2; }
.record line { stroke: var(--ink); stroke-width: 1.5; }
.record.encrypted line { stroke-dasharray: 6 3; }
.rec-hit { fill: transparent; }
.record.awaited .rec-hit { fill: #fefcbf; }
.record.awaited line { stroke: var(--want); stroke-width: 3; }
.arrowhead { fill: context-stroke; }
.move line { stroke: #a0aec0; stroke-width: 8; stroke-opacity: 0.6; }
.fathead { fill: #a0aec0; }
.move-label { fill: var(--muted) !important; }
.mark { fill: #edf2f7; stroke: #a0aec0; }
.mark.fault { fill: #fed7d7; stroke: var(--bad); }
.mark.hold { fill: #feebc8; stroke: var(--want); }
.mark.end.bad { fill: #fed7d7; stroke: var(--bad); }
.mark-text.fault { fill: var(--bad) !important; font-weight: 700 !important; }
.fold { fill: #ebf4ff; stroke: var(--client); stroke-dasharray: 3 3; cursor: pointer; }
.fold-text { fill: var(--client) !important; font-weight: 700 !important; }
.fold-hint { fill: var(--muted) !important; }
.block { cursor: pointer; }
.block.current > .box, .block.current > .fold { stroke-width: 4; }
.block.current.between > *:first-child { outline: 2px solid var(--want); }
#ties path { fill: none; stroke: var(--want); stroke-width: 2; stroke-dasharray: 5 4; }
table.index { border-collapse: collapse; width: 100%; background: #fff; }
table.index td { border-top: 1px solid #e2e8f0; padding: 6px 8px; vertical-align: top; }
"""

_JS = r"""
(function () {
  "use strict";
  var svg = document.getElementById("diagram");
  if (!svg) { return; }
  var W = 1000, TOP = +svg.getAttribute("data-top");
  var blocks = Array.prototype.slice.call(svg.querySelectorAll("#blocks > .block"));
  var detail = document.getElementById("detail");
  var status = document.getElementById("status");
  var ties = document.getElementById("ties");
  var current = -1;
  function shown(b) { return !b.classList.contains("hidden"); }
  function visible() { return blocks.filter(shown); }
  function layout() {
    var y = TOP;
    blocks.forEach(function (b) {
      if (!shown(b)) { return; }
      b.setAttribute("transform", "translate(0," + y + ")");
      b.setAttribute("data-y", y);
      y += +b.getAttribute("data-h");
    });
    var h = y + 20;
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", "0 0 " + W + " " + h);
    svg.querySelectorAll(".lane-line").forEach(function (l) { l.setAttribute("y2", h); });
    svg.querySelector(".wire-band").setAttribute("height", h);
  }
  function tie(b) {
    while (ties.firstChild) { ties.removeChild(ties.firstChild); }
    svg.querySelectorAll(".record.awaited").forEach(function (r) {
      r.classList.remove("awaited");
    });
    var id = b.getAttribute("data-waits");
    if (!id) { return; }
    var rec = document.getElementById(id);
    if (!rec) { return; }
    rec.classList.add("awaited");
    var home = rec.closest(".block");
    if (!home || !shown(home)) { return; }
    var y1 = +b.getAttribute("data-y") + +b.getAttribute("data-wy");
    var y2 = +home.getAttribute("data-y") + +rec.getAttribute("data-ry");
    var client = b.getAttribute("data-endpoint") === "client";
    var x1 = client ? 330 : 670, x2 = 500;
    var p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    var bend = client ? x1 + 60 : x1 - 60;
    p.setAttribute("d", "M" + x1 + "," + y1 + " C" + bend + "," + y1 + " " + x2 + "," +
                   (y1 + y2) / 2 + " " + x2 + "," + y2);
    p.setAttribute("class", "tie");
    ties.appendChild(p);
  }
  function select(b) {
    var list = visible();
    blocks.forEach(function (x) { x.classList.remove("current"); });
    if (!b) { return; }
    b.classList.add("current");
    current = list.indexOf(b);
    detail.textContent = b.getAttribute("data-detail") || "";
    status.textContent = "step " + (current + 1) + " of " + list.length;
    tie(b);
    if (b.scrollIntoView) { b.scrollIntoView({block: "center"}); }
  }
  function toggle(p) {
    var run = p.getAttribute("data-run");
    var open = p.getAttribute("aria-expanded") !== "true";
    blocks.forEach(function (b) {
      if (b.getAttribute("data-in-run") === run) { b.classList.toggle("hidden", !open); }
    });
    p.setAttribute("aria-expanded", open ? "true" : "false");
    var hint = p.querySelector(".fold-hint");
    if (hint) {
      hint.textContent = open ? "click or Enter: hide them" :
        hint.textContent.replace("hide them", "show them");
    }
    layout();
    select(p);
  }
  function step(delta) {
    var list = visible();
    var i = Math.max(0, Math.min(list.length - 1, current + delta));
    select(list[i]);
  }
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey) { return; }
    var list = visible();
    if (e.key === "ArrowDown" || e.key === "ArrowRight" || e.key === "j") { step(1); }
    else if (e.key === "ArrowUp" || e.key === "ArrowLeft" || e.key === "k") { step(-1); }
    else if (e.key === "Home") { select(list[0]); }
    else if (e.key === "End") { select(list[list.length - 1]); }
    else if ((e.key === "Enter" || e.key === " ") && current >= 0 &&
             list[current].classList.contains("collapsed")) { toggle(list[current]); }
    else { return; }
    e.preventDefault();
  });
  blocks.forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.classList.contains("collapsed")) { toggle(b); } else { select(b); }
    });
  });
  layout();
  document.body.setAttribute("data-ready", "1");
})();
"""


def _hash(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


#: No network and nothing but the page's own style and script, by hash.
CSP = (f"default-src 'none'; style-src '{_hash(_CSS)}'; script-src '{_hash(_JS)}'; "
       "img-src data:; base-uri 'none'; form-action 'none'")


def _prose(text: str) -> str:
    """The ``about`` text as escaped paragraphs; `code` spans become <code>."""
    out = []
    for block in text.strip().split("\n\n"):
        para = " ".join(block.split())
        if para:
            escaped = _esc(para)
            out.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped) + "</p>")
    return "".join(out)


def _page(title: str, body: str, *, script: bool) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f'<meta http-equiv="Content-Security-Policy" content="{_esc(CSP)}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head>"
            f"<body>{body}" + (f"<script>{_JS}</script>" if script else "")
            + "</body></html>\n")


def _badge(verdict: Verdict) -> str:
    if verdict.skipped is not None:
        return '<span class="badge skip">SKIP</span>'
    return ('<span class="badge pass">PASS</span>' if verdict.passed
            else '<span class="badge fail">FAIL</span>')


def render_page(verdict: Verdict, *, index_href: str | None = None) -> str:
    """One run as a self-contained HTML page (inline CSS, JS and SVG; no network).

    Args:
        verdict: the run of one scenario (:func:`biopair.scenario.runner.run_scenario`).
        index_href: a relative link back to a site's index, if the page is part of one.

    Returns:
        The page's HTML text.
    """
    sc = verdict.scenario
    trace = verdict.trace
    nav = (f'<nav><a href="{_esc(index_href)}">&larr; the scenario library</a></nav>'
           if index_href else "")
    calls = len(trace.calls)
    meta = (f'<p class="meta">{_badge(verdict)} <code>{_esc(sc.path)}</code> &middot; '
            f'{n(calls)} call{"" if calls == 1 else "s"} &middot; {_esc(trace.link)} link'
            + (f" &middot; tags: {_esc(', '.join(sc.tags))}" if sc.tags else "") + "</p>")
    parts = [f"<header>{nav}<h1>{_esc(sc.title)}</h1>{meta}</header><main>"]
    if sc.about.strip():
        parts.append(f'<section class="about">{_prose(sc.about)}</section>')
    if verdict.skipped is not None:
        parts.append(f"<p>Not run: {_esc(verdict.skipped)}</p></main>")
        return _page(sc.title, "".join(parts), script=False)
    if verdict.failures:
        items = "".join(
            f"<li><code>{_esc(f.key)}</code>: expected <code>{_esc(str(f.expected))}</code>, "
            f"actual <code>{_esc(str(f.actual))}</code></li>" for f in verdict.failures)
        parts.append(f'<section class="failures"><p>Expectations that failed:</p>'
                     f"<ul>{items}</ul></section>")
    parts.append('<p id="help">Step through the run with the arrow keys (&darr;/&rarr; '
                 "next, &uarr;/&larr; previous, Home, End); Enter or a click opens a "
                 'folded run of repeated turns. <span id="status"></span></p>'
                 '<div id="detail" aria-live="polite">Press &darr; to start.</div>')
    parts.append(diagram(trace))
    parts.append("</main>")
    return _page(sc.title, "".join(parts), script=True)


def write_page(path: str | Path, verdict: Verdict) -> None:
    """Write :func:`render_page` to ``path`` atomically (never through a symbolic link).

    Raises:
        biopair.views.files.FileRefused: the destination is refused.
    """
    files.write_atomic(path, render_page(verdict))


# -- the site --------------------------------------------------------------------------


def page_name(relative: Path) -> Path:
    """Where a scenario's page goes in a site: ``tls/a.toml`` -> ``tls/a.html``
    (``index.toml`` at the top becomes ``index.toml.html``: ``index.html`` is the index)."""
    page = relative.with_suffix(".html")
    return relative.with_name(relative.name + ".html") if page == Path("index.html") else page


def render_index(root_name: str, entries: Iterable[tuple[Path, Verdict]]) -> str:
    """The site's index: the scenarios by directory and topic, in the index's reading
    order (:mod:`biopair.views.index`), each with its result and first paragraph."""
    from biopair.views import index

    by_dir: dict[str, list[tuple[Path, Verdict]]] = {}
    for rel, verdict in entries:
        top = rel.parts[0] if len(rel.parts) > 1 else "."
        by_dir.setdefault(top, []).append((rel, verdict))
    dirs = sorted(by_dir, key=lambda d: (list(index.SECTIONS).index(d)
                                         if d in index.SECTIONS else len(index.SECTIONS), d))
    total = sum(len(v) for v in by_dir.values())
    parts = [f"<header><h1>The scenario library: {_esc(root_name)}</h1>"
             f'<p class="meta">{n(total)} scenario{"" if total == 1 else "s"}; each page '
             "draws one run as a sequence diagram.</p></header><main>"]
    for d in dirs:
        heading, intro = index.SECTIONS.get(d, (d if d != "." else root_name, ""))
        parts.append(f"<h2>{_esc(heading)}</h2>")
        if intro:
            parts.append(f"<p>{_esc(intro)}</p>")
        ordered = sorted(by_dir[d], key=lambda e: (
            index._topic_rank(index._topic(e[1].scenario)),
            index.FIRST.index(e[0].stem) if e[0].stem in index.FIRST else len(index.FIRST),
            e[0].name))
        current = None
        for rel, verdict in ordered:
            topic = index._topic(verdict.scenario)
            if topic != current:
                if current is not None:
                    parts.append("</table>")
                parts.append(f'<h3>{_esc(topic)}</h3><table class="index">')
                current = topic
            about = index._paragraphs(verdict.scenario.about)
            first = about[0] if about else ""
            if len(first) > 300:
                first = first[:300].rsplit(" ", 1)[0] + " ..."
            href = page_name(rel).as_posix()
            parts.append(f'<tr><td>{_badge(verdict)}</td><td><a href="{_esc(href)}">'
                         f"{_esc(verdict.scenario.title)}</a><br><span class=\"meta\">"
                         f"<code>{_esc(rel.as_posix())}</code> &middot; "
                         f"{n(len(verdict.trace.calls))} calls</span>"
                         f"<br>{_esc(first)}</td></tr>")
        if current is not None:
            parts.append("</table>")
    parts.append("</main>")
    return _page(f"The scenario library: {root_name}", "".join(parts), script=False)


class SiteError(Exception):
    """The site cannot be written where asked; ``str()`` is one line."""


def _directory(path: Path) -> None:
    # A directory inside the site: created if missing, never a symbolic link.
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except OSError as exc:
        raise SiteError(f"{path}: cannot create directory: "
                        f"{(exc.strerror or str(exc)).lower()}") from None
    if path.is_symlink() or not path.is_dir():
        what = "a symbolic link" if path.is_symlink() else "not a directory"
        raise SiteError(f"{path}: is {what}, which biopair never writes through")


def prepare_site(out: str | Path) -> Path:
    """Create the site directory ``out`` (its parents may be links; nothing inside may be)
    and check that its index can be written, before any scenario runs.

    Raises:
        SiteError: the directory or its index cannot be written.
    """
    site = Path(out)
    try:
        site.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SiteError(f"{site}: cannot create directory: "
                        f"{(exc.strerror or str(exc)).lower()}") from None
    if not site.is_dir():
        raise SiteError(f"{site}: not a directory")
    problem = files.check_destination(site / "index.html")
    if problem is not None:
        raise SiteError(problem)
    return site


def write_site(site: Path, root_name: str, entries: Sequence[tuple[Path, Verdict]]) -> int:
    """Write one page per scenario and ``index.html`` into ``site`` (from
    :func:`prepare_site`), each atomically and never through a symbolic link.

    Args:
        site: the site directory.
        root_name: the scenario directory's name, for the index's heading.
        entries: each scenario's path relative to the scenario directory, and its run.

    Returns:
        The number of files written.

    Raises:
        SiteError: a directory inside the site is a link or cannot be made.
        biopair.views.files.FileRefused: a page's destination is refused.
    """
    written = 0
    for rel, verdict in entries:
        target = site / page_name(rel)
        folder = site
        for part in page_name(rel).parts[:-1]:
            folder = folder / part
            _directory(folder)
        depth = len(page_name(rel).parts) - 1
        files.write_atomic(target, render_page(verdict, index_href="../" * depth
                                               + "index.html"))
        written += 1
    files.write_atomic(site / "index.html", render_index(root_name, entries))
    return written + 1


__all__ = ["CSP", "SiteError", "diagram", "page_name", "prepare_site", "render_index",
           "render_page", "write_page", "write_site"]
