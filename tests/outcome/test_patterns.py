"""The outcome pattern matcher: same answers as the regex matcher it replaced, linear
time whatever the nesting, one-line errors at its limits, and alternation.

The regex compiler that patterns used before the NFA is kept here, and only here, as the
oracle (extended with ``|`` the obvious way): a whole-sequence regex match answers "is
there a path", which is what the NFA must answer too.
"""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from biopair.outcome import (
    DEADLOCK,
    ERROR_NAMES,
    LIMIT,
    MAX_DEPTH,
    MAX_PATTERN_CHARS,
    MAX_REPEAT,
    MAX_STATES,
    TERMINALS,
    Outcome,
    PatternError,
    compile_pattern,
)

# -- the oracle: the old regex compiler --------------------------------------------------

_ORACLE_TOKEN = re.compile(
    r"""\s*(?:
        (?P<int>-?\d+)
      | (?P<name>[A-Z][A-Z0-9_]*)
      | "(?P<reason>[^"]*)"
      | (?P<quant>[+*?]|\{\d+(?:,\d*)?\})
      | (?P<open>\()
      | (?P<close>\))
      | (?P<alt>\|)
      | (?P<bad>\S+)
    )""",
    re.VERBOSE,
)


def oracle(text: str, outcomes: list[Outcome]) -> bool:
    """What the regex matcher answered (patterns here are well formed)."""
    tokens = [(m.lastgroup, m.group(m.lastgroup)) for m in _ORACLE_TOKEN.finditer(text)
              if m.lastgroup]
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def alternation() -> str:
        branches = [sequence()]
        while (tok := peek()) is not None and tok[0] == "alt":
            take()
            branches.append(sequence())
        return "(?:" + "|".join(branches) + ")"

    def sequence() -> str:
        parts = []
        while (tok := peek()) is not None and tok[0] not in ("close", "alt"):
            parts.append(item())
        return "".join(parts)

    def item() -> str:
        atom_ = atom()
        tok = peek()
        if tok is not None and tok[0] == "quant":
            take()
            return f"(?:{atom_}){tok[1]}"
        return atom_

    def atom() -> str:
        kind, value = take()
        if kind == "open":
            inner = alternation()
            take()
            return inner
        if kind == "int":
            ret = int(value)
            nxt = peek()
            if ret <= 0 and nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                take()
                return outcome(re.escape(str(ret)), nxt[1])
            return f"{re.escape(str(ret))}\\|(?:NONE|-)\\|[^;]*;"
        assert kind == "name", (kind, value)
        if value in TERMINALS:
            return f"{value};"
        if value == "ANY":
            return "[^;]*;"
        if value == "HIDDEN":
            nxt = peek()
            if nxt is not None and nxt[0] == "name" and nxt[1] in ERROR_NAMES:
                take()
                return outcome("\\?", nxt[1])
            return "\\?\\|(?:NONE|-)\\|[^;]*;"
        return outcome("(?:-1|\\?)", value)

    def outcome(head: str, name: str) -> str:
        reason = ""
        nxt = peek()
        if nxt is not None and nxt[0] == "reason":
            take()
            reason = nxt[1]
        reasons = f"[^;]*{re.escape(reason)}[^;]*" if reason else "[^;]*"
        return f"{head}\\|{name}\\|{reasons};"

    regex = alternation()
    return re.fullmatch(regex, "".join(o.encode() for o in outcomes)) is not None


# -- a small alphabet of outcomes and pattern pieces -------------------------------------

ALPHABET = [
    Outcome(-1, "WANT_READ"),
    Outcome(-1, "WANT_WRITE"),
    Outcome(None, "WANT_READ"),          # a hidden return (stdlib ssl)
    Outcome(0, "WANT_READ"),
    Outcome(1, "NONE"),
    Outcome(1, None),
    Outcome(5, "NONE"),
    Outcome(0, None),
    Outcome(None, None),
    Outcome(0, "ZERO_RETURN"),
    Outcome(-1, "NONE"),
    Outcome(-1, "SSL", ("unexpected eof while reading",)),
    Outcome(-1, "SSL", ("a;b|c", "other")),
    Outcome(None, "SSL", ("bad record mac",)),
    DEADLOCK,
    LIMIT,
]

ATOMS = [
    "1", "0", "5", "-1", "WANT_READ", "-1 WANT_READ", "0 WANT_READ", "WANT_WRITE",
    "HIDDEN", "HIDDEN WANT_READ", "HIDDEN SSL", "SSL", 'SSL "eof"', 'SSL "a,b"',
    'SSL "mac"', 'HIDDEN SSL "record"', "0 ZERO_RETURN", "ZERO_RETURN", "NONE", "-1 NONE",
    "ANY", "DEADLOCK", "LIMIT",
]
QUANTS = ["", "", "", "+", "*", "?", "{2}", "{0,2}", "{1,}", "{0}", "{2,3}", "{0,}"]


