"""pyOpenSSL's ``Connection.sendall()`` on a real socket, as an application uses it:
``stack = "python:biopair.endpoints.wrappers.sendall:make"`` (pyca/pyopenssl#176).

The wrapper owns a non-blocking AF_UNIX socketpair: a pyOpenSSL ``Connection`` sits on
one end (its send buffer :data:`SOCKET_BUFFER` bytes, larger than one 16 KiB record),
and the other end is the network the biopair link moves (``data_to_send`` reads it,
``receive_from_network`` writes to it).  The application's ``send`` is ``sendall(data)``;
when sendall raises ``WantWriteError`` the application does what one would: it waits and
calls ``sendall(data)`` again with the same data.  That is pyOpenSSL #176: sendall raises
a bare WantWriteError after some records went out, so the retry sends those again and the
peer receives them twice (the transport oracle reports it).  Nothing else is changed:
every outcome is what pyOpenSSL and the kernel did.
"""

from __future__ import annotations

import socket

from OpenSSL import SSL

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.pyopenssl import build_context

#: SO_SNDBUF of the Connection's socket (Linux doubles it): larger than one record, so
#: some records leave before the buffer fills.
SOCKET_BUFFER = 32 * 1024
_CHUNK = 1 << 16


class SendallWrapper:
    """A pyOpenSSL Connection on a socketpair, driven by ``sendall`` with retries (see
    the module docstring)."""

    def __init__(self, cfg: EndpointConfig) -> None:
        self.tls_sock, self.net = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for sock in (self.tls_sock, self.net):
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self.conn = SSL.Connection(build_context(cfg), self.tls_sock)
        if cfg.role == "client":
            self.conn.set_connect_state()
            if cfg.server_name:
                self.conn.set_tlsext_host_name(cfg.server_name.encode())
        else:
            self.conn.set_accept_state()
        self._incoming = bytearray()
        self._eof = False
        self.want_writes = 0  # how often sendall raised WantWriteError

    def _flush_incoming(self) -> None:
        while self._incoming:
            try:
                n = self.net.send(self._incoming[:_CHUNK])
            except BlockingIOError:
                return
            del self._incoming[:n]
        if self._eof:
            self._eof = False
            self.net.shutdown(socket.SHUT_WR)

    def receive_from_network(self, data: bytes) -> None:
        """Bytes from the peer into the Connection's socket (b"": EOF)."""
        if data:
            self._incoming += data
        else:
            self._eof = True
        self._flush_incoming()

    def data_to_send(self) -> bytes:
        """What the Connection wrote to its socket."""
        self._flush_incoming()
        chunks = []
        while True:
            try:
                chunk = self.net.recv(_CHUNK)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def handshake(self) -> bool:
        """``do_handshake()``; True once done."""
        try:
            self.conn.do_handshake()
        except (SSL.WantReadError, SSL.WantWriteError):
            return False
        return True

    def send(self, data: bytes) -> int:
        """``sendall(data)``; on WantWriteError, 0 (the application calls ``sendall(data)``
        again when asked again -- the retry of pyOpenSSL #176)."""
        try:
            return int(self.conn.sendall(data))
        except SSL.WantWriteError:
            self.want_writes += 1
            return 0

    def recv(self, size: int) -> bytes | None:
        """``recv(size)``; b"" while it wants to read, None after close_notify."""
        try:
            return bytes(self.conn.recv(size))
        except (SSL.WantReadError, SSL.WantWriteError):
            return b""
        except SSL.ZeroReturnError:
            return None

    def close(self) -> bool:
        """``shutdown()``; True once the peer's close_notify was read too."""
        try:
            if self.conn.shutdown():
                return True
            self.conn.recv(1)
        except (SSL.WantReadError, SSL.WantWriteError):
            return False
        except SSL.ZeroReturnError:
            return bool(self.conn.shutdown())
        return False

    def version(self) -> str:
        """The negotiated protocol version."""
        return str(self.conn.get_protocol_version_name())

    def cipher(self) -> str | None:
        """The negotiated cipher's name."""
        return self.conn.get_cipher_name()

    def stranded(self) -> list[str]:
        """Bytes waiting in the socketpair or in SSL_pending."""
        where = []
        if self._incoming:
            where.append(f"{len(self._incoming)} bytes not yet in the Connection's socket")
        pending = self.conn.pending()
        if pending:
            where.append(f"{pending} bytes in SSL_pending")
        return where


def make(cfg: EndpointConfig) -> SendallWrapper:
    """The factory ``stack = "python:biopair.endpoints.wrappers.sendall:make"`` names."""
    return SendallWrapper(cfg)
