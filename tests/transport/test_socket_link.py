"""The socket link's machinery: bounded socketpairs, relaying, pause, EOF, cleanup.

Behaviour of OpenSSL itself (which retries are legal, what a partial write returns) is
asserted by the scenario files in scenarios/write-retry and scenarios/socket; these tests
check the harness parts those scenarios rely on.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from biopair.endpoints.config import EndpointConfig, pattern_bytes
from biopair.endpoints.pyopenssl import build_context
from biopair.engine.pair import Pair, RunEntry
from biopair.outcome import summarize
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.runner import run_scenario, show_data
from biopair.transport.memory import MemoryLink
from biopair.transport.socket import SocketEnds, SocketLink, unread
from tests.helpers import bad_scenario, pyopenssl

LINKS = ["memory", "socket"]


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _scenario(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "case.toml"
    path.write_text(text)
    return path


def test_socket_ends_are_nonblocking_and_small() -> None:
    ends = SocketEnds()
    try:
        assert not ends.endpoint.getblocking()
        assert not ends.relay.getblocking()
        # The kernel raises SO_SNDBUF=1 to its minimum (4608 on Linux 6.x); whatever the
        # kernel, it must be far below one 16 KiB TLS record.
        assert ends.sndbuf() < 16384
        relay_buf = ends.relay.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        assert relay_buf > ends.sndbuf()
    finally:
        ends.close()
    assert ends.endpoint.fileno() == -1
    assert ends.relay.fileno() == -1
    ends.close()  # twice is fine


def test_unread_counts_bytes_waiting_and_zero_once_closed() -> None:
    ends = SocketEnds()
    ends.endpoint.send(b"hello")
    assert unread(ends.relay) == 5
    ends.close()
    assert unread(ends.relay) == 0


@pytest.mark.parametrize("link", LINKS)
def test_pair_reports_its_link_kind(link: str) -> None:
    with Pair(link=link) as pair:
        assert pair.link_kind == link
        assert pair.trace.link == link
        kinds = {type(x) for x in pair.links.values()}
        assert kinds == {SocketLink if link == "socket" else MemoryLink}
        assert pair.handshake().terminal is None


def test_unknown_link_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="link must be one of"):
        Pair(link="pipe")


def test_socket_link_relays_every_byte_and_counts_them() -> None:
    with Pair(link="socket") as pair:
        pair.handshake()
        c2s = pair.links["client>server"]
        before = c2s.delivered
        first = pair.call("client", "write", data=b"ping")
        assert first.ret == 4
        assert first.sent == 26  # 4 bytes + 22 bytes of TLS 1.3 record overhead
        assert len(c2s.queue) == 26
        assert pair.move("client>server") == 26
        assert c2s.delivered - before == 26
        assert c2s.receiver_pending() == 26  # FIONREAD on the server's socket
        read = pair.call("server", "read")
        assert read.data == b"ping"
        assert c2s.receiver_pending() == 0


def test_paused_socket_link_fills_the_writer_and_openssl_says_want_write() -> None:
    with Pair(link="socket") as pair:
        pair.handshake()
        pair.pause("client>server")
        c2s = pair.links["client>server"]
        call = pair.call("client", "write", size=16384)
        assert (call.ret, call.error) == (-1, "WANT_WRITE")
        assert call.pyopenssl == "WantWriteError()"
        waiting = c2s.sender_pending()
        assert 0 < waiting < 16384  # the kernel took part of the 16,406-byte record
        assert not c2s.queue  # nothing pulled while paused
        stalled = pair.run([RunEntry("client", "write")])
        # A stall changes nothing the scheduler can see: the run is a DEADLOCK, not a hang.
        assert summarize(stalled.outcomes["client"]) == "WANT_WRITE DEADLOCK"
        assert c2s.sender_pending() == waiting
        pair.resume("client>server")
        assert len(c2s.queue) == waiting  # resume drains the writer's socket at once
        result = pair.run([RunEntry("client", "write"), RunEntry("server", "read")])
        assert result.terminal is None
        assert result.outcomes["client"][-1].ret == 16384
        assert pyopenssl(pair, "server").received == pattern_bytes(16384)


def test_memory_link_never_blocks_a_writer() -> None:
    with Pair(link="memory") as pair:
        pair.handshake()
        pair.pause("client>server")
        results = {pair.call("client", "write", size=16384).ret for _ in range(64)}
        assert results == {16384}  # 1 MiB undrained, not one WANT_WRITE
        assert len(pair.links["client>server"].queue) == 64 * 16406


def test_stalled_writer_on_a_socket_link_is_a_deadlock_not_a_hang() -> None:
    with Pair(link="socket") as pair:
        pair.handshake()
        pair.pause("client>server")
        result = pair.run([RunEntry("client", "write", size=16384)])
        assert result.terminal == "DEADLOCK"
        tokens = [o.token() for o in result.outcomes["client"]]
        assert tokens == ["WANT_WRITE", "WANT_WRITE", "DEADLOCK"]


@pytest.mark.parametrize("link", LINKS)
def test_eof_reaches_the_reader_after_the_queued_bytes(link: str) -> None:
    with Pair(link=link) as pair:
        pair.handshake()
        pair.call("server", "write", data=b"last words")
        pair.eof("server>client")
        s2c = pair.links["server>client"]
        assert not s2c.closed  # the record is still queued
        pair.move("server>client")
        assert s2c.closed
        assert pair.call("client", "read").data == b"last words"
        end = pair.call("client", "read")
        assert (end.ret, end.error) == (0, "SSL")
        assert "unexpected eof while reading" in end.reasons
        late = pair.call("server", "write", data=b"too late")
        assert late.ret == 8
        assert s2c.discarded == late.sent > 0


def test_eof_waits_for_a_paused_socket_link() -> None:
    with Pair(link="socket") as pair:
        pair.handshake()
        pair.pause("server>client")
        pair.call("server", "write", data=b"held")
        pair.eof("server>client")
        s2c = pair.links["server>client"]
        assert not s2c.closed
        pair.resume("server>client")
        pair.move("server>client")
        assert s2c.closed
        assert pair.call("client", "read").data == b"held"


def test_close_closes_every_socket_and_is_idempotent() -> None:
    pair = Pair(link="socket")
    socks = [s for ends in pair._ends.values() for s in (ends.endpoint, ends.relay)]
    assert all(s.fileno() >= 0 for s in socks)
    pair.close()
    assert all(s.fileno() == -1 for s in socks)
    pair.close()


def test_failed_construction_leaves_no_socket_open() -> None:
    before = _fds()
    bad = EndpointConfig(role="server", ciphers="NO-SUCH-CIPHER", version="1.2")
    for _ in range(20):
        with pytest.raises(Exception, match="ciphers"):
            Pair(server=bad, link="socket")
    assert _fds() == before


def test_a_thousand_socket_link_runs_leave_no_file_descriptor_behind() -> None:
    # Each run opens four sockets: a leak of even one per run shows as 1,000 more open
    # descriptors (and, at 10,000 runs, would exhaust the default limit of 1,024 first).
    contexts = {
        "client": build_context(EndpointConfig(role="client")),
        "server": build_context(EndpointConfig(role="server")),
    }
    before = _fds()
    for i in range(1_000):
        try:
            with Pair(link="socket", contexts=contexts, record=False) as pair:
                result = pair.run([("client", "connect")])
                assert result.terminal == "DEADLOCK"
                if i % 10 == 0:
                    raise RuntimeError("a failing scenario still closes its sockets")
        except RuntimeError:
            pass
    assert _fds() == before


def test_scenario_link_key_reaches_the_trace_json_and_report(tmp_path: Path) -> None:
    path = _scenario(tmp_path, """