def random_pattern(rng: random.Random, depth: int = 0) -> str:
    """A well-formed pattern: sequences, groups, quantifiers and alternatives."""
    def piece() -> str:
        if depth < 3 and rng.random() < 0.3:
            body = f"({random_pattern(rng, depth + 1)})"
        else:
            body = rng.choice(ATOMS)
        return body + rng.choice(QUANTS)

    branches = [" ".join(piece() for _ in range(rng.randint(1, 3)))
                for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3))]
    return " | ".join(branches)


def test_a_table_of_random_patterns_answers_as_the_regex_matcher_did() -> None:
    rng = random.Random(11)
    agree = 0
    for _ in range(600):
        text = random_pattern(rng)
        pattern = compile_pattern(text)
        for _ in range(8):
            seq = [rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))]
            assert pattern.matches(seq) is oracle(text, seq), (text, seq)
            agree += 1
    assert agree == 4800


@st.composite
def patterns(draw: st.DrawFn) -> str:
    return random_pattern(random.Random(draw(st.integers(0, 2**32))))


@settings(max_examples=300, deadline=None)
@given(text=patterns(), seq=st.lists(st.sampled_from(ALPHABET), max_size=7))
def test_property_same_answer_as_the_regex_matcher(text: str, seq: list[Outcome]) -> None:
    assert compile_pattern(text).matches(seq) is oracle(text, seq)


def test_every_pattern_in_the_shipped_tables_matches_as_before() -> None:
    # The hand-written cases of test_outcome.py, against the oracle too.
    from tests.outcome.test_outcomes import CASES

    for text, seq, expected in CASES:
        assert oracle(text, seq) is expected
        assert compile_pattern(text).matches(seq) is expected


# -- linear time, counted in work done, not wall time ------------------------------------

WR = Outcome(-1, "WANT_READ")
OK = Outcome(1, "NONE")


@pytest.mark.parametrize("text", [
    "(WANT_READ+)+ SSL",                       # the issue's: 24 outcomes took 2.3 s
    "((WANT_READ*)*)* SSL",
    "(WANT_READ | ANY)+ (ANY | WANT_READ)+ SSL",
    "(" * 40 + "WANT_READ+" + ")+" * 40 + " SSL",
    "(ANY*){4000} SSL",
])
def test_pathological_patterns_do_work_linear_in_the_sequence(text: str) -> None:
    pattern = compile_pattern(text)
    for n in (100, 10_000):
        seq = [WR] * n + [OK]
        assert not pattern.matches(seq)
        assert pattern.match_steps(seq) <= 3 * pattern.size * len(seq)


def test_work_per_outcome_does_not_grow_with_nesting() -> None:
    # Distinct outcomes, so no move is ever remembered: each costs a real closure.
    seq = [Outcome(i, "NONE") for i in range(2_000)] + [WR]
    per_outcome = []
    for depth in (1, 10, 40):
        pattern = compile_pattern("(" * depth + "ANY+" + ")+" * depth + " WANT_READ")
        assert pattern.matches(seq)
        per_outcome.append(pattern.match_steps(seq) / len(seq) / pattern.size)
    assert max(per_outcome) <= 3


def test_work_on_a_long_run_of_like_outcomes_is_a_few_tests_each() -> None:
    pattern = compile_pattern("(WANT_READ+)+ 1")
    seq = [WR] * 100_000 + [OK]
    assert pattern.matches(seq)
    assert pattern.match_steps(seq) < 5 * len(seq)


def test_trailing_blanks_tokenize_in_linear_time() -> None:
    # The old tokenizer's leading \s* made 20,000 trailing blanks take 22 s.
    assert compile_pattern("WANT_READ" + " " * 90_000).matches([WR])


# -- limits: one line each --------------------------------------------------------------

def one_line_error(text: str) -> str:
    with pytest.raises(PatternError) as info:
        compile_pattern(text)
    message = str(info.value)
    assert "\n" not in message and len(message) < 300, message
    return message


def test_nesting_1000_deep_is_one_line_not_a_recursion_error() -> None:
    message = one_line_error("(" * 1000 + "1" + ")" * 1000)
    assert f"groups nest more than {MAX_DEPTH} deep" in message


def test_nesting_at_the_cap_compiles() -> None:
    deep = "(" * MAX_DEPTH + "WANT_READ" + ")" * MAX_DEPTH + "+ 1"
    assert compile_pattern(deep).matches([WR, WR, OK])
    one_line_error("(" + deep + ")")


@pytest.mark.parametrize("quant", [f"{{{MAX_REPEAT + 1}}}", "{4294967296}", "{0,99999}",
                                   "{" + "9" * 5000 + ",}"])
def test_a_count_over_the_cap_is_refused(quant: str) -> None:
    assert f"a count may be at most {MAX_REPEAT:,}" in one_line_error(f"(1{{0}}){quant}")


def test_a_count_at_the_cap_compiles_when_what_it_repeats_is_empty() -> None:
    assert compile_pattern(f"(1{{0}}){{{MAX_REPEAT}}} 1").matches([OK])


