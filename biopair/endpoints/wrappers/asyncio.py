"""``stack = "asyncio"``: the standard library's ``asyncio.sslproto.SSLProtocol``.

The wrapper is ``SSLProtocol(loop, app, ctx, waiter, server_side=..., server_hostname=...)``
given a pretend transport with ``connection_made``; the socket's bytes go in through
``get_buffer(n)``/``buffer_updated(n)`` (it is a buffered protocol), unless the wrapper
asked its transport to ``pause_reading`` (it does so when the application pauses reading
and its incoming buffer fills).  The transport keeps asyncio's flow control: past its
high-water mark (64 KiB, as selector transports) it calls the protocol's
``pause_writing``, and ``resume_writing`` once the link has drained it to the low-water
mark (16 KiB), on the next loop step.

The loop is a real event loop that is never left to run on its own: each pump round runs
exactly the callbacks that are ready (``call_soon(loop.stop)``, ``run_forever()``), with
no file descriptor of its own to wait on, so no wall-clock wait is ever made.  (Timers --
the handshake and shutdown timeouts -- are scheduled but the runs end long before they
are due.)

The application is an ``asyncio.Protocol``: ``connection_made`` (called by SSLProtocol
once the handshake is done) is the handshake's ``1``, ``data_received`` fills ``recv``,
``eof_received``/``connection_lost(None)`` is ``CLOSED``, ``connection_lost(exc)`` that
exception.  ``send`` is the SSL transport's ``write``, ``close`` its ``close()``,
``pause_reading``/``resume_reading`` its own.  The SSL transport exists before the
handshake (``_get_app_transport()``), so a send before it is buffered by asyncio.
"""

from __future__ import annotations

import asyncio
import asyncio.sslproto
import contextlib
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import RawResult
from biopair.endpoints.stdlib import build_stdlib_context
from biopair.endpoints.wrappers._base import WrapperEndpoint, describe, done, pending
from biopair.endpoints.wrappers.declared import CAPABILITIES as _DECLARED

CAPABILITIES = _DECLARED["asyncio"]
#: The pretend transport's flow-control marks (selector transports' defaults).
HIGH_WATER = 64 * 1024
LOW_WATER = 16 * 1024


