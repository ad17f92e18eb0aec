"""A complete sans-I/O wrapper for ``stack = "python:biopair.endpoints.wrappers.example:make"``:
``ssl.SSLObject`` on two ``ssl.MemoryBIO``, the way many hand-written wrappers are built
(docs/wrappers.md walks through it)."""

from __future__ import annotations

import ssl

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.wrappers.python import ssl_context


class MemoryWrapper:
    """The smallest wrapper that follows the protocol of
    :mod:`biopair.endpoints.wrappers.python`."""

    def __init__(self, cfg: EndpointConfig) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        client = cfg.role == "client"
        self.tls = ssl_context(cfg).wrap_bio(
            self.incoming, self.outgoing, server_side=not client,
            server_hostname=cfg.server_name if client else None)

    def receive_from_network(self, data: bytes) -> None:
        """Bytes from the peer (b"": EOF)."""
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()

    def data_to_send(self) -> bytes:
        """Bytes for the peer."""
        return self.outgoing.read()

    def handshake(self) -> bool:
        """True once the handshake is done."""
        try:
            self.tls.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def send(self, data: bytes) -> int:
        """Bytes accepted (0: not yet)."""
        try:
            return self.tls.write(data)
        except ssl.SSLWantReadError:
            return 0

    def recv(self, size: int) -> bytes | None:
        """Up to ``size`` bytes (b"": none yet; None: the peer closed)."""
        try:
            data = self.tls.read(size)
        except ssl.SSLWantReadError:
            return b""
        return data or None

    def close(self) -> bool:
        """True once both close_notify alerts have passed."""
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            return False
        return True

    def stranded(self) -> list[str]:
        """Where bytes wait inside this wrapper."""
        where = []
        if self.incoming.pending:
            where.append(f"{self.incoming.pending} bytes in the incoming BIO")
        if self.outgoing.pending:
            where.append(f"{self.outgoing.pending} bytes in the outgoing BIO")
        return where


def make(cfg: EndpointConfig) -> MemoryWrapper:
    """The factory the stack name points at."""
    return MemoryWrapper(cfg)
