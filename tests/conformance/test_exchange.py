"""What every stack's endpoint must do against a pyOpenSSL peer: the first flight, a
bytewise handshake in both roles, data both ways, close_notify and a bare EOF."""

from __future__ import annotations

import pytest

from biopair.endpoints.protocol import Endpoint
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from tests.conformance.drive import handshake, read_all, settle
from tests.conformance.stacks import Case

Ends = tuple[Endpoint, PyOpenSSLEndpoint]


def _ordered(case: Case, ends: Ends) -> tuple[Endpoint, Endpoint]:
    ep, peer = ends
    return (ep, peer) if case.role == "client" else (peer, ep)


def test_connect_before_bytes_wants_read_and_sends_client_hello(case: Case, ends: Ends) -> None:
    if case.role != "client":
        pytest.skip("only a client speaks first")
    ep, _ = ends
    result = ep.call("connect")
    assert result.error == "WANT_READ"
    header = ep.wire_take(5)
    assert header is not None and len(header) == 5
    assert header[0] == 22, "a handshake record"
    length = int.from_bytes(header[3:5], "big")
    body = ep.wire_take(1 << 16)
    assert body is not None and len(body) == length
    assert body[0] == 1, "a ClientHello"
    assert ep.wire_take(1 << 16) == b""


def test_wire_round_trip(case: Case, ends: Ends) -> None:
    client, server = _ordered(case, ends)
    client.call("connect")
    hello = client.wire_take(1 << 16)
    assert hello
    assert server.wire_give(hello) == len(hello)
    assert server.wire_pending() in (0, len(hello))  # 0: a stack that cannot tell
    server.call("accept")
    assert server.wire_pending() == 0


def test_bytewise_handshake(case: Case) -> None:
    case.require_program()
    if case.capabilities.external:
        with case.pair(deliver="bytewise") as pair:
            run = pair.run([(case.other, "connect" if case.other == "client" else "accept")])
            assert run.terminal is None, run
            assert run.outcomes[case.other][-1].ret == 1
        return
    ep, peer = case.make(), case.make_peer()
    try:
        client, server = _ordered(case, (ep, peer))
        first, second = handshake(client, server, max_bytes=1)
        for result in (first, second):
            assert result.error in (None, "NONE"), result
            assert result.ret in (1, None)
    finally:
        ep.close()
        peer.close()


def test_application_data_both_ways(case: Case, ends: Ends) -> None:
    ep, peer = ends
    handshake(*_ordered(case, ends), None)
    for writer, reader, payload in ((ep, peer, b"ping from the endpoint"),
                                    (peer, ep, b"pong from the peer")):
        result = writer.call("write", data=payload)
        assert result.ret in (len(payload), None) and result.error in (None, "NONE"), result
        assert writer.write_data == payload
        assert read_all(reader, writer, len(payload)) == payload


def test_close_notify(case: Case, ends: Ends) -> None:
    ep, peer = ends
    handshake(*_ordered(case, ends), None)
    sent = ep.call("shutdown")
    # As the stack reports it: pyOpenSSL 0 (error not asked), the stdlib a hidden WANT_READ.
    assert sent.error in (None, "NONE", "WANT_READ"), sent
    settle(ep, peer)
    seen = peer.call("read")
    assert (seen.ret, seen.error) == (0, "ZERO_RETURN"), seen
    peer.call("shutdown")
    settle(ep, peer)
    answer = ep.call("read")
    assert answer.error == "ZERO_RETURN", answer
    assert answer.ret in (0, None)
    state = ep.state()
    assert state is not None
    if "shutdown" in state:
        assert state["shutdown"] == ["sent", "received"]


def test_eof_without_close_notify(case: Case, ends: Ends) -> None:
    ep, _ = ends
    handshake(*_ordered(case, ends), None)
    ep.wire_eof()
    result = ep.call("read")
    assert result.error in ("SSL", "SYSCALL"), result
    if case.capabilities.raw_returns:
        assert result.ret is not None and result.ret <= 0
    else:
        assert result.ret is None
    if case.stack == "pyopenssl":
        # Both layers: OpenSSL's own answer and what pyOpenSSL would have raised.
        assert result.pyopenssl == "SysCallError(-1, 'Unexpected EOF')", result