class _Transport(asyncio.Transport):
    """The socket transport its protocol writes to: bytes go to the endpoint's outbox.

    Flow control is a selector transport's (``_FlowControlMixin``): the current
    protocol's ``pause_writing``/``resume_writing`` are called at the marks, and an
    exception from either goes to the loop's exception handler
    (``protocol.pause_writing() failed``), as asyncio does.  ``set_protocol`` swaps the
    protocol, as ``loop.start_tls`` does (``_start_tls_compatible``)."""

    _start_tls_compatible = True

    def __init__(self, endpoint: AsyncioEndpoint, protocol: Any = None) -> None:
        super().__init__()
        self._ep = endpoint
        self.protocol: Any = protocol
        self.reading = True
        self.closing = False
        self.writing_paused = False

    def set_protocol(self, protocol: Any) -> None:
        self.protocol = protocol

    def get_protocol(self) -> Any:
        return self.protocol

    def _flow(self, name: str) -> None:
        try:
            getattr(self.protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # asyncio reports it, and carries on
            self._ep.loop.call_exception_handler({
                "message": f"protocol.{name}() failed", "exception": exc,
                "transport": self, "protocol": self.protocol})

    def write(self, data: Any) -> None:
        ep = self._ep
        ep._write(bytes(data))
        if not self.writing_paused and len(ep._outbox) > HIGH_WATER:
            self.writing_paused = True
            self._flow("pause_writing")

    def drained(self) -> None:
        if self.writing_paused and len(self._ep._outbox) <= LOW_WATER:
            self.writing_paused = False
            self._flow("resume_writing")

    def get_write_buffer_size(self) -> int:
        return len(self._ep._outbox)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            self._ep._close_transport()

    def abort(self) -> None:
        self._ep._outbox.clear()
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class _App(asyncio.Protocol):
    def __init__(self, endpoint: AsyncioEndpoint) -> None:
        self._ep = endpoint
        self.write_paused = False

    def connection_made(self, transport: Any) -> None:
        self._ep.secure = True

    def data_received(self, data: bytes) -> None:
        self._ep._arrived(data)

    def eof_received(self) -> None:
        self._ep.lost = True

    def connection_lost(self, exc: BaseException | None) -> None:
        self._ep.lost = True
        if exc is not None:
            self._ep.failure = exc

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False


class AsyncioEndpoint(WrapperEndpoint):
    """One side on asyncio's SSLProtocol (see the module docstring)."""

    stack = "asyncio"
    capabilities = CAPABILITIES

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        ctx = build_stdlib_context(cfg)
        self.loop = asyncio.new_event_loop()
        self.app = _App(self)
        self.waiter = self.loop.create_future()
        client = cfg.role == "client"
        self.proto: Any = asyncio.sslproto.SSLProtocol(
            self.loop, self.app, ctx, self.waiter, server_side=not client,
            server_hostname=cfg.server_name if client else None)
        self.transport = _Transport(self, self.proto)
        self._lost_reported = False

    def _start(self) -> None:
        self.proto.connection_made(self.transport)

    def _feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            buf = self.proto.get_buffer(len(view))
            n = min(len(buf), len(view))
            buf[:n] = view[:n]
            self.proto.buffer_updated(n)
            view = view[n:]

    def _feed_eof(self) -> None:
        keep_open = self.proto.eof_received()
        if not keep_open:
            self.transport.close()

    def _tick(self) -> bool:
        loop = self.loop
        if not loop._ready:  # type: ignore[attr-defined]
            self._check_waiter()
            return False
        loop.call_soon(loop.stop)
        loop.run_forever()
        self._check_waiter()
        return True

    def _check_waiter(self) -> None:
        waiter = self.waiter
        if waiter.done() and not waiter.cancelled():
            exc = waiter.exception()
            if exc is not None and self.failure is None:
                self.failure = exc

    def wire_take(self, limit: int) -> bytes | None:
        """As the base class; a drained transport resumes the protocol's writing on the
        next loop step, as a selector transport does."""
        data = super().wire_take(limit)
        if data and self.transport.writing_paused and not self.loop.is_closed():
            self.loop.call_soon(self.transport.drained)
        return data

    def _transport_gone(self) -> None:
        if not self._lost_reported and not self.loop.is_closed():
            self._lost_reported = True
            self.loop.call_soon(self.proto.connection_lost, None)

    def _reading_paused(self) -> bool:
        return not self.transport.reading

    def _app_transport(self) -> Any:
        return self.proto._get_app_transport()

    def _app_send(self, data: bytes) -> RawResult:
        self._app_transport().write(data)
        return done(len(data))

    def _app_close(self) -> None:
        self._app_transport().close()

    def _app_pause(self) -> None:
        self._app_transport().pause_reading()

    def _app_resume(self) -> None:
        self._app_transport().resume_reading()

    def _internal(self) -> list[str]:
        proto = self.proto
        where = []
        backlog = sum(len(d) for d in getattr(proto, "_write_backlog", ()))
        if backlog:
            where.append(f"{backlog} bytes in asyncio's _write_backlog")
        incoming = getattr(proto, "_incoming", None)
        if incoming is not None and incoming.pending:
            where.append(f"{incoming.pending} bytes in SSLProtocol's incoming BIO")
        outgoing = getattr(proto, "_outgoing", None)
        if outgoing is not None and outgoing.pending:
            where.append(f"{outgoing.pending} bytes in SSLProtocol's outgoing BIO")
        sslobj = getattr(proto, "_sslobj", None)
        if sslobj is not None:
            try:
                readable = sslobj.pending()
            except Exception:  # a finished SSLObject cannot say
                readable = 0
            if readable:
                where.append(f"{readable} bytes in SSL_pending")
        return where

    def _tls_state(self) -> tuple[str | None, str | None]:
        sslobj = getattr(self.proto, "_sslobj", None)
        if sslobj is None or not self.secure:
            return None, None
        cipher = sslobj.cipher()
        return sslobj.version(), cipher[0] if cipher else None

    def close(self) -> None:
        """Close the loop (its pending timers are dropped); idempotent."""
        if not self.loop.is_closed():
            for handle in list(getattr(self.loop, "_scheduled", ())):
                handle.cancel()
            self.loop.close()


class _PlainApp(_App):
    """The application of ``asyncio-starttls``: a plain ``asyncio.Protocol`` on the
    socket transport until ``start_tls``, then (the same object) SSLProtocol's
    application.  ``connection_made`` is the plain transport's, not the handshake
    (start_tls never calls it: the handshake is done when start_tls returns)."""

    def connection_made(self, transport: Any) -> None:
        pass


class AsyncioStartTLSEndpoint(AsyncioEndpoint):
    """``stack = "asyncio-starttls"``: a plain asyncio connection the application
    upgrades with ``loop.start_tls()`` (the op ``start_tls``).

    Before ``start_tls``, ``send`` writes plaintext to the socket transport and ``recv``
    reads it; ``start_tls`` runs ``loop.start_tls(transport, app, ctx, server_side=...,
    server_hostname=...)`` as a task on the endpoint's loop (its outcome: ``1``, the
    upgrade has begun), ``handshake`` then waits for that task (``1`` once it returned
    the SSL transport, or its exception).  The application honours flow control as an
    ``asyncio.Protocol`` must: while it is paused for writing (``pause_writing`` without
    a ``resume_writing`` yet), ``send`` writes nothing and is ``PENDING``.  What the loop's
    exception handler is given (``protocol.resume_writing() failed``) is kept and named
    by ``stranded()``.
    """

    stack = "asyncio-starttls"
    capabilities = _DECLARED["asyncio-starttls"]
    #: A paused link takes nothing from this endpoint: what the application writes stays
    #: in the transport's buffer (past the high-water mark: ``pause_writing``), as on a
    #: full socket, until the link is resumed.
    blocks_when_paused = True

    def __init__(self, cfg: EndpointConfig) -> None:
        WrapperEndpoint.__init__(self, cfg)
        self._ctx = build_stdlib_context(cfg)
        self.loop = asyncio.new_event_loop()
        self.loop_errors: list[str] = []
        self.loop.set_exception_handler(self._loop_error)
        self.upgraded = False
        self.app = _PlainApp(self)
        self.waiter = self.loop.create_future()  # never used: start_tls makes its own
        self.transport = _Transport(self, self.app)
        self.proto = self.app
        self._task: asyncio.Task[Any] | None = None
        self._lost_reported = False

    def _loop_error(self, loop: Any, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        text = str(context.get("message", ""))
        self.loop_errors.append(f"{text}: {describe(exc)}" if exc is not None else text)

    def _start(self) -> None:
        self.app.connection_made(self.transport)

    def _feed(self, data: bytes) -> None:
        self.proto = self.transport.protocol
        if isinstance(self.proto, asyncio.BufferedProtocol):
            super()._feed(data)
        else:
            self.proto.data_received(data)

    def _feed_eof(self) -> None:
        self.proto = self.transport.protocol
        super()._feed_eof()

    def _tick(self) -> bool:
        ran = super()._tick()
        self.proto = self.transport.protocol
        return ran

    def _check_waiter(self) -> None:
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None and self.failure is None:
                self.failure = exc
            elif exc is None:  # start_tls returned the SSL transport: the handshake's 1
                self.secure = True

    def _transport_gone(self) -> None:
        if not self._lost_reported and not self.loop.is_closed():
            self._lost_reported = True
            self.loop.call_soon(self.transport.protocol.connection_lost, None)

    def _op(self, op: str, size: int | None, data: bytes | None) -> RawResult:
        if op == "start_tls":
            if self._task is not None:
                raise RuntimeError("start_tls() was already called")
            client = self.cfg.role == "client"
            self.upgraded = True
            self._task = self.loop.create_task(self.loop.start_tls(
                self.transport, self.app, self._ctx, server_side=not client,
                server_hostname=self.cfg.server_name if client else None))
            return done(1)
        return super()._op(op, size, data)

    def _app_transport(self) -> Any:
        task = self._task
        if task is None:
            return self.transport
        proto = self.transport.protocol
        return proto._get_app_transport()

    def _app_send(self, data: bytes) -> RawResult:
        if self.app.write_paused:
            return pending()
        return super()._app_send(data)

    def _app_send_more(self) -> RawResult:
        if not self._send_open:  # the last send was accepted: nothing to send again
            return done(len(self._payload))
        return self._app_send(self._payload)

    def _internal(self) -> list[str]:
        where = super()._internal() if self.upgraded else []
        if self.app.write_paused and self._send_open:
            why = "; the loop reported " + "; ".join(self.loop_errors) \
                if self.loop_errors else ""
            where.append(f"{len(self._payload)} bytes the application holds, paused for "
                         f"writing until resume_writing{why}")
        return where

    def close(self) -> None:
        """Cancel the start_tls task, then close the loop; idempotent."""
        if not self.loop.is_closed() and self._task is not None and not self._task.done():
            self._task.cancel()
            # a loop that cannot finish the task is closed anyway
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(asyncio.gather(self._task,
                                                            return_exceptions=True))
        super().close()
