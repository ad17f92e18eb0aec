"""``stack = "twisted"``: Twisted's ``TLSMemoryBIOProtocol`` on a ``StringTransport``.

The wrapper is ``TLSMemoryBIOFactory(creator, isClient, factory, clock=Clock())`` (the
clock is passed: Twisted's write aggregator schedules its flushes with ``callLater(0)``,
and only a clock of our own makes that deterministic).  Each pump round advances the
clock by 0, moves what the protocol wrote to the ``StringTransport`` onto the wire, and
feeds the socket's bytes with ``dataReceived`` unless the transport is paused
(``producerState == "paused"``: the application called ``pauseProducing``, which the TLS
protocol passes down, exactly as a reactor would stop reading the socket).

The application is a small protocol: ``handshakeCompleted`` (``IHandshakeListener``) is
the handshake's ``1``, ``dataReceived`` fills what ``recv`` returns, ``connectionLost``
with ``ConnectionDone`` is ``CLOSED`` and with any other reason that exception.
``close`` is ``loseConnection()``; once the transport is closed and its last byte taken,
the connection is lost (``connectionLost(ConnectionDone)``), as a reactor reports it.

``stranded()`` looks where Twisted keeps bytes: ``_appSendBuffer`` (writes waiting for
the handshake or a WantReadError), the TLS connection's send BIO (``_flushSendBIO``
reads at most 32 KiB per flush) and ``SSL_pending``.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from biopair.endpoints import _openssl
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import RawResult
from biopair.endpoints.pyopenssl import build_context
from biopair.endpoints.wrappers._base import WrapperEndpoint, done
from biopair.endpoints.wrappers.declared import CAPABILITIES as _DECLARED

CAPABILITIES = _DECLARED["twisted"]


def version() -> str | None:
    """Twisted's version, or None when it is not installed."""
    try:
        return metadata.version("twisted")
    except metadata.PackageNotFoundError:
        return None


class TwistedEndpoint(WrapperEndpoint):
    """One side on Twisted's TLS protocol (see the module docstring)."""

    stack = "twisted"
    capabilities = CAPABILITIES

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        from OpenSSL import SSL
        from twisted.internet.interfaces import (
            IHandshakeListener,
            IOpenSSLClientConnectionCreator,
            IOpenSSLServerConnectionCreator,
        )
        from twisted.internet.protocol import Factory, Protocol
        from twisted.internet.task import Clock
        from twisted.internet.testing import StringTransport
        from twisted.protocols.tls import TLSMemoryBIOFactory
        from zope.interface import implementer

        ctx = build_context(cfg)
        endpoint = self

        @implementer(IOpenSSLClientConnectionCreator, IOpenSSLServerConnectionCreator)
        class Creator:
            def clientConnectionForTLS(self, proto: Any) -> SSL.Connection:
                conn = SSL.Connection(ctx, None)
                if cfg.server_name:
                    conn.set_tlsext_host_name(cfg.server_name.encode("idna"))
                    if cfg.verify:
                        _openssl.set_verify_host(conn, cfg.verify_host or cfg.server_name)
                conn.set_app_data(proto)
                return conn

            def serverConnectionForTLS(self, proto: Any) -> SSL.Connection:
                conn = SSL.Connection(ctx, None)
                conn.set_app_data(proto)
                return conn

        @implementer(IHandshakeListener)
        class App(Protocol):  # type: ignore[misc]
            def handshakeCompleted(self) -> None:
                endpoint.secure = True

            def dataReceived(self, data: bytes) -> None:
                endpoint._arrived(data)

            def connectionLost(self, reason: Any = None) -> None:
                from twisted.internet.error import ConnectionDone

                endpoint.lost = True
                if reason is not None and not reason.check(ConnectionDone):
                    endpoint.failure = reason.value

        self.clock = Clock()
        self.app = App()
        factory = TLSMemoryBIOFactory(Creator(), cfg.role == "client",
                                      Factory.forProtocol(lambda: self.app), clock=self.clock)
        self.proto: Any = factory.buildProtocol(None)
        self.transport = StringTransport()
        self._lost_reported = False

    def _start(self) -> None:
        self.proto.makeConnection(self.transport)

    def _feed(self, data: bytes) -> None:
        self.proto.dataReceived(data)

    def _feed_eof(self) -> None:
        self._lose()

    def _lose(self) -> None:
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        if not self._lost_reported:
            self._lost_reported = True
            self.proto.connectionLost(Failure(ConnectionDone()))

    def _tick(self) -> bool:
        ran = bool(self.clock.calls)
        if ran:
            self.clock.advance(0)
        data = self.transport.value()
        if data:
            self.transport.clear()
            self._write(data)
        if self.transport.disconnecting and not self._out_closed:
            self._close_transport()
        return ran or bool(data)

    def _transport_gone(self) -> None:
        self._lose()

    def _reading_paused(self) -> bool:
        return bool(self.transport.producerState == "paused")

    def _app_send(self, data: bytes) -> RawResult:
        self.proto.write(data)
        return done(len(data))

    def _app_close(self) -> None:
        self.proto.loseConnection()

    def _app_pause(self) -> None:
        self.proto.pauseProducing()

    def _app_resume(self) -> None:
        self.proto.resumeProducing()

    def _conn(self) -> Any:
        return getattr(self.proto, "_tlsConnection", None)

    def _internal(self) -> list[str]:
        where = []
        buffered = sum(len(b) for b in getattr(self.proto, "_appSendBuffer", []) or [])
        if buffered:
            where.append(f"{buffered} bytes in Twisted's _appSendBuffer")
        conn = self._conn()
        if conn is not None:
            unsent = _openssl.output_pending(conn)
            if unsent:
                where.append(f"{unsent} bytes in the send BIO (never flushed)")
            readable = conn.pending()
            if readable:
                where.append(f"{readable} bytes in SSL_pending")
        return where

    def _tls_state(self) -> tuple[str | None, str | None]:
        conn = self._conn()
        if conn is None or not self.secure:
            return None, None
        return conn.get_protocol_version_name(), conn.get_cipher_name()

    def close(self) -> None:
        """Cancel the clock's pending calls; idempotent."""
        for call in self.clock.getDelayedCalls():
            if call.active():
                call.cancel()
