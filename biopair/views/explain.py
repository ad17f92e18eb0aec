"""Explain mode: a scenario's run told as a story, for people learning non-blocking TLS.

For every call: what the endpoint did (the messages OpenSSL reported it sent and read),
what it is waiting for (which bytes it has and which it lacks, from
:class:`~biopair.views.ladder.WireView`), and why the call returned what it returned, in the
terms of OpenSSL's manual pages.  Turns that repeat (a byte-by-byte run makes thousands)
are told once, then summarised with a count, so the story stays readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from biopair.engine.trace import (
    STACK_LABELS,
    AlertEvent,
    Call,
    LinkEvent,
    MessageEvent,
    MoveEvent,
    RunEnd,
    StateEvent,
)
from biopair.outcome import format_outcome, format_ret
from biopair.scenario.loader import Scenario
from biopair.scenario.runner import Verdict, describe_step
from biopair.views.ladder import WIDTH, Turn, collapse, glue, n, shorten_repr, show_bytes, turns
from biopair.views.ladder import fill as _fill

_FUNCTIONS = {
    # biopair makes connect and accept with SSL_do_handshake (docs/scenario-format.md)
    "connect": "SSL_do_handshake", "accept": "SSL_do_handshake",
    "handshake": "SSL_do_handshake",
    "read": "SSL_read", "peek": "SSL_peek", "write": "SSL_write",
    "shutdown": "SSL_shutdown", "renegotiate": "SSL_renegotiate",
    "verify_client_post_handshake": "SSL_verify_client_post_handshake",
}


@dataclass(frozen=True)
class Advice:
    """What an SSL_ERROR_SSL with one reason leaves the caller, as OpenSSL then behaves.

    Attributes:
        reason: a substring of the error queue's reason string it applies to.
        usable: the connection is not marked failed: other calls work as before.
        shutdown: SSL_shutdown may (and should) still be called.
        retry: the same call may be made again, once the cause is gone.
        why: what happened, in the terms of OpenSSL's sources and manual pages.
    """

    reason: str
    usable: bool
    shutdown: bool
    retry: bool
    why: str

    def text(self) -> str:
        """The advice in one sentence after ``why``."""
        if self.usable:
            parts = ["The connection is still usable"]
            parts.append("SSL_shutdown may be called (it returns 1 once the peer's "
                         "close_notify has arrived)" if self.shutdown else
                         "do not call SSL_shutdown")
            parts.append("retrying the same call can succeed once the cause is gone"
                         if self.retry else "do not retry this call")
            return "; ".join(parts) + "."
        return "The connection is unusable; do not retry and do not call SSL_shutdown."


#: SSL_ERROR_SSL advice by reason, first match wins; a reason not listed gets the
#: SSL_get_error(3) rule (fatal: no further I/O, no SSL_shutdown).  Each entry is checked
#: against what OpenSSL then does in tests/views/test_explain_advice.py.
ADVICE: tuple[Advice, ...] = (
    Advice("protocol is shutdown", usable=True, shutdown=True, retry=False, why=(
        "SSL_write refused to write because this side has already sent close_notify "
        "(SSL_SENT_SHUTDOWN is set): a refusal before any record is built, which does "
        "not mark the connection failed. SSL_read still reads what the peer sends until "
        "its close_notify.")),
    Advice("bad length", usable=False, shutdown=False, retry=False, why=(
        "a write was retried after WANT_WRITE with fewer bytes than the pending write "
        "(SSL_write(3): the retry must pass the same arguments); OpenSSL marks the "
        "connection failed (SSLfatal), where BoringSSL reports BAD_WRITE_RETRY and "
        "goes on.")),
    Advice("bad write retry", usable=False, shutdown=False, retry=False, why=(
        "a write was retried after WANT_WRITE with another buffer without "
        "SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; OpenSSL marks the connection failed.")),
    Advice("unexpected eof", usable=False, shutdown=False, retry=False, why=(
        "the peer's bytes ended without close_notify (a truncation attack, or a peer "
        "that closed its socket); the session is not resumable. With "
        "SSL_OP_IGNORE_UNEXPECTED_EOF OpenSSL reports SSL_ERROR_ZERO_RETURN instead.")),
    Advice("alert", usable=False, shutdown=False, retry=False, why=(
        "the peer sent a fatal alert: it has given up on the connection.")),
)


def advice(reasons: Sequence[str]) -> Advice | None:
    """The :data:`ADVICE` entry for an SSL_ERROR_SSL with these reasons (None: none
    applies, and the SSL_get_error(3) rule holds)."""
    for entry in ADVICE:
        if any(entry.reason in reason for reason in reasons):
            return entry
    return None


def why(call: Call) -> str:
    """Why OpenSSL returned what it did, in the words of its manual pages."""
    fn = _FUNCTIONS.get(call.op, call.op)
    # The stdlib's ssl module does not expose the raw return value: the prose style says
    # so ("? (hidden by the stdlib)"), never guesses.
    ret = format_ret(call.ret, prose=True)
    if call.error is None:
        if call.op == "shutdown":
            if call.ret is None:
                return ("The stdlib's unwrap() completed the shutdown: it calls SSL_shutdown "
                        "until that returns 1 (or 0 twice) and does not show its return "
                        "values.")
            if call.ret == 1:
                return ("SSL_shutdown returned 1: close_notify has been sent and the peer's "
                        "has been received; the shutdown is complete.")
            return (f"SSL_shutdown returned {ret}: this side's close_notify is sent, "
                    "the peer's "
                    "has not arrived yet. Call SSL_shutdown again (or SSL_read) once it "
                    "arrives. SSL_shutdown(3) says not to ask SSL_get_error() after a 0.")
        return (f"{fn} returned {ret}; it is not an I/O call, so SSL_get_error() "
                "is not asked.")
    if call.error == "NONE":
        if call.op in ("connect", "accept", "handshake"):
            return f"{fn} returned 1: the handshake is complete on this side."
        size = format_ret(call.ret, prose=True, grouped=True)
        if call.op in ("read", "peek"):
            return f"{fn} returned {size} bytes of application data."
        if call.op == "write":
            return f"{fn} returned {size}: all of it is written into records."
        return f"{fn} returned {ret}."
    if call.error == "WANT_READ":
        return (f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_WANT_READ: "
                "OpenSSL needed to read a record and the BIO could not supply the bytes. "
                "Nothing is wrong; retry the same call after more bytes arrive.")
    if call.error == "WANT_WRITE":
        return (f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_WANT_WRITE: "
                "the BIO would not take all the bytes OpenSSL had to write. Retry the same "
                "call (with the same buffer) once the link drains.")
    if call.error == "ZERO_RETURN":
        return (f"{fn} returned {ret} and SSL_get_error() said "
                "SSL_ERROR_ZERO_RETURN: the peer sent close_notify; no more application data "
                "will come from it.")
    if call.error == "SYSCALL":
        return (f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_SYSCALL: a "
                "non-recoverable I/O error (with memory BIOs: the input ended without "
                "close_notify). Do not call SSL_shutdown afterwards.")
    if call.error == "SSL":
        reasons = "; ".join(call.reasons) or "(empty error queue)"
        entry = advice(call.reasons)
        if entry is not None:
            return (f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_SSL, and the "
                    f"error queue says: {reasons}. That is: {entry.why} {entry.text()}")
        return (f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_SSL: a "
                f"protocol error, and the error queue says: {reasons}. The connection is "
                "unusable; do not retry and do not call SSL_shutdown.")
    return f"{fn} returned {ret} and SSL_get_error() said SSL_ERROR_{call.error}."


def _names(events: Sequence[object], endpoint: str, sent: bool) -> list[str]:
    out = []
    for e in events:
        if isinstance(e, MessageEvent) and e.endpoint == endpoint and e.sent == sent:
            out.append(glue(f"{e.name} ({n(e.length)} B)"))
        elif isinstance(e, AlertEvent) and e.endpoint == endpoint and e.sent == sent:
            out.append(glue(f"a {e.level} {e.description} alert"))
    return out


def pyopenssl_text(call: Call) -> str:
    """What pyOpenSSL would have returned, with a payload as its length and ends.

    Returns:
        ``return 16,384 bytes b'abcdefghijkl'...b'uvwxyzabcdef'`` for a long read (never
        the whole payload), else the view as recorded, a long one shortened.
    """
    view = call.pyopenssl
    data = bytes(call.data)
    if data and view == f"return {data!r}":
        return f"return {show_bytes(data)}"
    return shorten_repr(view)


def tell_turn(turn: Turn, steps: _Steps | None = None, width: int = WIDTH) -> list[str]:
    """The paragraph(s) for one turn (with step headings when ``steps`` is given).

    Returns:
        Wrapped lines.
    """
    out: list[str] = []
    c = turn.call
    if c is not None:
        if steps is not None:
            out += steps.enter(c.step)
        fn = _FUNCTIONS.get(c.op, c.op)
        story = [f"Call #{c.seq}: the {c.endpoint} calls {fn} ({c.op})."]
        got = _names(turn.inner, c.endpoint, sent=False)
        sent = _names(turn.inner, c.endpoint, sent=True)
        if got:
            story.append("It reads " + ", ".join(got) + ".")
        if sent:
            story.append("It sends " + ", ".join(sent) + ".")
        if c.sent:
            story.append(f"That puts {n(c.sent)} bytes on the wire to the peer.")
        if not got and not sent and not c.sent and c.outcome.wants:
            story.append("It makes no progress.")
        done = [e for e in turn.inner if isinstance(e, StateEvent) and e.where ==
                "handshake-done"]
        if done:
            story.append(f"OpenSSL reports the handshake done (state: {done[-1].state}).")
        reason = why(c)
        if steps is not None and c.error is not None and c.error != "NONE":
            # Tell the full reason once per (function, error); later just name it.
            key = f"{c.op} {c.error} {c.reasons}"
            if key in steps.told:
                ret = format_ret(c.ret, prose=True)
                reason = f"Again {_FUNCTIONS.get(c.op, c.op)} -> {ret} SSL_ERROR_{c.error}."
            steps.told.add(key)
        story.append(reason)
        if turn.waiting and c.error == "WANT_WRITE":
            story.append("It is waiting for the link: the link to the peer is full, and "
                         "takes more bytes only once the peer reads.")
        elif turn.waiting:
            story.append(f"It is waiting for the peer: it {turn.waiting}.")
        view = pyopenssl_text(c)
        if view and (steps is None or view not in steps.told):
            stack = "pyopenssl"
            if steps is not None:
                stack = getattr(steps.scenario, c.endpoint).stack
            story.append(f"({STACK_LABELS.get(stack, stack)}: {view}.)")
            if steps is not None:
                steps.told.add(view)
        out.append(_wrap(" ".join(story), width=width))
    for e in turn.after:
        if steps is not None:
            out += steps.enter(e.step)
        if isinstance(e, MoveEvent):
            left = f", {n(e.queued)} B stay queued" if e.queued else ""
            out.append(_wrap(f"  Move: {n(e.nbytes)} B delivered {e.direction}{left}.",
                             "  ", width))
        elif isinstance(e, LinkEvent):
            text = {"eof": "the sender closes its side; EOF follows the queued bytes",
                    "closed": "the receiver's BIO now reports EOF",
                    "pause": "nothing is delivered until resume",
                    "resume": "delivery resumes"}.get(e.kind, e.kind)
            out.append(_wrap(f"  Link {e.direction}: {e.kind} ({text}).", "  ", width))
        elif isinstance(e, RunEnd):
            end = f" and ended with {e.terminal}" if e.terminal else ""
            out.append(f"  The run made {n(e.calls)} calls{end}.")
    return out


def _wrap(text: str, indent: str = "", width: int = WIDTH) -> str:
    return _fill(text, width, "", indent + "  ")


def _summary(hidden: Sequence[Turn], period: int, reps: int, width: int = WIDTH) -> str:
    calls = [t.call for t in hidden if t.call is not None]
    who = sorted({f"{c.endpoint} {c.op} -> {format_outcome(c.outcome)}" for c in calls})
    moved = sum(e.nbytes for t in hidden for e in t.after if isinstance(e, MoveEvent))
    span = f"calls #{calls[0].seq} to #{calls[-1].seq}" if calls else "these turns"
    return _wrap(f"  ... and the same again {n(reps)} more times ({span}): "
                 f"{'; '.join(who)}, while {n(moved)} more bytes trickle across. "
                 "Each call retries because the bytes it needs have not all arrived.", "  ",
                 width)



def _paragraphs(text: str) -> list[str]:
    # A scenario's ``about`` as paragraphs to re-wrap: its lines were wrapped for the file
    # (about 90 columns), so each line of a paragraph joins the one before, except a blank
    # line, a list item or an indented line, which keep their own lines.
    out: list[str] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        keep = (not stripped or line[:1].isspace() or stripped[:2] in ("- ", "* ")
                or not out or not out[-1])
        if keep:
            out.append(stripped)
        else:
            out[-1] += " " + stripped
    return out

def explain(verdict: Verdict, width: int = WIDTH) -> str:
    """The narrative for a run, step by step.

    Args:
        verdict: the run.
        width: the line width (words are wrapped, never cut).

    Returns:
        Text at most ``width`` columns wide (a single word longer than a line aside): the
        scenario's title and ``about``, then each step's turns, with repeated turns
        summarised, then every expectation that failed.
    """
    sc = verdict.scenario
    lines = [_wrap(f"{sc.path}: {sc.title}", width=width)]
    if sc.about.strip():
        lines += ["", "The scenario says:"]
        for line in _paragraphs(sc.about):
            lines.append(_fill(line, width, "  > ", "  > ") if line else "  >")
    steps = _Steps(sc)
    grouped = turns(verdict.trace)
    for start, period, reps in collapse([t.key() for t in grouped]):
        for turn in grouped[start:start + period]:
            lines += tell_turn(turn, steps, width)
        if reps > 1:
            lines.append(_summary(grouped[start + period:start + period * reps],
                                  period, reps - 1, width))
    lines.append("")
    if verdict.failures:
        lines.append("The scenario's expectations did not hold:")
        for f in verdict.failures:
            after = " (after the run diverged)" if getattr(f, "diverged", False) else ""
            lines.append(_wrap(f"  {f.key}{after}: expected {f.expected}, got {f.actual}",
                               "  ", width))
    else:
        lines.append("Every expectation of the scenario held.")
    return "\n".join(lines)


class _Steps:
    """Emits a heading whenever the story moves on to another scenario step."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.current: int | None = None
        self.told: set[str] = set()

    def enter(self, step: int | None) -> list[str]:
        if step is None or step == self.current or step >= len(self.scenario.steps):
            return []
        self.current = step
        return ["", f"Step {step + 1}: {describe_step(self.scenario.steps[step])}"]
