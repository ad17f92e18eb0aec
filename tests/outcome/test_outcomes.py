"""The outcome pattern language: what patterns accept, what they reject, and errors."""

from __future__ import annotations

import pytest

from biopair.outcome import DEADLOCK, LIMIT, Outcome, PatternError, compile_pattern, summarize

WR = Outcome(-1, "WANT_READ")
WW = Outcome(-1, "WANT_WRITE")
OK = Outcome(1, "NONE")
SHUT0 = Outcome(0, None)
EOF = Outcome(-1, "SSL", ("unexpected eof while reading",))
ZERO = Outcome(0, "ZERO_RETURN")

CASES = [
    ("1", [OK], True),
    ("1", [Outcome(1, None)], True),
    ("1", [WR], False),
    ("-1 WANT_READ", [WR], True),
    ("WANT_READ", [WR], True),
    ("WANT_READ", [Outcome(0, "WANT_READ")], False),
    ("0 ZERO_RETURN", [ZERO], True),
    ("ZERO_RETURN", [ZERO], False),
    ("0", [SHUT0], True),
    ("WANT_READ+ 1", [WR, WR, WR, OK], True),
    ("WANT_READ+ 1", [OK], False),
    ("WANT_READ* 1", [OK], True),
    ("WANT_READ? 1", [WR, WR, OK], False),
    ("WANT_READ{2} 1", [WR, WR, OK], True),
    ("WANT_READ{2} 1", [WR, OK], False),
    ("WANT_READ{1,3} 1", [WR, WR, WR, OK], True),
    ("WANT_READ{1,} 1", [WR, WR, WR, WR, OK], True),
    ("(WANT_READ WANT_WRITE)+", [WR, WW, WR, WW], True),
    ("(WANT_READ WANT_WRITE)+", [WR, WW, WR], False),
    ('SSL "unexpected eof"', [EOF], True),
    ('-1 SSL "eof while"', [EOF], True),
    ('SSL "certificate verify failed"', [EOF], False),
    ("ANY ANY", [WR, OK], True),
    ("WANT_READ+ DEADLOCK", [WR, WR, DEADLOCK], True),
    ("WANT_READ+", [WR, DEADLOCK], False),
    ("WANT_WRITE* LIMIT", [LIMIT], True),
    ("16384 16384 WANT_WRITE", [Outcome(16384, "NONE"), Outcome(16384, "NONE"), WW], True),
    ("5 WANT_READ", [Outcome(5, "NONE"), WR], True),
]


@pytest.mark.parametrize(("pattern", "outcomes", "matches"), CASES)
def test_pattern_matches_whole_sequences(
    pattern: str, outcomes: list[Outcome], matches: bool
) -> None:
    assert compile_pattern(pattern).matches(outcomes) is matches


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "non-empty"),
        ("WANT_REED", "unknown outcome 'WANT_REED'"),
        ("+", "quantifier '+' follows nothing"),
        ('"eof"', "must follow an error name"),
        ("(WANT_READ", "unclosed"),
        ("WANT_READ)", "unexpected ')'"),
        ("()", "empty"),
        ("WANT_READ{3,1}", "max < min"),
        ("1 %", "unexpected '%'"),
    ],
)
def test_malformed_patterns_say_what_is_wrong(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=None) as info:
        compile_pattern(pattern)
    assert message in str(info.value)


def test_summarize_writes_sequences_back_in_the_pattern_language() -> None:
    seq = [WR] * 7 + [OK]
    text = summarize(seq)
    assert text == "WANT_READ{7} 1"
    assert compile_pattern(text).matches(seq)
    zero = [ZERO, ZERO]
    assert summarize(zero) == "(0 ZERO_RETURN){2}"
    assert compile_pattern(summarize(zero)).matches(zero)
    assert summarize([EOF]) == 'SSL "unexpected eof while reading"'
    assert summarize([]) == "(no calls)"


def test_reason_text_with_separators_cannot_break_the_encoding() -> None:
    odd = Outcome(-1, "SSL", ("a;b|c",))
    assert compile_pattern('SSL "a,b,c"').matches([odd])
    assert not compile_pattern("SSL SSL").matches([odd])
