"""The builder: settings become endpoints and links, and a failure leaves nothing open."""

from __future__ import annotations

import os

import pytest

from biopair import ConfigError, EndpointConfig, Pair
from biopair.engine import builder
from biopair.transport.memory import MemoryLink
from biopair.transport.socket import SocketLink
from biopair.transport.wire import WireLink


def _fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize(("client", "link", "cls", "kind"), [
    (EndpointConfig(role="client"), "memory", MemoryLink, "memory"),
    (EndpointConfig(role="client"), "socket", SocketLink, "socket"),
    (EndpointConfig(role="client", stack="stdlib"), "memory", WireLink, "memory"),
])
def test_the_link_kind_follows_the_stacks(client: EndpointConfig, link: str, cls: type,
                                          kind: str) -> None:
    parts = builder.build(client, None, contexts={}, link=link, socket_buffer=None,
                          trace_hooks=False)
    try:
        assert {type(lk) for lk in parts.links.values()} == {cls}
        assert parts.link_kind == kind
        assert list(parts.links) == ["client>server", "server>client"]
        assert bool(parts.sockets) == (link == "socket")
    finally:
        for lk in parts.links.values():
            lk.close()
        builder.release(parts.endpoints, parts.sockets)


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="no /proc/self/fd")
def test_a_refused_setting_leaves_no_socket_open() -> None:
    with Pair(link="socket"):  # warm: imports and caches
        pass
    before = _fds()
    with pytest.raises(ConfigError) as refused:
        Pair(server=EndpointConfig(role="server", ciphers="NO-SUCH-CIPHER"), link="socket")
    # The traceback (kept alive here) still holds the builder's frames: only an explicit
    # release, not garbage collection, can have closed the sockets made before the error.
    assert refused.value.key == "server.ciphers"
    assert _fds() <= before


def test_an_unknown_link_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="link must be one of"):
        builder.build(None, None, contexts={}, link="carrier-pigeon", socket_buffer=None,
                      trace_hooks=False)


def test_the_fault_engine_keeps_no_count_of_its_own() -> None:
    with Pair() as pair:
        pair.call("client", "connect")
        link = pair.links["client>server"]
        assert link.engine.ledger is link.ledger
        assert link.pulled == link.ledger.pulled == link.ledger.released > 0
        assert link.sent is link.engine.watcher


def test_send_cap_bounds_only_the_callback_io_endpoints() -> None:
    # The cap reaches each endpoint whose stack declares capped_sends, and no other.
    pytest.importorskip("tlslite")
    parts = builder.build(EndpointConfig(role="client", stack="tlslite-ng"), None,
                          contexts={}, link="memory", socket_buffer=None, trace_hooks=False,
                          send_cap=64)
    try:
        client, server = parts.endpoints["client"], parts.endpoints["server"]
        assert client.pipe.send_cap == 64
        assert client.cfg.send_cap == 64
        assert not hasattr(server, "pipe")
    finally:
        for lk in parts.links.values():
            lk.close()
        builder.release(parts.endpoints, parts.sockets)


@pytest.mark.parametrize(("client", "link", "message"), [
    (EndpointConfig(role="client"), "memory", "needs an endpoint whose sends can be capped"),
    (EndpointConfig(role="client", stack="wolfssl"), "socket", 'needs link = "memory"'),
])
def test_send_cap_that_caps_nothing_is_refused(client: EndpointConfig, link: str,
                                               message: str) -> None:
    with pytest.raises(ValueError, match=message):
        builder.build(client, None, contexts={}, link=link, socket_buffer=None,
                      trace_hooks=False, send_cap=64)