title = "t"
[schedule]
link = "socket"
[[steps]]
run = ["client connect", "server accept"]
[[steps]]
pause = "client>server"
[[steps]]
call = "client write 16384"
expect = "16384"
""")
    verdict = run_scenario(load_scenario(path))
    assert not verdict.passed
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["link"] == "socket"
    report = verdict.report()
    assert "link: socket" in report
    assert "actual:   WANT_WRITE" in report


def test_unknown_link_kind_in_a_scenario_is_one_clear_error(tmp_path: Path) -> None:
    bad_scenario(tmp_path, 'title = "t"\n[schedule]\nlink = "sockets"\n'
                           '[[steps]]\ncall = "client connect"\n',
                 "schedule.link", "did you mean 'socket'")


def test_repeat_multiplies_data_and_needs_data(tmp_path: Path) -> None:
    ok = _scenario(tmp_path, 'title = "t"\n[[steps]]\ncall = "client write"\n'
                             'data = "ab"\nrepeat = 3\n')
    step = load_scenario(ok).steps[0]
    assert getattr(step, "data", None) == b"ababab"
    bad = _scenario(tmp_path, 'title = "t"\n[[steps]]\ncall = "client write 5"\nrepeat = 3\n')
    with pytest.raises(ScenarioError, match="give data too"):
        load_scenario(bad)


def test_write_buffers_same_keeps_the_address_copy_never_reuses_one() -> None:
    cfg = EndpointConfig(role="client", clear_modes=("ACCEPT_MOVING_WRITE_BUFFER",))
    with Pair(cfg, link="socket") as pair:
        pair.handshake()
        pair.pause("client>server")
        assert pair.call("client", "write", size=16384).error == "WANT_WRITE"
        first = pyopenssl(pair, "client")._write
        assert first is not None
        address = first.address()
        # Without ACCEPT_MOVING_WRITE_BUFFER only the very same address is accepted.
        same = pair.call("client", "write", size=16384, buffer="same")
        assert same.error == "WANT_WRITE"
        assert pyopenssl(pair, "client")._write is first and first.address() == address
    # pyOpenSSL >= 25.2 sets ACCEPT_MOVING_WRITE_BUFFER by default; older releases do not.
    moving = EndpointConfig(role="client", modes=("ACCEPT_MOVING_WRITE_BUFFER",))
    with Pair(moving, link="socket") as pair:
        pair.handshake()
        pair.pause("client>server")
        pair.call("client", "write", size=16384)
        seen = set()
        for _ in range(20):
            buf = pyopenssl(pair, "client")._write
            assert buf is not None
            seen.add(buf.address())
            assert pair.call("client", "write", buffer="copy").error == "WANT_WRITE"
        assert len(seen) == 20  # every copy at a new address, bytes unchanged
        assert pair.client.write_data == pattern_bytes(16384)


def test_run_continues_a_partial_write_with_the_rest() -> None:
    cfg = EndpointConfig(role="client", modes=("ENABLE_PARTIAL_WRITE",))
    with Pair(cfg) as pair:
        pair.handshake()
        result = pair.run([RunEntry("client", "write", size=40000)])
        assert [o.ret for o in result.outcomes["client"]] == [16384, 16384, 7232]
        pair.move("client>server")
        got = b"".join(pair.call("server", "read").data for _ in range(3))
        assert got == pattern_bytes(40000)


def test_show_data_compresses_long_runs() -> None:
    assert show_data(b"hello") == "'hello'"
    assert show_data(b"a" * 16384 + b"bbbbb") == "'a' * 16384 + 'bbbbb'"
    assert show_data(pattern_bytes(500)).endswith("(500 bytes)")
