"""The scheduler: runs, delivery policies, DEADLOCK and LIMIT, determinism."""

from __future__ import annotations

import subprocess
import sys

import pytest

from biopair import EndpointConfig, Pair, RunEntry
from biopair.engine.pair import Delivery
from biopair.outcome import summarize
from tests.helpers import pyopenssl, state


def test_whole_buffer_handshake_takes_two_turns_each() -> None:
    with Pair() as pair:
        result = pair.handshake()
        assert result.terminal is None
        assert summarize(result.outcomes["client"]) == "WANT_READ 1"
        assert summarize(result.outcomes["server"]) == "WANT_READ 1"
        assert state(pair, "client")["version"] == "TLSv1.3"


def _bytewise_counts() -> tuple[int, int]:
    with Pair(deliver="bytewise", record=False) as pair:
        result = pair.handshake()
        assert result.terminal is None
        return len(result.outcomes["client"]), len(result.outcomes["server"])


def test_bytewise_handshake_completes_with_the_same_call_count_every_time() -> None:
    first = _bytewise_counts()
    assert first == _bytewise_counts()
    # Another process: nothing random leaks into the byte counts.
    code = "from tests.engine.test_pair import _bytewise_counts as f; print(*f())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert tuple(int(x) for x in out.stdout.split()) == first
    # One byte per move: the client answers WANT_READ for every byte of the server's first
    # flight (1776 calls on OpenSSL 4.0, 613 on 3.1 with its smaller X25519 key share).
    assert first[0] > 500


def test_a_read_with_nothing_coming_is_a_deadlock_not_a_hang() -> None:
    with Pair() as pair:
        pair.handshake()
        result = pair.run([("client", "read")])
        assert result.terminal == "DEADLOCK"
        # The first read takes in the TLS 1.3 session tickets (bytes consumed: progress),
        # the second changes nothing: DEADLOCK.
        assert summarize(result.outcomes["client"]) == "WANT_READ{2} DEADLOCK"


def test_a_paused_direction_starves_the_handshake_into_deadlock() -> None:
    with Pair() as pair:
        pair.pause("server>client")
        result = pair.handshake()
        assert result.terminal == "DEADLOCK"
        # the server got the ClientHello and answered; the client never sees the answer
        assert summarize(result.outcomes["client"]) == "WANT_READ{2} DEADLOCK"
        pair.resume("server>client")
        again = pair.handshake()
        assert again.terminal is None


def test_max_calls_ends_a_run_with_limit() -> None:
    with Pair(deliver="bytewise") as pair:
        result = pair.run([("client", "connect"), ("server", "accept")], max_calls=10)
        assert result.terminal == "LIMIT"
        assert len(result.calls) == 10
        assert result.outcomes["client"][-1].error == "LIMIT"


def test_delivery_list_is_per_direction_then_all() -> None:
    policy = Delivery((5, 7))
    assert [policy.next_size("client>server") for _ in range(3)] == [5, 7, None]
    assert policy.next_size("server>client") == 5


def test_sized_moves_hand_over_exactly_that_many_bytes() -> None:
    with Pair() as pair:
        pair.call("client", "connect")
        queued = len(pair.links["client>server"].queue)
        assert pair.move("client>server", 10) == 10
        assert len(pair.links["client>server"].queue) == queued - 10
        assert pair.call("server", "accept").error == "WANT_READ"
        assert pair.move("client>server") == queued - 10


def test_drain_turns_keep_the_turn_while_calls_make_progress() -> None:
    with Pair(deliver=100, turns="drain") as pair:
        result = pair.handshake()
        assert result.terminal is None
        with Pair(deliver=100) as alternate:
            other = alternate.handshake()
        # same bytes, different interleaving: the server keeps calling while bytes arrive
        assert len(result.outcomes["server"]) != len(other.outcomes["server"])


def test_write_retried_in_a_run_reuses_the_buffer() -> None:
    with Pair() as pair:
        pair.handshake()
        result = pair.run([RunEntry("client", "write", data=b"ping"), ("server", "read")])
        assert result.terminal is None
        assert pyopenssl(pair, "server").received == bytearray(b"ping")


def test_eof_waits_for_queued_bytes() -> None:
    with Pair() as pair:
        pair.handshake()
        pair.call("client", "write", data=b"last words")
        pair.eof("client>server")
        assert not pair.links["client>server"].closed  # the record is still queued
        pair.move("client>server")
        assert pair.links["client>server"].closed
        assert pair.call("server", "read").data == b"last words"
        eof = pair.call("server", "read")
        assert (eof.ret, eof.error) == (0, "SSL") or eof.error == "SYSCALL"
        assert any("unexpected eof" in r for r in eof.reasons) or eof.error == "SYSCALL"


def test_settings_openssl_refuses_are_config_errors() -> None:
    from biopair import ConfigError

    with pytest.raises(ConfigError, match=r"client.ciphers"):
        Pair(EndpointConfig(role="client", ciphers="NO-SUCH-CIPHER"))
    with pytest.raises(ConfigError, match=r"server.groups"):
        Pair(server=EndpointConfig(role="server", groups=("nope",)))
