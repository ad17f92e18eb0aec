"""Outcomes of SSL calls, and the pattern language scenarios use to assert them.

An outcome is what one SSL call returned: the raw return value, the SSL_get_error() name
(or None where it must not be asked) and the error queue's reason strings.  A run can also
end in a terminal outcome: ``DEADLOCK`` (no endpoint can make progress and no bytes can
move) or ``LIMIT`` (the scenario's ``max_calls`` cap was reached).

Patterns (grammar in docs/scenario-format.md)::

    pattern  := item+
    item     := atom quant?
    atom     := outcome | "ANY" | "DEADLOCK" | "LIMIT" | "(" pattern ")"
    outcome  := INT                     # that return value, SSL_get_error NONE or not asked
              | INT NAME REASON?        # INT <= 0 only: a positive return has no error
              | NAME REASON?            # shorthand for -1 NAME (or HIDDEN NAME, below)
              | "HIDDEN" (NAME REASON?)?  # the stack hid the return value (stdlib ssl)
    quant    := "+" | "*" | "?" | "{n}" | "{n,}" | "{n,m}"
    REASON   := a double-quoted substring of one of the queue's reason strings

An endpoint on Python's ``ssl`` module cannot see the C return value of a failed call
(the module raises an exception instead); such an outcome has ``ret = None``, shown as
``?`` in traces.  ``HIDDEN NAME`` matches exactly that, the shorthand ``NAME`` matches it
too (so one pattern fits both stacks), and ``INT NAME`` never does.

Patterns compile to a regular expression over an encoding of the outcome sequence, so
quantifiers have their usual (greedy, backtracking) meaning.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

#: SSL_get_error() names, in the order the man page lists them: the one vocabulary of
#: error names.  Patterns may use them; each stack maps its own codes to them
#: (``SSL_ERROR_<name>``: ``_openssl.ERROR_NAMES`` for C codes, the stdlib endpoint's
#: table for ``SSLError.errno``).
ERROR_NAMES: tuple[str, ...] = (
    "NONE",
    "ZERO_RETURN",
    "WANT_READ",
    "WANT_WRITE",
    "WANT_X509_LOOKUP",
    "SYSCALL",
    "SSL",
)
#: Terminal tokens a run can end with.
TERMINALS: tuple[str, ...] = ("DEADLOCK", "LIMIT")


@dataclass(frozen=True)
class Outcome:
    """One result in a sequence: an SSL call's, or a run's terminal ``DEADLOCK``/``LIMIT``.

    Attributes:
        ret: the C return value (0 for terminals).
        error: SSL_get_error() name; None where not asked; a terminal's name for terminals.
        reasons: the error queue's reason strings, oldest first.
    """

    ret: int | None
    error: str | None
    reasons: tuple[str, ...] = ()

    @property
    def terminal(self) -> bool:
        """True for ``DEADLOCK`` and ``LIMIT``."""
        return self.error in TERMINALS

    @property
    def wants(self) -> bool:
        """True when OpenSSL asked to be called again (WANT_READ, WANT_WRITE, ...)."""
        return self.error is not None and self.error.startswith("WANT_")

    def token(self) -> str:
        """This outcome written in the pattern language (what a scenario would assert)."""
        return format_outcome(self, Style.TOKEN)

    def encode(self) -> str:
        """The string :class:`Pattern` regular expressions run over."""
        if self.terminal:
            return f"{self.error};"
        reasons = "\x1f".join(r.replace(";", ",").replace("|", ",") for r in self.reasons)
        ret = "?" if self.ret is None else self.ret
        return f"{ret}|{self.error or '-'}|{reasons};"


DEADLOCK = Outcome(0, "DEADLOCK")
LIMIT = Outcome(0, "LIMIT")


# One outcome formatter.  Every place that writes an outcome -- the pattern tokens of a
# failure report, the ladder, the call trace, explain, diff -- goes through these three
# functions, so a hidden return value or an unasked SSL_get_error() reads the same
# everywhere.  They live here, at the bottom layer, because the engine's trace uses them.

#: How a return value the stack hid is written.  Python's ``ssl`` raises instead of
#: returning it, so there is no number to show, and biopair never makes one up.
HIDDEN_RET = "?"
#: The same in a sentence (explain mode), where a bare ``?`` would read as a typo.
HIDDEN_RET_PROSE = "? (hidden by the stdlib)"


class Style(enum.Enum):
    """The forms :func:`format_outcome` writes an outcome in."""

    #: The pattern language, what a scenario would assert: ``WANT_READ`` (-1 implied),
    #: ``0 SSL "bad record mac"`` (the first reason only), ``1``, ``HIDDEN``, ``DEADLOCK``.
    TOKEN = "token"
    #: For people: ``-1 WANT_READ``, ``? WANT_READ`` (a hidden return value), ``1``,
    #: ``0 (SSL_get_error not asked)``, ``-1 SSL "reason; reason"`` (every reason).
    TEXT = "text"


def format_ret(ret: int | None, *, prose: bool = False, grouped: bool = False) -> str:
    """A raw return value: ``-1``, or ``16,384`` with ``grouped``.

    A value the stack hid is :data:`HIDDEN_RET`, or :data:`HIDDEN_RET_PROSE` with ``prose``.
    """
    if ret is None:
        return HIDDEN_RET_PROSE if prose else HIDDEN_RET
    return f"{ret:,}" if grouped else str(ret)


def format_reasons(reasons: Sequence[str]) -> str:
    """The error queue as one quoted string, oldest first: ``"a; b"`` (``""``: empty)."""
    return f'"{"; ".join(reasons)}"' if reasons else ""


def format_outcome(outcome: Outcome, style: Style = Style.TEXT) -> str:
    """One outcome as text in ``style`` (see :class:`Style` for each form)."""
    if outcome.terminal:
        return str(outcome.error)
    ret, error, reasons = outcome.ret, outcome.error, outcome.reasons
    if style is Style.TOKEN:
        if error in (None, "NONE"):
            return "HIDDEN" if ret is None else str(ret)
        text = str(error) if ret in (-1, None) else f"{ret} {error}"
        # A pattern's REASON is a substring of one reason: the first is the one to quote.
        return f'{text} "{reasons[0]}"' if reasons else text
    if error is None:
        return f"{format_ret(ret)} (SSL_get_error not asked)"
    if error == "NONE":
        return format_ret(ret)
    text = f"{format_ret(ret)} {error}"
    return f"{text} {format_reasons(reasons)}" if reasons else text


def summarize(outcomes: Iterable[Outcome]) -> str:
    """Write a sequence compactly in the pattern language: ``WANT_READ{7} 1``."""
    parts: list[str] = []
    last: str | None = None
    count = 0
    for outcome in outcomes:
        token = outcome.token()
        if token == last:
            count += 1
            continue
        if last is not None:
            parts.append(_repeat(last, count))
        last, count = token, 1
    if last is not None:
        parts.append(_repeat(last, count))
    return " ".join(parts) if parts else "(no calls)"


def _repeat(token: str, count: int) -> str:
    if count == 1:
        return token
    return f"({token}){{{count}}}" if " " in token else f"{token}{{{count}}}"


class PatternError(ValueError):
    """A malformed outcome pattern; the message says where."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<int>-?\d+)
      | (?P<name>[A-Z][A-Z0-9_]*)
      | "(?P<reason>[^"]*)"
      | (?P<quant>[+*?]|\{\d+(?:,\d*)?\})
      | (?P<open>\()
      | (?P<close>\))
      | (?P<bad>\S+)
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Pattern:
    """A compiled outcome pattern.

    Attributes:
        text: the pattern as written.
        regex: the compiled regular expression over :meth:`Outcome.encode` strings.
    """

    text: str
    regex: re.Pattern[str]

    def matches(self, outcomes: Sequence[Outcome]) -> bool:
        """True when the whole sequence matches."""
        return self.regex.fullmatch("".join(o.encode() for o in outcomes)) is not None

    @property
    def allows_terminal(self) -> bool:
        """True when the pattern names DEADLOCK or LIMIT."""
        return any(t in self.text for t in TERMINALS)


