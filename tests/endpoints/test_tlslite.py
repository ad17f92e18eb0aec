"""The tlslite-ng stack against a pyOpenSSL peer: its generators' yields as wants, and
its crash when sends are capped (``BufferedSocket.flush`` calls ``sendall``)."""

from __future__ import annotations

import pytest

from biopair.endpoints import registry
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import Endpoint, RawResult
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from tests.conformance.drive import done, handshake_op, pump

pytestmark = [pytest.mark.skipif(registry.missing("tlslite-ng") is not None,
                                 reason=str(registry.missing("tlslite-ng"))),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]
tlslite = pytest.importorskip("biopair.endpoints.tlslite")


def _drive(ep: Endpoint, peer: Endpoint, rounds: int = 5_000) -> dict[str, list[RawResult]]:
    seen: dict[str, list[RawResult]] = {ep.name: [], peer.name: []}
    for _ in range(rounds):
        for e in (ep, peer):
            if not seen[e.name] or not done(seen[e.name][-1]):
                seen[e.name].append(e.call(handshake_op(e.name)))
        moved = pump(ep, peer, 1) | pump(peer, ep, 1)
        if not moved and done(seen[ep.name][-1]):
            break
    return seen


def _pair(role: str, version: str, cap: int | None) -> tuple[Endpoint, Endpoint]:
    other = "server" if role == "client" else "client"
    ep = tlslite.TlsliteEndpoint(EndpointConfig(role=role, stack="tlslite-ng",
                                                version=version), send_cap=cap)
    return ep, PyOpenSSLEndpoint(EndpointConfig(role=other, version=version),
                                 trace_hooks=False)


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_bytewise_handshake_yields_want_read_then_finishes(role: str, version: str) -> None:
    ep, peer = _pair(role, version, cap=None)
    results = _drive(ep, peer)[role]
    assert {r.error for r in results[:-1]} == {"WANT_READ"}
    assert all(r.ret is None for r in results[:-1]), "tlslite-ng has no return value"
    assert (results[-1].ret, results[-1].error) == (1, "NONE")
    state = ep.state()
    assert state is not None
    assert state["version"] == f"TLSv{version}"
    assert state["cipher"] and state["cipher"].startswith("TLS_")


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_capped_sends_crash_a_flight_with_blocking_io_error(role: str, version: str) -> None:
    # Measured with tlslite-ng 0.8.2: the client's first flight yields WANT_WRITE (it goes
    # through the record layer's own loop), every later flight of either side is sent by
    # BufferedSocket.flush() -> sendall() and raises.
    ep, peer = _pair(role, version, cap=1)
    results = _drive(ep, peer)[role]
    last = results[-1]
    assert (last.ret, last.error) == (None, "SSL"), last
    assert last.reasons == ("BlockingIOError(11, 'send buffer full')",)
    assert last.pyopenssl == "raise BlockingIOError(11, 'send buffer full')"
    if role == "client":
        assert "WANT_WRITE" in {r.error for r in results}
    else:
        assert {r.error for r in results[:-1]} == {"WANT_READ"}


def test_an_exception_is_an_ssl_error_with_the_exception_as_reason() -> None:
    ep = tlslite.TlsliteEndpoint(EndpointConfig(role="server", stack="tlslite-ng"))
    ep.wire_eof()  # the input ends before a ClientHello
    result = ep.call("accept")
    assert (result.ret, result.error) == (None, "SSL")
    assert result.reasons == ("TLSAbruptCloseError()",)
