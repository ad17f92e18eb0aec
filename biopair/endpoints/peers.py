"""External peers: a real TLS program in another process, reached over loopback TCP.

``stack = "openssl-cli"`` runs the system ``openssl`` command line (``s_server`` for a
server, ``s_client`` for a client); ``stack = "gnutls-cli"`` runs GnuTLS's tools
(``gnutls-serv`` / ``gnutls-cli``; Debian package ``gnutls-bin``).  The other side stays
in-process, and the scheduler starves and moves the bytes to and from the peer exactly as
between two in-process endpoints: the peer's side of each link is a TCP socket (a move
*to* the peer is ``send``, a pull *from* it a non-blocking ``recv``).  The trace shows the
in-process side's calls and every move; the peer itself cannot be called.

Life cycle (per scenario, always cleaned up)
--------------------------------------------
* a server peer: biopair starts the program on port 0, so it binds a port of its own, and
  waits (at most :data:`START_TIMEOUT` seconds) until a listening socket appears among the
  peer's file descriptors (``/proc/PID/fd`` against ``/proc/net/tcp``: the health check
  opens no connection the peer would count); then it connects.
* a client peer: biopair listens on a free loopback port, starts the program towards it,
  and accepts its connection (at most :data:`START_TIMEOUT` seconds).
* either way the connection is proven to be with the child: the inode of the socket at
  its other end must be among the child's file descriptors, else :class:`PeerError`.
* a program that is missing, exits early or never listens/connects is a
  :class:`PeerError` naming the command and its stderr -- never a hang.
* :meth:`PeerEndpoint.close` (called by ``Pair.close``, also on failure) kills the
  process group (the peer leads its own session) and removes the temporary folder; a
  ``weakref.finalize`` does it even if the pair is never closed, and ``PR_SET_PDEATHSIG``
  has the kernel kill the peer if biopair dies.
* caps: :data:`OUTPUT_CAP` on each output file (``RLIMIT_FSIZE``), :data:`RECEIVE_CAP`
  on the bytes taken from the peer in one run; the environment loses :data:`SECRET_ENV`.

DEADLOCK with a peer
--------------------
A peer answers asynchronously, so "nothing changed this round" does not yet mean a stall.
Before the scheduler declares DEADLOCK it asks each peer link to wait for bytes
(:meth:`PeerLink.wait_for_bytes`): at most :data:`FIRST_BYTE_WAIT` seconds for a first
byte, then until the peer has been quiet for :data:`QUIET` seconds.  Only a round with no
change *and* a silent peer is a DEADLOCK.  An explicit ``move`` from a peer with nothing
queued waits the same way.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from biopair.endpoints import pki
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData


def _peer_capabilities(stack: str, package: str) -> Capabilities:
    # A peer cannot be called and its state cannot be seen: no ops, no results.  Its
    # bytes travel over TCP (a PeerLink) on the default memory schedule.
    return Capabilities(
        stack=stack,
        ops=frozenset(),
        settings=frozenset({"stack", "version", "server_name", "verify", "trust", "cert",
                            "cert_host", "cert_issuer", "cert_validity"}),
        results=frozenset(),
        links=frozenset({"memory"}),
        versions=frozenset({"1.2", "1.3"}),
        raw_returns=False,
        external=True,
        package=package,
    )


#: What each external program supports, by stack name.
CAPABILITIES: dict[str, Capabilities] = {
    "openssl-cli": _peer_capabilities("openssl-cli", "Debian: openssl"),
    "gnutls-cli": _peer_capabilities("gnutls-cli", "Debian: gnutls-bin"),
}
#: Stack names of external peers.
PEER_STACKS: tuple[str, ...] = tuple(CAPABILITIES)
#: Endpoint keys a peer honours (derived; kept for the loader until it reads
#: :func:`biopair.endpoints.registry.capabilities`).
PEER_KEYS: tuple[str, ...] = tuple(sorted(CAPABILITIES["openssl-cli"].settings))
#: Seconds a peer may take to listen / connect.
START_TIMEOUT = 10.0
#: Seconds to wait for a peer's first byte before a stall is a DEADLOCK.
FIRST_BYTE_WAIT = 2.0
#: Seconds of silence after which a peer is taken to have sent all it will.
QUIET = 0.05
#: Seconds a connection's other end may stay outside the peer's file descriptors before
#: it is taken for another program's.
FOREIGN_GRACE = 0.2
#: What a client peer sends once its handshake is done (a server peer echoes).
CLIENT_MESSAGE = b"hello from the peer\n"


class PeerError(RuntimeError):
    """An external peer could not be started or reached; the message says why."""


#: Bytes a peer may write to its stdout and stderr files (each); a peer that writes more
#: is stopped by the kernel (RLIMIT_FSIZE) and the run fails with a PeerError.
OUTPUT_CAP = 64 << 20
#: Bytes biopair takes from one peer in one run; more is a PeerError (a peer may send
#: what nobody asked for, and every byte taken is kept for the trace).
RECEIVE_CAP = 64 << 20
#: Environment variables removed from a peer's environment: they make a TLS library write
#: secrets (or debug output that includes them) where nobody asked.
SECRET_ENV: tuple[str, ...] = ("SSLKEYLOGFILE", "GNUTLS_KEYLOGFILE", "GNUTLS_DEBUG_LEVEL",
                               "OPENSSL_TRACE")

_TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_LISTEN, _ESTABLISHED = "0A", "01"


def _tcp_sockets(tables: tuple[str, ...] = _TCP_TABLES
                 ) -> list[tuple[int, int, str, int]] | None:
    """Every TCP socket on this host as ``(local port, remote port, state, inode)``;
    None when /proc/net/tcp cannot be read (not Linux)."""
    rows: list[tuple[int, int, str, int]] = []
    readable = False
    for table in tables:
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            rows.append((int(fields[1].rsplit(":", 1)[1], 16),
                         int(fields[2].rsplit(":", 1)[1], 16), fields[3], int(fields[9])))
    return rows if readable else None


def _socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds open (from ``/proc/PID/fd``)."""
    found: set[int] = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return found
    for name in names:
        with contextlib.suppress(OSError):
            target = os.readlink(f"{fd_dir}/{name}")
            if target.startswith("socket:["):
                found.add(int(target[8:-1]))
    return found


