"""Outcomes of SSL calls, and the pattern language scenarios use to assert them.

An outcome is what one SSL call returned: the raw return value, the SSL_get_error() name
(or None where it must not be asked) and the error queue's reason strings.  A run can also
end in a terminal outcome: ``DEADLOCK`` (no endpoint can make progress and no bytes can
move), ``STRANDED`` (a DEADLOCK while bytes wait inside a wrapper endpoint; its reasons
say where) or ``LIMIT`` (the scenario's ``max_calls`` cap was reached).  A wrapper
endpoint (asyncio, Twisted, trio, your own object) reports the application's view:
``PENDING`` (still waiting, repeated like WANT_*) and ``CLOSED``, with a hidden return.

Patterns (grammar and limits in docs/scenario-format.md)::

    pattern  := branch ("|" branch)*    # alternatives; a sequence binds tighter than |
    branch   := item+
    item     := atom quant?
    atom     := outcome | "ANY" | terminal | "(" pattern ")"
    terminal := ("DEADLOCK" | "LIMIT" | "STRANDED") REASON?
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

Patterns compile to a Thompson NFA over outcome predicates and match by simulating it
(the theory of operation is at the pattern section below): a whole-sequence match takes
O(len(outcomes) x pattern size) time, whatever the quantifiers and nesting.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    # The application's view of a wrapper endpoint (asyncio, Twisted, trio, your own
    # sans-I/O object; docs/wrappers.md), which has no SSL_get_error() to ask:
    "PENDING",  # the wrapper is still waiting (no handshake yet, nothing arrived, ...)
    "CLOSED",  # the wrapper reports the connection closed (end of stream, connection lost)
)
#: Terminal tokens a run can end with.  ``STRANDED`` is a DEADLOCK in which bytes still
#: wait inside a wrapper endpoint (its buffers, SSL_pending, an unread socket buffer):
#: its reasons say where (docs/wrappers.md).
TERMINALS: tuple[str, ...] = ("DEADLOCK", "LIMIT", "STRANDED")


def wants(error: str | None) -> bool:
    """True when an error name asks for the call to be repeated (WANT_READ, WANT_WRITE,
    ..., and a wrapper's PENDING): the one definition :class:`Outcome` and the trace's
    calls share."""
    return error is not None and (error.startswith("WANT_") or error == "PENDING")


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
        """True for ``DEADLOCK``, ``LIMIT`` and ``STRANDED``."""
        return self.error in TERMINALS

    @property
    def wants(self) -> bool:
        """True when OpenSSL asked to be called again (WANT_READ, WANT_WRITE, ...)."""
        return wants(self.error)

    def token(self) -> str:
        """This outcome written in the pattern language (what a scenario would assert)."""
        return format_outcome(self, Style.TOKEN)

    def encode(self) -> str:
        """This outcome as one flat string, ``ret|error|reasons;`` (``DEADLOCK;`` for a
        terminal), ``;`` and ``|`` in reasons written as ``,``.  A pattern's REASON is
        matched against the reasons part of this string."""
        if self.terminal and not self.reasons:
            return f"{self.error};"
        reasons = "\x1f".join(r.replace(";", ",").replace("|", ",") for r in self.reasons)
        ret = "?" if self.ret is None else self.ret
        return f"{ret}|{self.error or '-'}|{reasons};"


DEADLOCK = Outcome(0, "DEADLOCK")
LIMIT = Outcome(0, "LIMIT")


def stranded(where: Iterable[str]) -> Outcome:
    """The ``STRANDED`` terminal, its reasons naming where the bytes wait
    (``client: 100 bytes in Twisted's _appSendBuffer``)."""
    return Outcome(0, "STRANDED", tuple(where))


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
        if outcome.reasons:  # STRANDED says where the bytes wait
            quoted = outcome.reasons[0] if style is Style.TOKEN else "; ".join(outcome.reasons)
            return f'{outcome.error} "{quoted}"'
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


# -- the pattern language ---------------------------------------------------------------
#
# Theory of operation.  A pattern is tokenized (one anchored regular-expression match per
# token, whitespace skipped separately, so tokenizing is linear), parsed by recursive
# descent with the nesting depth capped at MAX_DEPTH, and compiled to a Thompson NFA whose
# only non-epsilon states are *atoms*: predicates on one Outcome (a return value, an error
# name, a reason substring, HIDDEN, ANY, a terminal).  Quantifiers expand to copies of
# what they repeat (``{n,m}``: n required copies, m-n nested optional ones; ``+`` and
# ``*``: one copy and a loop), so the compiled size is known from the parse tree before a
# single state is built, and a pattern over MAX_STATES is refused without building it.
#
# Matching is a set-of-states simulation: the current set holds the atom states that may
# consume the next outcome; each outcome advances every atom that accepts it and takes
# the epsilon closure of the successors, visiting each state at most once per outcome.
# A whole-sequence match asks only "is there a path", which is exactly what the old
# greedy, backtracking regular expression answered -- so every pattern keeps its
# meaning -- but the time is O(len(outcomes) x size), whatever the nesting, and no
# regular-expression engine runs over the outcomes.

#: The longest pattern accepted, in characters.
MAX_PATTERN_CHARS = 100_000
#: How deeply groups may nest: ``((WANT_READ) 1)`` nests 2 deep.
MAX_DEPTH = 50
#: The largest count a bounded quantifier may name (``n`` and ``m`` in ``{n,m}``).
MAX_REPEAT = 10_000
#: The most states a pattern may compile to (:attr:`Pattern.size`): one per atom, per
#: copy a quantifier makes of it, plus one per ``|``, per optional copy and per loop.
MAX_STATES = 10_000
#: The return values a pattern may name: those of a C ``int``.
RET_MIN, RET_MAX = -(2**31), 2**31 - 1


class PatternError(ValueError):
    """A malformed outcome pattern, or one over a limit; one line that says which."""


def _reason_text(outcome: Outcome) -> str:
    # The reasons as one string, with the separators of Outcome.encode() made harmless:
    # a pattern's REASON is a substring of this (so 'SSL "a,b"' matches reason "a;b").
    return "\x1f".join(r.replace(";", ",").replace("|", ",") for r in outcome.reasons)


@dataclass(frozen=True)
class _Atom:
    # A predicate on one outcome.  kind: "any", "terminal" (name), "value" (rets; the
    # error NONE or not asked) or "error" (rets, name, reason substring).
    kind: str
    name: str | None = None
    rets: tuple[int | None, ...] = ()
    reason: str = ""

    def __post_init__(self) -> None:
        # The reasons are compared with their separators written as "," (_reason_text), so
        # the pattern's REASON is too: 'SSL "a;b"' matches reason "a;b", as 'SSL "a,b"' does.
        object.__setattr__(self, "reason", self.reason.replace(";", ",").replace("|", ","))

    def accepts(self, outcome: Outcome) -> bool:
        if self.kind == "any":
            return True
        if outcome.terminal or self.kind == "terminal":
            return self.kind == "terminal" and outcome.error == self.name and (
                not self.reason or self.reason in _reason_text(outcome))
        if outcome.ret not in self.rets:
            return False
        if self.kind == "value":
            return (outcome.error or "-") in ("NONE", "-")
        return outcome.error == self.name and (
            not self.reason or self.reason in _reason_text(outcome))


_ATOM, _SPLIT, _MATCH = 0, 1, 2
#: How many sets of states one match remembers the moves of (then it forgets them all).
_REMEMBERED_SETS = 128
_REMEMBERED_MOVES = 4096


@dataclass(frozen=True)
class _Program:
    # The compiled NFA, as parallel tuples indexed by state: kinds[s] is _ATOM (the
    # predicate tests[atom_ids[s]], then out1[s]), _SPLIT (out1[s] and out2[s], no outcome
    # consumed) or _MATCH.  tests holds each distinct predicate once, however many copies
    # quantifiers made.  start: the atom states of the start state's epsilon closure.
    kinds: tuple[int, ...]
    atom_ids: tuple[int, ...]
    tests: tuple[_Atom, ...]
    out1: tuple[int, ...]
    out2: tuple[int, ...]
    start: tuple[int, ...]
    start_accepts: bool

    def closure(self, seeds: Iterable[int]) -> tuple[tuple[int, ...], bool, int]:
        """The atom states reachable from ``seeds`` without consuming an outcome, whether
        the match state is among them, and how many states were visited (each once)."""
        kinds, out1, out2 = self.kinds, self.out1, self.out2
        seen: set[int] = set()
        found: list[int] = []
        accepts = False
        stack = list(seeds)
        stack.reverse()
        while stack:
            state = stack.pop()
            if state in seen:
                continue
            seen.add(state)
            kind = kinds[state]
            if kind == _SPLIT:
                stack.append(out2[state])
                stack.append(out1[state])
            elif kind == _ATOM:
                found.append(state)
            else:
                accepts = True
        return tuple(found), accepts, len(seen)

    def run(self, outcomes: Iterable[Outcome]) -> tuple[bool, int]:
        """Whether the whole sequence matches, and the work done (predicates tested plus
        states visited): at most ``3 * size`` per outcome.

        The current set of states is numbered, and the move from it on each combination
        of predicate verdicts is remembered (a lazily built DFA, forgotten wholesale when
        it grows past a bound), so a long run of like outcomes costs a few predicate tests
        each; a move not seen yet costs one epsilon closure, O(size).
        """
        tests, ids, out1 = self.tests, self.atom_ids, self.out1
        numbers: dict[tuple[tuple[int, ...], bool], int] = {}
        sets: list[tuple[tuple[int, ...], bool, tuple[int, ...]]] = []
        moves: dict[tuple[int, tuple[bool, ...]], int] = {}

        def number(states: tuple[int, ...], accepts: bool) -> int:
            key = (states, accepts)
            found = numbers.get(key)
            if found is None:
                found = numbers[key] = len(sets)
                sets.append((states, accepts, tuple(sorted({ids[s] for s in states}))))
            return found

        current = number(self.start, self.start_accepts)
        work = 0
        for outcome in outcomes:
            states, accepts, used = sets[current]
            if not states:
                return False, work
            if len(sets) >= _REMEMBERED_SETS or len(moves) >= _REMEMBERED_MOVES:
                numbers.clear()
                sets.clear()
                moves.clear()
                current = number(states, accepts)
            verdicts = tuple(tests[i].accepts(outcome) for i in used)
            work += len(used)
            nxt = moves.get((current, verdicts))
            if nxt is None:
                passed = {i for i, ok in zip(used, verdicts, strict=True) if ok}
                found, found_accepts, visited = self.closure(
                    [out1[s] for s in states if ids[s] in passed])
                work += len(states) + visited
                nxt = moves[(current, verdicts)] = number(found, found_accepts)
            current = nxt
        return sets[current][1], work


@dataclass(frozen=True)
class Pattern:
    """A compiled outcome pattern.

    Attributes:
        text: the pattern as written.
        program: the compiled automaton (opaque; it replaced the regular expression the
            pattern compiled to before, the ``regex`` attribute).
    """

    text: str
    program: _Program = field(repr=False)

    def matches(self, outcomes: Sequence[Outcome]) -> bool:
        """True when the whole sequence matches.  Time: O(len(outcomes) x :attr:`size`)."""
        return self.program.run(outcomes)[0]

    def match_steps(self, outcomes: Sequence[Outcome]) -> int:
        """The work :meth:`matches` does on ``outcomes`` (states visited plus atoms
        tested), for checking the linear-time bound: at most
        ``3 * size * len(outcomes)``."""
        return self.program.run(outcomes)[1]

    @property
    def size(self) -> int:
        """How many states the pattern compiled to (at most :data:`MAX_STATES`)."""
        return len(self.program.kinds)

    @property
    def allows_terminal(self) -> bool:
        """True when the pattern names DEADLOCK or LIMIT."""
        return any(a.kind == "terminal" for a in self.program.tests)


_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(
    r"""(?P<int>-?[0-9]+)
      | (?P<name>[A-Z][A-Z0-9_]*)
      | "(?P<reason>[^"]*)"
      | (?P<quant>[+*?]|\{[0-9]+(?:,[0-9]*)?\})
      | (?P<open>\()
      | (?P<close>\))
      | (?P<alt>\|)
      | (?P<bad>\S+)""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    # One anchored match per token; whitespace is skipped by its own match, which never
    # backtracks (a leading \s* inside _TOKEN made trailing blanks quadratic).
    tokens: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            return tokens
        m = _TOKEN.match(text, pos)
        assert m is not None and m.lastgroup is not None  # (?P<bad>\S+) matches anything
        tokens.append((m.lastgroup, m.group(m.lastgroup)))
        pos = m.end()


def _clip(text: str, limit: int = 60) -> str:
    # A value quoted in an error message: repr() escapes control characters and
    # newlines (the message stays one line); a long value is cut.
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text):,} characters)"


def compile_pattern(text: str) -> Pattern:
    """Compile a pattern (grammar and limits in docs/scenario-format.md).

    Raises:
        PatternError: one line naming the offending token or the limit exceeded.
    """
    if not isinstance(text, str) or not text.strip():
        raise PatternError("an outcome pattern must be a non-empty string")
    if len(text) > MAX_PATTERN_CHARS:
        raise PatternError(
            f"an outcome pattern may be at most {MAX_PATTERN_CHARS:,} characters long, "
            f"this one has {len(text):,}")
    tree = _Parser(_tokenize(text), text).parse()
    return Pattern(text=text, program=_build(tree))


# A parse tree node: (tag, payload, size), size = the states it compiles to.
#   ("atom", _Atom, 1) | ("seq", (node, ...), n) | ("alt", (node, ...), n)
#   | ("rep", (node, min, max | None), n)
_Node = tuple[str, Any, int]


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
        return PatternError(f"{message} in pattern {_clip(self.text)}")

    def check(self, size: int) -> None:
        # Sizes are summed and multiplied as the tree is parsed, before anything is built,
        # so an oversized pattern costs no more than reading it.
        if size > MAX_STATES - 1:  # the match state is the last one
            raise self.fail(
                f"pattern too large: it compiles to more than {MAX_STATES:,} states "
                "(a quantifier copies what it repeats)")

    def node(self, tag: str, payload: Any, size: int) -> _Node:
        self.check(size)
        return (tag, payload, size)

    def parse(self) -> _Node:
        tree = self.alternation(0)
        leftover = self.peek()
        if leftover is not None:
            raise self.fail(f"unexpected {_clip(leftover[1])}")
        return tree

    def alternation(self, depth: int) -> _Node:
        branches = [self.sequence(depth)]
        while (tok := self.peek()) is not None and tok[0] == "alt":
            self.take()
            branches.append(self.sequence(depth))
        if len(branches) == 1:
            return branches[0]
        size = sum(b[2] for b in branches) + len(branches) - 1
        return self.node("alt", tuple(branches), size)

    def sequence(self, depth: int) -> _Node:
        parts: list[_Node] = []
        size = 0
        while (tok := self.peek()) is not None and tok[0] not in ("close", "alt"):
            parts.append(self.item(depth))
            size += parts[-1][2]
            self.check(size)
        if not parts:
            after_bar = self.pos > 0 and self.tokens[self.pos - 1][0] == "alt"
            if after_bar or (tok is not None and tok[0] == "alt"):
                raise self.fail("empty alternative beside '|'")
            raise self.fail("empty pattern or group")
        return parts[0] if len(parts) == 1 else ("seq", tuple(parts), size)

    def item(self, depth: int) -> _Node:
        atom = self.atom(depth)
        tok = self.peek()
        if tok is None or tok[0] != "quant":
            return atom
        self.take()
        lo, hi = self.bounds(tok[1])
        # Unbounded: lo copies (one at least) and a loop; else hi copies, hi - lo optional.
        size = max(lo, 1) * atom[2] + 1 if hi is None else hi * atom[2] + hi - lo
        return self.node("rep", (atom, lo, hi), size)

    def bounds(self, quant: str) -> tuple[int, int | None]:
        if quant == "+":
            return 1, None
        if quant == "*":
            return 0, None
        if quant == "?":
            return 0, 1
        counts: list[int | None] = []
        for digits in quant[1:-1].split(","):
            if not digits:
                counts.append(None)
            elif len(digits) > len(str(MAX_REPEAT)) or int(digits) > MAX_REPEAT:
                raise self.fail(
                    f"quantifier {_clip(quant)}: a count may be at most {MAX_REPEAT:,}")
            else:
                counts.append(int(digits))
        lo = counts[0]
        assert lo is not None  # the token requires digits before any comma
        hi = counts[1] if len(counts) == 2 else lo
        if hi is not None and hi < lo:
            raise self.fail(f"quantifier {quant} has max < min")
        return lo, hi

    def atom(self, depth: int) -> _Node:
        kind, value = self.take()
        if kind == "open":
            if depth >= MAX_DEPTH:
                raise self.fail(f"groups nest more than {MAX_DEPTH} deep")
            inner = self.alternation(depth + 1)
            if self.peek() is None or self.take()[0] != "close":
                raise self.fail("unclosed '('")
            return inner
        if kind == "int":
            ret = self.ret(value)
            nxt = self.peek()
            if ret <= 0 and nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                self.take()
                return self.outcome((ret,), nxt[1])
            return ("atom", _Atom("value", rets=(ret,)), 1)
        if kind == "name":
            if value in TERMINALS:
                nxt = self.peek()
                if nxt is not None and nxt[0] == "reason":  # STRANDED "where"
                    self.take()
                    return ("atom", _Atom("terminal", name=value, reason=nxt[1]), 1)
                return ("atom", _Atom("terminal", name=value), 1)
            if value == "ANY":
                return ("atom", _Atom("any"), 1)
            if value == "HIDDEN":
                nxt = self.peek()
                if nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                    self.take()
                    return self.outcome((None,), nxt[1])
                return ("atom", _Atom("value", rets=(None,)), 1)
            if value not in ERROR_NAMES:
                raise self.fail(
                    f"unknown outcome {_clip(value)} (expected a return value, "
                    f"{', '.join(ERROR_NAMES)}, ANY, HIDDEN, DEADLOCK, LIMIT or STRANDED)"
                )
            return self.outcome((-1, None), value)
        if kind == "quant":
            raise self.fail(f"quantifier {_clip(value)} follows nothing")
        if kind == "reason":
            raise self.fail(f"reason {_clip(value)} must follow an error name")
        if kind == "close":
            raise self.fail("unbalanced ')'")
        raise self.fail(f"unexpected {_clip(value)}")

    def ret(self, digits: str) -> int:
        # Checked by length first: int() of thousands of digits is slow, then refused.
        if len(digits.lstrip("-")) <= len(str(RET_MAX)):
            ret = int(digits)
            if RET_MIN <= ret <= RET_MAX:
                return ret
        raise self.fail(
            f"return value {_clip(digits)} is out of range ({RET_MIN} to {RET_MAX})")

    def outcome(self, rets: tuple[int | None, ...], name: str) -> _Node:
        reason = ""
        nxt = self.peek()
        if nxt is not None and nxt[0] == "reason":
            self.take()
            reason = nxt[1]
        return ("atom", _Atom("error", name=name, rets=rets, reason=reason), 1)


def _build(tree: _Node) -> _Program:
    # Thompson's construction, built back to front: each node is compiled knowing the
    # state that follows it, so no fragment needs patching.  Recursion is bounded by the
    # nesting depth the parser allows.
    kinds: list[int] = []
    atom_ids: list[int] = []
    tests: dict[_Atom, int] = {}
    out1: list[int] = []
    out2: list[int] = []

    def new(kind: int, atom: _Atom | None, first: int, second: int = -1) -> int:
        kinds.append(kind)
        atom_ids.append(-1 if atom is None else tests.setdefault(atom, len(tests)))
        out1.append(first)
        out2.append(second)
        return len(kinds) - 1

    def build(node: _Node, nxt: int) -> int:
        tag, payload, _ = node
        if tag == "atom":
            return new(_ATOM, payload, nxt)
        if tag == "seq":
            for child in reversed(payload):
                nxt = build(child, nxt)
            return nxt
        if tag == "alt":
            starts = [build(child, nxt) for child in payload]
            state = starts[-1]
            for other in reversed(starts[:-1]):
                state = new(_SPLIT, None, other, state)
            return state
        child, lo, hi = payload
        if hi is None:
            loop = new(_SPLIT, None, -1, nxt)
            body = build(child, loop)
            out1[loop] = body
            state, copies = (loop, 0) if lo == 0 else (body, lo - 1)
        else:
            state, copies = nxt, lo
            for _ in range(hi - lo):
                state = new(_SPLIT, None, build(child, state), nxt)
        for _ in range(copies):
            state = build(child, state)
        return state

    match = new(_MATCH, None, -1)
    start = build(tree, match)
    program = _Program(tuple(kinds), tuple(atom_ids), tuple(tests), tuple(out1), tuple(out2),
                       (), False)
    first, accepts, _ = program.closure([start])
    return dataclasses.replace(program, start=first, start_accepts=accepts)