def compile_pattern(text: str) -> Pattern:
    """Compile a pattern.

    Raises:
        PatternError: with a message naming the offending token.
    """
    if not isinstance(text, str) or not text.strip():
        raise PatternError("an outcome pattern must be a non-empty string")
    tokens = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        tokens.append((kind, m.group(kind)))
    parser = _Parser(tokens, text)
    regex = parser.parse()
    try:
        return Pattern(text=text, regex=re.compile(regex))
    except re.error as exc:  # pragma: no cover - the parser emits valid regexes
        raise PatternError(f"cannot compile {text!r}: {exc}") from exc


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], text: str) -> None:
        self.tokens = tokens
        self.pos = 0
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, message: str) -> PatternError:
        return PatternError(f"{message} in pattern {self.text!r}")

    def parse(self) -> str:
        regex = self.sequence()
        leftover = self.peek()
        if leftover is not None:
            raise self.fail(f"unexpected {leftover[1]!r}")
        return regex

    def sequence(self) -> str:
        parts = []
        while (tok := self.peek()) is not None and tok[0] != "close":
            parts.append(self.item())
        if not parts:
            raise self.fail("empty pattern or group")
        return "".join(parts)

    def item(self) -> str:
        atom = self.atom()
        tok = self.peek()
        if tok is not None and tok[0] == "quant":
            self.take()
            quant = tok[1]
            if quant.startswith("{"):
                bounds = quant[1:-1].split(",")
                if len(bounds) == 2 and bounds[1] and int(bounds[1]) < int(bounds[0]):
                    raise self.fail(f"quantifier {quant} has max < min")
            return f"(?:{atom}){quant}"
        return atom

    def atom(self) -> str:
        kind, value = self.take()
        if kind == "open":
            inner = self.sequence()
            if self.peek() is None or self.take()[0] != "close":
                raise self.fail("unclosed '('")
            return f"(?:{inner})"
        if kind == "int":
            ret = int(value)
            nxt = self.peek()
            if ret <= 0 and nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                self.take()
                return self.outcome(ret, nxt[1])
            return f"{re.escape(str(ret))}\\|(?:NONE|-)\\|[^;]*;"
        if kind == "name":
            if value in TERMINALS:
                return f"{value};"
            if value == "ANY":
                return "[^;]*;"
            if value == "HIDDEN":
                nxt = self.peek()
                if nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                    self.take()
                    return self.outcome(None, nxt[1])
                return "\\?\\|(?:NONE|-)\\|[^;]*;"
            if value not in ERROR_NAMES:
                raise self.fail(
                    f"unknown outcome {value!r} (expected a return value, "
                    f"{', '.join(ERROR_NAMES)}, ANY, HIDDEN, DEADLOCK or LIMIT)"
                )
            return self.outcome(-1, value, shorthand=True)
        if kind == "quant":
            raise self.fail(f"quantifier {value!r} follows nothing")
        if kind == "reason":
            raise self.fail(f'reason "{value}" must follow an error name')
        if kind == "close":
            raise self.fail("unbalanced ')'")
        raise self.fail(f"unexpected {value!r}")

    def outcome(self, ret: int | None, name: str, shorthand: bool = False) -> str:
        reason = ""
        nxt = self.peek()
        if nxt is not None and nxt[0] == "reason":
            self.take()
            reason = nxt[1]
        reasons = f"[^;]*{re.escape(reason)}[^;]*" if reason else "[^;]*"
        if ret is None:
            head = "\\?"
        elif shorthand:
            head = "(?:-1|\\?)"
        else:
            head = re.escape(str(ret))
        return f"{head}\\|{name}\\|{reasons};"
