"""explain's advice after SSL_ERROR_SSL comes from the reason, and each entry of
``ADVICE`` is checked here against what OpenSSL then does on the same connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair import load_scenario, run_scenario
from biopair.views.explain import ADVICE, advice, explain

HANDSHAKE = '[[steps]]\nrun = ["client connect", "server accept"]\n'
#: The next write or read on a connection a fatal error killed: OpenSSL 4.0 says
#: SSL_ERROR_SSL (an empty queue), 3.x SSL_ERROR_SYSCALL (measured on 3.1, 3.2, 3.4, 3.5);
#: SSL_shutdown then says SSL_ERROR_SSL on all of them.
DEAD = """{ "openssl >= 4.0" = "SSL", "openssl >= 3.1 and openssl < 4.0" = "SYSCALL" }"""

#: (reason the failing call reports, scenario up to and including that call, what OpenSSL
#: then does: steps whose expectations prove the advice)
CASES = {
    # usable: the write is refused, SSL_read still reads, SSL_shutdown then returns 1
    "protocol is shutdown": (
        HANDSHAKE + '[[steps]]\ncall = "client shutdown"\nexpect = "0"\n'
        '[[steps]]\ncall = "client write"\ndata = "late"\n'
        "expect = 'SSL \"protocol is shutdown\"'\nsends = 0\n",
        '[[steps]]\ncall = "server write"\ndata = "still"\n'
        '[[steps]]\nmove = "client>server"\n'
        '[[steps]]\ncall = "server read"\nexpect = "0 ZERO_RETURN"\n'
        '[[steps]]\ncall = "server shutdown"\nexpect = "1"\n'
        '[[steps]]\nmove = "server>client"\n'
        '[[steps]]\ncall = "client read"\nexpect = "5"\ndata = "still"\n'
        '[[steps]]\ncall = "client shutdown"\nexpect = "1"\n'),
    # fatal: the next write and SSL_shutdown fail too
    "bad length": (
        '[schedule]\nlink = "socket"\n[client]\nclear_modes = ["ACCEPT_MOVING_WRITE_BUFFER"]\n'
        + HANDSHAKE + '[[steps]]\npause = "client>server"\n'
        '[[steps]]\ncall = "client write"\nsize = 65536\nuntil = "WANT_WRITE"\n'
        '[[steps]]\ncall = "client write"\nsize = 10\nbuffer = "same"\n'
        "expect = 'SSL \"bad length\"'\n",
        '[[steps]]\nresume = "client>server"\n'
        '[[steps]]\ncall = "client write"\nsize = 65536\n'
        f'expect = {DEAD}\n'
        '[[steps]]\ncall = "client shutdown"\nexpect = "SSL"\n'),
    "unexpected eof": (
        HANDSHAKE + '[[steps]]\neof = "server>client"\n'
        "[[steps]]\ncall = \"client read\"\nexpect = '0 SSL \"unexpected eof\"'\n",
        f'[[steps]]\ncall = "client read"\nexpect = {DEAD}\n'
        '[[steps]]\ncall = "client shutdown"\nexpect = "SSL"\n'),
    "bad write retry": (
        '[schedule]\nlink = "socket"\n[client]\nclear_modes = ["ACCEPT_MOVING_WRITE_BUFFER"]\n'
        + HANDSHAKE + '[[steps]]\npause = "client>server"\n'
        '[[steps]]\ncall = "client write"\nsize = 65536\nuntil = "WANT_WRITE"\n'
        '[[steps]]\ncall = "client write"\nbuffer = "copy"\n'
        "expect = 'SSL \"bad write retry\"'\n",
        '[[steps]]\nresume = "client>server"\n'
        '[[steps]]\ncall = "client write"\nsize = 65536\n'
        f'expect = {DEAD}\n'
        '[[steps]]\ncall = "client shutdown"\nexpect = "SSL"\n'),
    "alert": (
        '[client]\ntrust = "other-ca"\n'
        '[[steps]]\nrun = ["client connect", "server accept"]\n'
        "expect = { client = 'WANT_READ* SSL \"certificate verify failed\"', "
        "server = 'WANT_READ* SSL \"alert\"' }\n",
        '[[steps]]\ncall = "server shutdown"\nexpect = "SSL | SYSCALL"\n'),
}


def _verdict(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + text)
    return run_scenario(load_scenario(path))


def test_every_entry_has_a_case() -> None:
    assert {a.reason for a in ADVICE} == set(CASES)


@pytest.mark.parametrize("reason", sorted(CASES))
def test_advice_matches_what_openssl_then_does(tmp_path: Path, reason: str) -> None:
    before, after = CASES[reason]
    verdict = _verdict(tmp_path, before + after)
    assert verdict.passed, verdict.report()
    entry = advice([reason])
    assert entry is not None and entry.reason == reason
    text = explain(verdict)
    if entry.usable:
        assert "The connection is still usable" in text
        assert "SSL_shutdown may be called" in text
    else:
        assert "The connection is unusable" in text


def test_protocol_is_shutdown_is_not_told_as_fatal(tmp_path: Path) -> None:
    before, after = CASES["protocol is shutdown"]
    text = explain(_verdict(tmp_path, before + after))
    story = text.split("protocol is")[1]
    assert "do not call SSL_shutdown" not in story.split("Call #")[0]


def test_other_reasons_keep_the_fatal_rule() -> None:
    assert advice(["wrong version number"]) is None
    assert advice([]) is None
