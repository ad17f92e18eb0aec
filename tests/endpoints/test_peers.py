"""External peers: start, health-check, talk over TCP, always stop; bounded waits."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from biopair import EndpointConfig, Pair
from biopair.endpoints.peers import PeerEndpoint, PeerError, peer_command
from biopair.scenario.loader import ScenarioError, load_scenario
from tests import helpers

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
needs_gnutls = pytest.mark.skipif(shutil.which("gnutls-serv") is None,
                                  reason="gnutls-bin not installed (apt-get install gnutls-bin)")


@pytest.mark.parametrize("stack", [
    pytest.param("openssl-cli", marks=needs_openssl),
    pytest.param("gnutls-cli", marks=needs_gnutls)])
def test_server_peer_bytewise_handshake_then_echo(stack: str) -> None:
    server = EndpointConfig(role="server", stack=stack)
    with Pair(EndpointConfig(role="client"), server, deliver="bytewise") as pair:
        peer = pair.server
        assert isinstance(peer, PeerEndpoint)
        proc = peer.proc
        result = pair.run([("client", "connect")])
        assert result.terminal is None
        assert result.outcomes["client"][-1].ret == 1
        moves = helpers.moves(pair.trace, "client>server")
        assert moves and all(m.nbytes == 1 for m in moves)
        assert pair.trace.link == "tcp-peer"
        pair.call("client", "write", data=b"abc\n")
        pair.run([("client", "read")], deliver="all")
        assert bytes(helpers.pyopenssl(pair, "client").received) in (b"abc\n", b"cba\n")
    assert proc.poll() is not None  # closing the pair killed the peer


@needs_openssl
def test_client_peer_reaches_in_process_server() -> None:
    client = EndpointConfig(role="client", stack="openssl-cli")
    with Pair(client, EndpointConfig(role="server")) as pair:
        result = pair.run([("server", "accept")])
        assert result.outcomes["server"][-1].ret == 1
        assert helpers.state(pair, "server")["version"] == "TLSv1.3"


@needs_openssl
def test_silent_peer_is_a_bounded_deadlock() -> None:
    # The client reads before anything was written: s_server sends nothing, so after the
    # bounded wait the run ends in DEADLOCK instead of hanging.
    server = EndpointConfig(role="server", stack="openssl-cli")
    with Pair(EndpointConfig(role="client"), server) as pair:
        assert pair.run([("client", "connect")]).terminal is None
        started = time.monotonic()
        result = pair.run([("client", "read")])
        assert result.terminal == "DEADLOCK"
        assert time.monotonic() - started < 10


@needs_openssl
def test_a_peer_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    cfg = EndpointConfig(role="server", stack="openssl-cli", cert="none")
    with pytest.raises(PeerError, match="exited with status"):
        PeerEndpoint(cfg)  # s_server without a certificate refuses to start


def test_missing_program_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(PeerError, match="gnutls-serv is not installed"):
        PeerEndpoint(EndpointConfig(role="server", stack="gnutls-cli"))


def test_commands() -> None:
    files = {"cert": Path("c.pem"), "key": Path("k.pem"), "chain_full": Path("f.pem"),
             "ca": Path("ca.pem")}
    server = peer_command(EndpointConfig(role="server", stack="openssl-cli", version="1.2"),
                          4433, files)
    assert server[:4] == ["openssl", "s_server", "-accept", "127.0.0.1:4433"]
    assert "-tls1_2" in server
    cli = peer_command(EndpointConfig(role="client", stack="gnutls-cli"), 4433, files)
    assert cli[0] == "gnutls-cli" and cli[-1] == "127.0.0.1"


@pytest.mark.parametrize(("body", "key", "message"), [
    ('[server]\nstack = "openssl-cli"\n[[steps]]\ncall = "server accept"\n',
     "steps[1].call", "external program"),
    ('[server]\nstack = "gnutls-cli"\nciphers = "x"\n[[steps]]\ncall = "client connect"\n',
     "server.ciphers", "not available"),
    ('[server]\nstack = "openssl-cli"\n[client]\nstack = "gnutls-cli"\n'
     '[[steps]]\nmove = "client>server"\n', "server.stack", "both endpoints"),
    ('[server]\nstack = "openssl-cli"\n[[steps]]\ncall = "client connect"\n'
     '[result.server]\nversion = "TLSv1.3"\n', "result.server", "not visible"),
    ('[server]\nstack = "mbedtls"\n[[steps]]\ncall = "client connect"\n',
     "server.stack", "is not one of"),
])
def test_peer_scenario_errors(tmp_path: Path, body: str, key: str, message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message