def _listening_port(pid: int) -> int | None:
    """The port of an IPv4 loopback-reachable socket process ``pid`` listens on, if any."""
    rows = _tcp_sockets(_TCP_TABLES[:1])  # IPv4 only: biopair connects to 127.0.0.1
    if rows is None:
        raise PeerError("cannot tell which port the peer listens on: /proc/net/tcp is not "
                        "readable (external peers need Linux)")
    mine = _socket_inodes(pid)
    for local, _remote, state, inode in rows:
        if state == _LISTEN and inode in mine:
            return local
    return None


def _other_end(sock: socket.socket) -> int | None:
    """The inode of the socket at the other end of a loopback TCP connection (0: not yet
    accepted by any process; None: not found)."""
    local = sock.getsockname()[1]
    remote = sock.getpeername()[1]
    for lport, rport, state, inode in _tcp_sockets() or ():
        if lport == remote and rport == local and state == _ESTABLISHED:
            return inode
    return None


def program_for(stack: str, role: str) -> str:
    if stack == "openssl-cli":
        return "openssl"
    return "gnutls-serv" if role == "server" else "gnutls-cli"


def peer_command(cfg: EndpointConfig, port: int, files: dict[str, Path]) -> list[str]:
    """The command line that runs the peer for ``cfg`` on ``port``."""
    v13 = cfg.version == "1.3"
    v12 = cfg.version == "1.2"
    if cfg.stack == "openssl-cli":
        if cfg.role == "server":
            cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1",
                   "-rev", "-quiet"]
            if "cert" in files:  # without one s_server looks for ./server.pem and exits
                cmd += ["-cert", str(files["cert"]), "-key", str(files["key"])]
            if "chain" in files:
                cmd += ["-cert_chain", str(files["chain"])]
        else:
            cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-quiet"]
            if cfg.server_name:
                cmd += ["-servername", cfg.server_name]
            if "ca" in files:
                cmd += ["-CAfile", str(files["ca"])]
            if cfg.verify:
                cmd += ["-verify_return_error", "-verify_hostname",
                        cfg.server_name or "server.test"]
        if v13:
            cmd.append("-tls1_3")
        elif v12:
            cmd.append("-tls1_2")
        return cmd
    priority = "NORMAL"
    if v13:
        priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
    elif v12:
        priority = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
    if cfg.role == "server":
        cmd = ["gnutls-serv", "--port", str(port), "--echo", "--quiet",
               f"--priority={priority}"]
        if "cert" in files:
            cmd += ["--x509certfile", str(files["chain_full"]),
                    "--x509keyfile", str(files["key"])]
        return cmd
    cmd = ["gnutls-cli", "--port", str(port), f"--priority={priority}"]
    if "ca" in files:
        cmd += ["--x509cafile", str(files["ca"])]
    if not cfg.verify:
        cmd.append("--insecure")
    if cfg.server_name:
        cmd += ["--sni-hostname", cfg.server_name, "--verify-hostname", cfg.server_name]
    cmd.append("127.0.0.1")
    return cmd


