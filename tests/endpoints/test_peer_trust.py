"""Peers you can trust: biopair talks only to the program it started, takes a bounded
amount from it, and gives it no secret-writing environment."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from biopair import EndpointConfig, Pair, load_scenario, run_scenario
from biopair.endpoints import peers
from biopair.endpoints.peers import PeerEndpoint, PeerError
from biopair.scenario.loader import ScenarioError

ROOT = Path(__file__).parents[2]
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")
needs_gnutls = pytest.mark.skipif(shutil.which("gnutls-serv") is None,
                                  reason="gnutls-bin not installed (apt-get install gnutls-bin)")


def _peer_dirs() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("biopair-peer-*")}


@pytest.fixture(autouse=True)
def _private_tempdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Under xdist other workers' peers come and go in the shared temp dir.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.fixture
def stranger() -> Iterator[socket.socket]:
    """Another program's listening socket on loopback; it accepts every connection."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock
    sock.close()
    for conn in accepted:
        conn.close()


@needs_openssl
def test_a_stranger_on_the_server_port_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                   stranger: socket.socket) -> None:
    # As if another process had won the port: biopair is pointed at the stranger's.
    port = stranger.getsockname()[1]
    monkeypatch.setattr(peers, "_listening_port", lambda pid: port)
    with pytest.raises(PeerError, match="not with the openssl process biopair started"
                       ) as info:
        PeerEndpoint(EndpointConfig(role="server", stack="openssl-cli"))
    assert f"127.0.0.1:{port}" in str(info.value)
    assert _peer_dirs() == set()  # the peer was stopped and its key removed


@needs_openssl
def test_a_stranger_connecting_to_the_client_port_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Someone else connects to the port biopair listens on before the client peer does.
    held: list[socket.socket] = []

    def command(cfg: EndpointConfig, port: int, files: dict[str, Path]) -> list[str]:
        held.append(socket.create_connection(("127.0.0.1", port)))
        return ["sleep", "5"]

    monkeypatch.setattr(peers, "peer_command", command)
    try:
        with pytest.raises(PeerError, match="refusing to talk to another program"):
            PeerEndpoint(EndpointConfig(role="client", stack="openssl-cli"))
    finally:
        for s in held:
            s.close()


@needs_openssl
def test_the_server_peer_binds_its_own_port() -> None:
    with Pair(EndpointConfig(role="client"),
              EndpointConfig(role="server", stack="openssl-cli")) as pair:
        peer = pair.server
        assert isinstance(peer, PeerEndpoint)
        assert "127.0.0.1:0" in peer.command  # never a port chosen and released first
        assert peer.sock.getpeername()[1] == peer.port != 0
        assert pair.run([("client", "connect")]).terminal is None


def test_secret_writing_variables_are_removed() -> None:
    env = peers.peer_environment({"SSLKEYLOGFILE": "/x", "GNUTLS_KEYLOGFILE": "/y",
                                  "PATH": "/bin", "HOME": "/h"})
    assert env == {"PATH": "/bin", "HOME": "/h"}


@needs_gnutls
@pytest.mark.parametrize("scenario", ["gnutls-serv-bytewise-clienthello.toml",
                                      "gnutls-cli-to-pyopenssl-server-bytewise.toml"])
def test_a_gnutls_peer_writes_no_key_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         scenario: str) -> None:
    keylog = tmp_path / "keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(keylog))
    verdict = run_scenario(load_scenario(ROOT / "scenarios/peers" / scenario))
    assert verdict.passed, verdict.report()
    assert not keylog.exists()


@needs_openssl
def test_a_peer_flooding_its_output_is_stopped(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # s_client -quiet prints every byte it receives; over the cap the kernel stops it, and
    # the next look at the peer (the second read: the first gets its line) says why.
    monkeypatch.setattr(peers, "OUTPUT_CAP", 64 << 10)
    steps = "".join('[[steps]]\ncall = "server write"\nsize = 16384\n'
                    '[[steps]]\nmove = "server>client"\n' for _ in range(8))
    path = tmp_path / "flood.toml"
    path.write_text('title = "flood"\n[client]\nstack = "openssl-cli"\n'
                    '[[steps]]\nrun = ["server accept"]\n' + steps
                    + '[[steps]]\nrun = ["server read"]\n' * 2)
    with pytest.raises(ScenarioError, match="wrote 65536 bytes to its stdout"):
        run_scenario(load_scenario(path))


@needs_openssl
def test_bytes_taken_from_a_peer_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    # s_server -rev echoes every line: 64 KiB of lines come back, over a 16 KiB cap.
    monkeypatch.setattr(peers, "RECEIVE_CAP", 16 << 10)
    with Pair(EndpointConfig(role="client"),
              EndpointConfig(role="server", stack="openssl-cli")) as pair:
        pair.run([("client", "connect")])
        with pytest.raises(PeerError, match="more than 16384 bytes in one run"):
            for _ in range(16):
                pair.call("client", "write", data=b"x" * 4095 + b"\n")
                pair.move("client>server")
                pair.move("server>client")


@needs_openssl
def test_the_peer_is_killed_with_its_process_group() -> None:
    pair = Pair(EndpointConfig(role="client"), EndpointConfig(role="server", stack="openssl-cli"))
    peer = pair.server
    assert isinstance(peer, PeerEndpoint)
    assert os.getpgid(peer.proc.pid) == peer.proc.pid  # it leads its own group
    pair.close()
    assert peer.proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(peer.proc.pid, 0)
