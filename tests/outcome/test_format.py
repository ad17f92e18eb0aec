"""The one outcome formatter: each style's form, and every view writing outcomes through it."""

from __future__ import annotations

import pytest

from biopair.engine.trace import Call, Trace
from biopair.outcome import (
    DEADLOCK,
    LIMIT,
    Outcome,
    Style,
    compile_pattern,
    format_outcome,
    format_reasons,
    format_ret,
)
from biopair.views.diff import call_text
from biopair.views.explain import why

#: (outcome, TOKEN form, TEXT form)
CASES = [
    (Outcome(-1, "WANT_READ"), "WANT_READ", "-1 WANT_READ"),
    (Outcome(None, "WANT_READ"), "WANT_READ", "? WANT_READ"),
    (Outcome(0, "WANT_WRITE"), "0 WANT_WRITE", "0 WANT_WRITE"),
    (Outcome(1, "NONE"), "1", "1"),
    (Outcome(None, "NONE"), "HIDDEN", "?"),
    (Outcome(0, None), "0", "0 (SSL_get_error not asked)"),
    (Outcome(None, None), "HIDDEN", "? (SSL_get_error not asked)"),
    (Outcome(-1, "SSL", ("bad record mac", "second")), 'SSL "bad record mac"',
     '-1 SSL "bad record mac; second"'),
    (Outcome(0, "SYSCALL", ("eof",)), '0 SYSCALL "eof"', '0 SYSCALL "eof"'),
    (DEADLOCK, "DEADLOCK", "DEADLOCK"),
    (LIMIT, "LIMIT", "LIMIT"),
]


@pytest.mark.parametrize(("outcome", "token", "text"), CASES)
def test_styles(outcome: Outcome, token: str, text: str) -> None:
    assert format_outcome(outcome, Style.TOKEN) == token
    assert outcome.token() == token
    assert format_outcome(outcome) == text


@pytest.mark.parametrize(("outcome", "token", "text"), CASES)
def test_token_is_a_pattern_that_matches_its_outcome(outcome: Outcome, token: str,
                                                     text: str) -> None:
    assert compile_pattern(token).matches([outcome])


def test_ret_styles() -> None:
    assert format_ret(-1) == "-1"
    assert format_ret(16384, grouped=True) == "16,384"
    assert format_ret(None) == "?"
    assert format_ret(None, prose=True) == "? (hidden by the stdlib)"
    assert format_ret(None, prose=True, grouped=True) == "? (hidden by the stdlib)"
    assert format_reasons(()) == ""
    assert format_reasons(("a", "b")) == '"a; b"'


def _call(ret: int | None, error: str | None, reasons: tuple[str, ...] = (),
          seq: int = 0) -> Call:
    return Call(seq, "client", "read", ret, error, reasons, "WantReadError()")


def test_diff_writes_outcomes_in_the_text_style() -> None:
    doc = {"endpoint": "client", "op": "read", "ret": None, "error": "SSL",
           "reasons": ["a", "b"]}
    assert call_text(doc) == 'client read ? SSL "a; b"'
    # Not asking SSL_get_error() is not the same as it saying NONE.
    asked = call_text({"endpoint": "client", "op": "shutdown", "ret": 0, "error": "NONE"})
    unasked = call_text({"endpoint": "client", "op": "shutdown", "ret": 0, "error": None})
    assert asked == "client shutdown 0"
    assert unasked == "client shutdown 0 (SSL_get_error not asked)"


def test_explain_says_a_hidden_return_value_is_hidden() -> None:
    assert "returned ? (hidden by the stdlib) and SSL_get_error() said SSL_ERROR_WANT_READ" \
        in why(_call(None, "WANT_READ"))
    assert "returned 16,384 bytes" in why(_call(16384, "NONE"))


def test_call_trace_summary_writes_hidden_return_values_as_a_question_mark() -> None:
    trace = Trace()
    for seq in range(8):
        trace.add(_call(None, "WANT_READ", seq=seq))
    text = trace.format_calls()
    assert "client read ? WANT_READ x8" in text and "None" not in text
    trace = Trace()
    trace.add(_call(None, "SSL", ("bad record mac",)))
    assert 'ret=?      SSL "bad record mac"' in trace.format_calls()