@pytest.mark.parametrize("text", [
    f"ANY{{{MAX_STATES}}}",
    "((ANY{100}){100}){100}",                  # a million states if it were built
    " ".join(["1"] * MAX_STATES),
    "(1 | 2 | 3){3000}",
])
def test_a_pattern_over_the_state_cap_is_refused(text: str) -> None:
    assert f"compiles to more than {MAX_STATES:,} states" in one_line_error(text)


def test_a_pattern_just_under_the_state_cap_compiles() -> None:
    pattern = compile_pattern(f"WANT_READ{{{MAX_STATES - 2}}} 1")
    assert pattern.size == MAX_STATES
    assert pattern.matches([WR] * (MAX_STATES - 2) + [OK])


@pytest.mark.parametrize("digits", ["2147483648", "-2147483649", "1" * 5000])
def test_a_return_value_outside_a_c_int_is_refused(digits: str) -> None:
    assert "out of range" in one_line_error(f"{digits} WANT_READ")


def test_return_values_at_the_ends_of_a_c_int_compile() -> None:
    assert compile_pattern("2147483647").matches([Outcome(2**31 - 1, "NONE")])
    assert compile_pattern("-2147483648 SSL").matches([Outcome(-(2**31), "SSL")])


def test_an_overlong_pattern_is_refused_before_it_is_read() -> None:
    assert "at most 100,000 characters" in one_line_error("1 " * (MAX_PATTERN_CHARS // 2 + 1))


def test_hostile_text_in_an_error_is_escaped_and_clipped() -> None:
    message = one_line_error("WANT_READ \x1b[31m\nBOGUS")
    assert "\x1b" not in message and "\\x1b" in message
    message = one_line_error("1 " + "x" * 10_000)
    assert "(10,000 characters)" in message


def test_non_ascii_digits_are_not_numbers() -> None:
    # str.isdigit() and \d accept them; int() does not always (issue 11's "²").
    assert "unexpected '²'" in one_line_error("WANT_READ ²")
    assert "unexpected" in one_line_error("\u0661\u0662")


# -- alternation --------------------------------------------------------------------------

ZERO = Outcome(0, "ZERO_RETURN")
EOF = Outcome(-1, "SSL", ("unexpected eof while reading",))


@pytest.mark.parametrize(("text", "seq", "expected"), [
    ("0 ZERO_RETURN | SSL", [ZERO], True),
    ("0 ZERO_RETURN | SSL", [EOF], True),
    ("0 ZERO_RETURN | SSL", [OK], False),
    # A sequence binds tighter than |: this is (WANT_READ 1) | (WANT_WRITE 1).
    ("WANT_READ 1 | WANT_WRITE 1", [WR, OK], True),
    ("WANT_READ 1 | WANT_WRITE 1", [WR], False),
    ("WANT_READ 1 | WANT_WRITE 1", [Outcome(-1, "WANT_WRITE"), OK], True),
    ("WANT_READ (1 | WANT_WRITE) 1", [WR, Outcome(-1, "WANT_WRITE"), OK], True),
    ("WANT_READ (1 | WANT_WRITE) 1", [WR, OK, OK], True),
    ("(WANT_READ | WANT_WRITE)+ 1", [WR, Outcome(-1, "WANT_WRITE"), WR, OK], True),
    ("(WANT_READ | WANT_WRITE)+ 1", [OK], False),
    ('WANT_READ+ (0 ZERO_RETURN | SSL "unexpected eof")', [WR, EOF], True),
    ("WANT_READ+ (DEADLOCK | LIMIT)", [WR, LIMIT], True),
])
def test_alternation(text: str, seq: list[Outcome], expected: bool) -> None:
    assert compile_pattern(text).matches(seq) is expected
    assert oracle(text, seq) is expected


@pytest.mark.parametrize("text", ["| 1", "1 |", "(1 |) 2", "1 | | 2", "(|)"])
def test_an_empty_alternative_is_refused(text: str) -> None:
    assert "empty alternative beside '|'" in one_line_error(text)


def test_allows_terminal_reads_the_compiled_atoms() -> None:
    assert compile_pattern("WANT_READ+ | DEADLOCK").allows_terminal
    assert not compile_pattern('SSL "LIMIT"').allows_terminal


def test_a_reason_with_separators_matches_itself_as_written() -> None:
    # A reported reason may contain ';' or '|' (a wrapper's STRANDED names where bytes
    # wait); --fill writes it back verbatim, so the pattern must match it as written.
    reason = "client: 10 bytes held; the loop reported resume_writing() failed | again"
    outcome = Outcome(0, "STRANDED", (reason,))
    assert compile_pattern(outcome.token()).matches([outcome])
    assert compile_pattern('SSL "a;b"').matches([Outcome(-1, "SSL", ("a;b",))])
    assert compile_pattern('SSL "a,b"').matches([Outcome(-1, "SSL", ("a;b",))])
    assert not compile_pattern('SSL "a;c"').matches([Outcome(-1, "SSL", ("a;b",))])