def _kill(proc: subprocess.Popen[bytes], tmp: tempfile.TemporaryDirectory[str],
          files: tuple[Any, ...] = ()) -> None:
    for fh in files:
        with contextlib.suppress(OSError):
            fh.close()
    if proc.poll() is None:
        # The peer leads its own process group (start_new_session): kill the group, so a
        # helper it started goes too.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    tmp.cleanup()


def peer_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables in :data:`SECRET_ENV`."""
    return {k: v for k, v in environ.items() if k not in SECRET_ENV}


_PR_SET_PDEATHSIG = 1


@functools.cache
def _prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return cast(Callable[..., int], ctypes.CDLL(None, use_errno=True).prctl)
    except (OSError, AttributeError):
        return None


def _child_setup(output_cap: int, prctl: Callable[..., int] | None) -> None:
    # Runs in the child between fork and exec: no locks, no allocation worth naming.
    resource.setrlimit(resource.RLIMIT_FSIZE, (output_cap, output_cap))
    if prctl is not None:
        # Killed with its parent, even if the parent is killed with SIGKILL.
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class PeerEndpoint:
    """A TLS program in another process; the in-process side talks to it over TCP.

    Implements :class:`biopair.endpoints.protocol.Endpoint`; its wire is the TCP socket.

    Args:
        cfg: its settings (``stack`` is one of :data:`PEER_STACKS`).

    Raises:
        PeerError: when the program is missing, exits, does not listen/connect in time,
            or the connection's other end is not the program biopair started.
    """

    def __init__(self, cfg: EndpointConfig) -> None:
        self.cfg = cfg
        self.name = cfg.role
        self.stack = cfg.stack
        self.capabilities = CAPABILITIES[cfg.stack]
        self.write_data = b""  # a peer is never called: it has no write buffer
        self.received = 0
        self._peer_closed = False
        program = program_for(cfg.stack, cfg.role)
        if shutil.which(program) is None:
            package = self.capabilities.package.removeprefix("Debian: ")
            raise PeerError(f"{cfg.role}: {program} is not installed "
                            f"(Debian: apt-get install {package})")
        self._tmp = tempfile.TemporaryDirectory(prefix="biopair-peer-")
        listener: socket.socket | None = None
        try:
            files = self._write_pki(Path(self._tmp.name))
            if cfg.role == "server":
                port = 0  # the peer binds a port of its own; biopair reads which
            else:
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.bind(("127.0.0.1", 0))
                listener.listen(1)
                port = int(listener.getsockname()[1])
            self.command = peer_command(cfg, port, files)
            # stdout and stderr go to files, never to pipes nobody reads while the peer
            # runs: a full pipe would stop the peer, and its stall would look like the
            # peer's own (s_client -quiet prints every byte it receives).
            self._out = (Path(self._tmp.name) / "stdout").open("wb")
            self._err = (Path(self._tmp.name) / "stderr").open("wb")
            self.proc = subprocess.Popen(
                self.command, stdin=subprocess.PIPE, stdout=self._out, stderr=self._err,
                cwd=self._tmp.name, start_new_session=True,
                env=peer_environment(os.environ),
                preexec_fn=functools.partial(_child_setup, OUTPUT_CAP, _prctl()))
        except BaseException:
            if listener is not None:
                listener.close()
            for stream in ("_out", "_err"):
                with contextlib.suppress(AttributeError, OSError):
                    getattr(self, stream).close()
            self._tmp.cleanup()
            raise
        self._finalizer = weakref.finalize(self, _kill, self.proc, self._tmp,
                                           (self._out, self._err))
        try:
            self.sock = (self._connect() if listener is None else self._accept(listener))
            self._verify(self.sock)
        except BaseException:
            self.close()
            raise
        finally:
            if listener is not None:
                listener.close()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Non-blocking: a pull must never wait (Python's timeout mode would poll first).
        self.sock.setblocking(False)
        if cfg.role == "client" and self.proc.stdin is not None:
            # s_client / gnutls-cli send their stdin once the handshake is done.
            with contextlib.suppress(OSError):
                self.proc.stdin.write(CLIENT_MESSAGE)
                self.proc.stdin.flush()

    def _write_pki(self, tmp: Path) -> dict[str, Path]:
        cfg = self.cfg
        files: dict[str, Path] = {}
        if cfg.certificate != "none":
            creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                             cfg.cert_validity)
            files["cert"] = tmp / "cert.pem"
            files["cert"].write_bytes(pki.pem(creds.cert))
            files["key"] = tmp / "key.pem"
            files["key"].write_bytes(pki.key_pem(creds.key))
            files["chain_full"] = tmp / "chain-full.pem"
            files["chain_full"].write_bytes(
                pki.pem(creds.cert) + b"".join(pki.pem(c) for c in creds.chain))
            if creds.chain:
                files["chain"] = tmp / "chain.pem"
                files["chain"].write_bytes(b"".join(pki.pem(c) for c in creds.chain))
        if cfg.trust != "none":
            files["ca"] = tmp / "ca.pem"
            files["ca"].write_bytes(pki.pem(pki.ca(cfg.trust)[0]))
        return files

    def _failed(self, what: str) -> PeerError:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        err = b""
        with contextlib.suppress(OSError):
            err = (Path(self._tmp.name) / "stderr").read_bytes()
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        detail = ("; stderr: " + " | ".join(tail)) if tail else ""
        self.close()
        return PeerError(f"{self.cfg.role}: {what}: {' '.join(self.command)}{detail}")

    def _connect(self) -> socket.socket:
        # The peer was told port 0: it binds one itself, so no other process can take it
        # between a choice and the peer's bind.  Its listening socket is found among the
        # peer's own file descriptors (/proc/PID/fd), so the check opens no connection the
        # peer would count.
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.proc.poll() is not None:
                raise self._failed(f"exited with status {self.proc.returncode} before "
                                   f"listening")
            port = _listening_port(self.proc.pid)
            if port is not None:
                self.port = port
                return socket.create_connection(("127.0.0.1", port), timeout=1.0)
            if time.monotonic() > deadline:
                raise self._failed(f"not listening after {START_TIMEOUT}s")
            time.sleep(0.02)

    def _accept(self, listener: socket.socket) -> socket.socket:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            ready, _, _ = select.select([listener], [], [], 0.05)
            if ready:
                sock, _ = listener.accept()
                return sock
            if self.proc.poll() is not None:
                raise self._failed(f"exited with status {self.proc.returncode} before "
                                   f"connecting")
            if time.monotonic() > deadline:
                raise self._failed(f"did not connect within {START_TIMEOUT}s")

    def _verify(self, sock: socket.socket) -> None:
        """Prove the connection's other end is a socket of the process biopair started:
        its inode must be among the peer's file descriptors (/proc/PID/fd).

        Raises:
            PeerError: when it belongs to another process, or the peer never takes it.
        """
        deadline = time.monotonic() + START_TIMEOUT
        foreign_since: float | None = None
        while True:
            inode = _other_end(sock)
            # 0: a server peer has not yet accepted it (it waits in the listen queue).
            if inode and inode in _socket_inodes(self.proc.pid):
                return
            now = time.monotonic()
            if inode:
                # accept() makes the socket visible a moment before it enters the fd
                # table: a foreign inode is refused once it stays foreign.
                foreign_since = now if foreign_since is None else foreign_since
            if ((foreign_since is not None and now - foreign_since > FOREIGN_GRACE)
                    or now > deadline):
                where = sock.getpeername()
                self.close()
                raise PeerError(
                    f"{self.cfg.role}: the connection with 127.0.0.1:{where[1]} is not with "
                    f"the {program_for(self.stack, self.cfg.role)} process biopair started "
                    f"(pid {self.proc.pid}); refusing to talk to another program")
            if self.proc.poll() is not None:
                raise self._failed(f"exited with status {self.proc.returncode} before "
                                   f"accepting")
            time.sleep(0.005)

    def _check_output(self) -> None:
        for fh, name in ((self._out, "stdout"), (self._err, "stderr")):
            with contextlib.suppress(OSError, ValueError):
                if os.fstat(fh.fileno()).st_size >= OUTPUT_CAP:
                    raise PeerError(f"{self.name}: the peer wrote {OUTPUT_CAP} bytes to its "
                                    f"{name} (the cap) and was stopped")

    # -- the wire -----------------------------------------------------------------------
    def wire_take(self, limit: int) -> bytes | None:
        """What the peer sent so far, without waiting (None: the peer closed)."""
        if self._peer_closed:
            return None
        room = RECEIVE_CAP - self.received
        if room <= 0:
            raise PeerError(f"{self.name}: the peer sent more than {RECEIVE_CAP} bytes in "
                            f"one run (the cap)")
        try:
            data = self.sock.recv(min(limit, room + 1))
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError:
            data = b""
        if not data:
            # The peer closed: if the kernel stopped it for writing too much, say so.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=0.05)
            self._peer_closed = True
            self._check_output()
            return None
        self.received += len(data)
        if self.received > RECEIVE_CAP:
            raise PeerError(f"{self.name}: the peer sent more than {RECEIVE_CAP} bytes in "
                            f"one run (the cap)")
        return data

    def wire_give(self, data: bytes) -> int:
        """Send bytes to the peer (waiting at most START_TIMEOUT for buffer space).

        Returns:
            ``len(data)``: all were sent, or the peer is gone (its EOF shows on the
            other link).

        Raises:
            PeerError: when the peer does not take the bytes in time.
        """
        view = memoryview(data)
        deadline = time.monotonic() + START_TIMEOUT
        while view:
            try:
                sent = self.sock.send(view)
            except BlockingIOError:
                sent = 0
            except OSError:
                return len(data)  # the peer is gone; its EOF shows on the other link
            view = view[sent:]
            if view:
                if time.monotonic() > deadline:
                    raise PeerError(f"{self.name}: the peer took no bytes for "
                                    f"{START_TIMEOUT}s")
                select.select([], [self.sock], [], 0.05)
        return len(data)

    def wire_eof(self) -> None:
        """Close our sending side (the peer reads EOF)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def wire_pending(self) -> int:
        """Unknown for a peer (its kernel buffers are not ours to read): 0."""
        return 0

    def readable(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the peer to send something (or close)."""
        ready, _, _ = select.select([self.sock], [], [], timeout)
        return bool(ready)

    # -- endpoint interface -------------------------------------------------------------
    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """A peer cannot be called (the loader rejects such steps).

        Raises:
            PeerError: always.
        """
        raise PeerError(f"{self.name} is an external program ({self.cfg.stack}); only the "
                        f"in-process side can be called")

    def state(self) -> None:
        """A peer's state cannot be seen: None (result checks skip it)."""
        return None

    def state_string(self) -> None:
        """A peer's state cannot be seen: None."""
        return None

    def session(self) -> None:
        """A peer has no session object here."""
        return None

    def output(self) -> bytes:
        """What the peer printed on stdout so far (until :meth:`close` removes it)."""
        with contextlib.suppress(OSError):
            return (Path(self._tmp.name) / "stdout").read_bytes()
        return b""

    def export_keys(self, label: bytes, length: int) -> None:
        """None: this stack has no exporter (``keys_match`` is refused at load)."""
        return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Refused: this stack cannot change modes (the loader refuses the step)."""
        raise ValueError(f"the {self.stack} stack cannot change modes or options")

    def close(self) -> None:
        """Close the socket and kill the process; safe to call twice."""
        sock = getattr(self, "sock", None)
        if sock is not None:
            sock.close()
        self._finalizer()


def peer_available(stack: str, role: str) -> bool:
    """True when the program for ``stack`` in ``role`` is on PATH."""
    return shutil.which(program_for(stack, role)) is not None


