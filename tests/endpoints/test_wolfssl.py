"""The wolfssl stack against a pyOpenSSL peer, starved byte by byte, with capped sends.

The conformance suite (``tests/conformance/``) proves the protocol; these tests show what
only wolfSSL does: a genuine WANT_WRITE from a capped send callback, and wolfSSL 5.5's
lost WANT_WRITE in a TLS 1.3 handshake (fixed upstream by wolfSSL PR #7001).
"""

from __future__ import annotations

import pytest

from biopair.endpoints import registry
from biopair.endpoints.config import ConfigError, EndpointConfig
from biopair.endpoints.protocol import Endpoint, RawResult
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.endpoints.versions import stack_versions
from biopair.endpoints.wolfssl import WolfSSLEndpoint
from tests.conformance.drive import done, handshake_op, pump

pytestmark = pytest.mark.skipif(registry.missing("wolfssl") is not None,
                                reason=str(registry.missing("wolfssl")))
wolfssl = pytest.importorskip("biopair.endpoints.wolfssl")


def _drive(ep: Endpoint, peer: Endpoint) -> dict[str, list[RawResult]]:
    # Both handshakes, one byte each way after every call; wolfSSL is called again after
    # anything but success, so a -1 with error 0 shows up as often as it is returned.
    seen: dict[str, list[RawResult]] = {ep.name: [], peer.name: []}
    for _ in range(20_000):
        for e in (ep, peer):
            last = seen[e.name][-1] if seen[e.name] else None
            if last is None or not done(last) or last.ret == -1:
                seen[e.name].append(e.call(handshake_op(e.name)))
        moved = pump(ep, peer, 1) | pump(peer, ep, 1)
        if not moved and all(r[-1].ret == 1 for r in seen.values()):
            return seen
    raise AssertionError("no handshake")


def _pair(role: str, version: str, cap: int | None) -> tuple[Endpoint, Endpoint]:
    other = "server" if role == "client" else "client"
    ep = wolfssl.WolfSSLEndpoint(EndpointConfig(role=role, stack="wolfssl", version=version),
                                 send_cap=cap)
    return ep, PyOpenSSLEndpoint(EndpointConfig(role=other, version=version),
                                 trace_hooks=False)


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_a_capped_send_callback_gives_a_genuine_want_write(role: str, version: str) -> None:
    ep, peer = _pair(role, version, cap=1)
    try:
        seen = _drive(ep, peer)
        errors = [r.error for r in seen[role]]
        assert "WANT_WRITE" in errors
        assert isinstance(ep, WolfSSLEndpoint)
        assert ep.pipe.send_refusals >= errors.count("WANT_WRITE")
        state = ep.state()
        assert state is not None and state["version"] == f"TLSv{version}"
    finally:
        ep.close()


@pytest.mark.parametrize("role", ["client", "server"])
def test_tls13_want_write_then_minus_one_with_error_0(role: str) -> None:
    # wolfSSL PR #7001 (merged 2023-11): after a WANT_WRITE in a non-blocking TLS 1.3
    # handshake, wolfSSL_connect/wolfSSL_accept return -1 and wolfSSL_get_error() 0.
    ep, peer = _pair(role, "1.3", cap=1)
    try:
        results = _drive(ep, peer)[role]
    finally:
        ep.close()
    lost = [r for r in results if r.ret == -1 and r.error == "NONE"]
    after_want_write = [results[i + 1] for i, r in enumerate(results[:-1])
                        if r.error == "WANT_WRITE"]
    if stack_versions()["wolfssl"][:2] == (5, 5):
        assert lost, "wolfSSL 5.5 reports -1 with error 0 after a WANT_WRITE"
        assert lost[0].pyopenssl.startswith("wolfSSL_get_error() = 0:")
        assert any(r.ret == -1 and r.error == "NONE" for r in after_want_write)
        if role == "client":
            assert len(lost) == 56  # measured: deterministic, bytewise
    else:
        assert not lost
    assert results[-1].ret == 1


def test_tls12_never_loses_a_want_write() -> None:
    ep, peer = _pair("client", "1.2", cap=1)
    try:
        results = _drive(ep, peer)["client"]
    finally:
        ep.close()
    assert not [r for r in results if r.ret == -1 and r.error == "NONE"]


def test_an_ssl_error_carries_wolfssls_code_and_string() -> None:
    # The client trusts another CA: wolfSSL's own code, its string, named SSL.
    ep = wolfssl.WolfSSLEndpoint(EndpointConfig(role="client", stack="wolfssl",
                                                trust="other-ca"))
    peer = PyOpenSSLEndpoint(EndpointConfig(role="server"), trace_hooks=False)
    try:
        seen = _drive_until_failure(ep, peer)
    finally:
        ep.close()
    assert seen.error == "SSL" and seen.ret == -1
    assert seen.reasons and seen.reasons[0].endswith(")")
    code = int(seen.reasons[0].rsplit("(", 1)[1].rstrip(")"))
    assert code < 0
    assert seen.pyopenssl.startswith(f"wolfSSL_get_error() = {code}: ")


def _drive_until_failure(ep: Endpoint, peer: Endpoint) -> RawResult:
    for _ in range(100):
        result = ep.call(handshake_op(ep.name))
        if done(result):
            return result
        peer.call(handshake_op(peer.name))
        pump(ep, peer) | pump(peer, ep)
    raise AssertionError("no failure")


def test_a_refused_setting_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        wolfssl.WolfSSLEndpoint(EndpointConfig(role="server", stack="wolfssl",
                                               verify_client="post-handshake"))
    assert info.value.key == "server.verify_client"


def test_close_twice_frees_once() -> None:
    ep = wolfssl.WolfSSLEndpoint(EndpointConfig(role="client", stack="wolfssl"))
    ep.close()
    ep.close()
    assert ep.state() is None and ep.state_string() is None
