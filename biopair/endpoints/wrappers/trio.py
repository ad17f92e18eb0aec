"""``stack = "trio"``: ``trio.SSLStream`` over a stream of our own.

trio runs its loop in a thread of its own (``trio.run``), and every interaction is one
``trio.from_thread.run`` that makes the change (bytes arrive, the application starts a
send or a close) and then waits with ``trio.testing.wait_all_tasks_blocked()`` until
every task is blocked again: the calling thread never runs while trio does, and each
call returns only when trio has nothing left to do.  trio shuffles the order of runnable
tasks on purpose; biopair sets its deterministic-scheduling switch
(``trio._core._run._ALLOW_DETERMINISTIC_SCHEDULING``, the one Hypothesis and trio's own
tests use) and seeds its scheduler's ``random.Random`` (``_r.seed(SEED)``) before each
run, so the same scenario takes the same turns on every run.

The transport is :class:`_Stream`: ``send_all`` writes to the endpoint's outbox,
``receive_some`` waits for the socket's bytes (an EOF is ``b""``).  The application is
one task: ``do_handshake()`` (the handshake's ``1``), then a reader that keeps calling
``receive_some`` (trio has no pause_reading: a task reads or it does not; ``recv``
returns what it got, ``b""`` is ``CLOSED``).  ``send`` is a task running ``send_all``
(``PENDING`` until it returns), ``close`` one running ``aclose()``.
"""

from __future__ import annotations

import threading
from typing import Any

from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import RawResult
from biopair.endpoints.stdlib import build_stdlib_context
from biopair.endpoints.wrappers._base import WrapperEndpoint, done, pending
from biopair.endpoints.wrappers.declared import CAPABILITIES as _DECLARED

CAPABILITIES = _DECLARED["trio"]
#: The seed of trio's scheduler for every run.
SEED = 0


class TrioEndpoint(WrapperEndpoint):
    """One side on trio's SSLStream (see the module docstring)."""

    stack = "trio"
    capabilities = CAPABILITIES

    def __init__(self, cfg: EndpointConfig) -> None:
        super().__init__(cfg)
        import trio

        self._trio = trio
        self._ctx = build_stdlib_context(cfg)
        self._buffer = bytearray()  # given to the stream, not yet received by SSLStream
        self._stream_eof = False
        self._token: Any = None
        self._nursery: Any = None
        self._ssl: Any = None
        self._wakeup: Any = None
        self._sending = False
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the trio thread ------------------------------------------------------------------
    async def _main(self) -> None:
        trio = self._trio
        endpoint = self

        class _Stream(trio.abc.Stream):  # type: ignore[misc,name-defined]
            async def send_all(self, data: Any) -> None:
                endpoint._write(bytes(data))
                await trio.lowlevel.checkpoint()

            async def wait_send_all_might_not_block(self) -> None:
                await trio.lowlevel.checkpoint()

            async def receive_some(self, max_bytes: int | None = None) -> bytes:
                while not endpoint._buffer and not endpoint._stream_eof:
                    endpoint._wakeup = trio.Event()
                    await endpoint._wakeup.wait()
                n = max_bytes or 65536
                data = bytes(endpoint._buffer[:n])
                del endpoint._buffer[:n]
                return data

            async def aclose(self) -> None:
                endpoint._close_transport()
                await trio.lowlevel.checkpoint()

        client = self.cfg.role == "client"
        self._ssl = trio.SSLStream(_Stream(), self._ctx, server_side=not client,
                                   server_hostname=self.cfg.server_name if client else None)
        self._token = trio.lowlevel.current_trio_token()
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._ready.set()
            await trio.sleep_forever()

    def _run_in_trio(self, fn: Any, *args: Any) -> None:
        trio = self._trio

        async def step() -> None:
            fn(*args)
            await trio.testing.wait_all_tasks_blocked()

        trio.from_thread.run(step, trio_token=self._token)

    async def _connection(self) -> None:
        try:
            await self._ssl.do_handshake()
            self.secure = True
            while True:
                data = await self._ssl.receive_some(65536)
                if not data:
                    self.lost = True
                    return
                self._arrived(data)
        except Exception as exc:  # what trio raised into the application
            self.lost = True
            if not self._closing:  # after our own aclose(), the reader's end is expected
                self.failure = exc

    async def _send(self, data: bytes) -> None:
        try:
            await self._ssl.send_all(data)
        except Exception as exc:
            self.failure = exc
        finally:
            self._sending = False

    async def _aclose(self) -> None:
        try:
            await self._ssl.aclose()
        except Exception as exc:
            self.failure = exc
        self.lost = True

    # -- the hooks ------------------------------------------------------------------------
    def _start(self) -> None:
        import trio.testing  # noqa: F401  (wait_all_tasks_blocked)
        from trio._core import _run

        _run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
        _run._r.seed(SEED)
        self._thread = threading.Thread(target=self._trio.run, args=(self._main,),
                                        name=f"biopair-trio-{self.name}", daemon=True)
        self._thread.start()
        self._ready.wait()
        self._run_in_trio(self._nursery.start_soon, self._connection)

    def _feed(self, data: bytes) -> None:
        self._run_in_trio(self._give, data, False)

    def _feed_eof(self) -> None:
        self._run_in_trio(self._give, b"", True)

    def _give(self, data: bytes, eof: bool) -> None:
        self._buffer += data
        self._stream_eof = self._stream_eof or eof
        if self._wakeup is not None:
            self._wakeup.set()

    def _app_send(self, data: bytes) -> RawResult:
        self._sending = True
        self._run_in_trio(self._nursery.start_soon, self._send, data)
        return self._app_send_more()

    def _app_send_more(self) -> RawResult:
        return pending() if self._sending else done(len(self._payload))

    def _app_close(self) -> None:
        self._run_in_trio(self._nursery.start_soon, self._aclose)

    def _internal(self) -> list[str]:
        where = []
        if self._buffer:
            where.append(f"{len(self._buffer)} bytes in the stream, not received by SSLStream")
        ssl = self._ssl
        for name in ("_incoming", "_outgoing"):
            bio = getattr(ssl, name, None)
            if bio is not None and bio.pending:
                where.append(f"{bio.pending} bytes in SSLStream's {name} BIO")
        obj = getattr(ssl, "_ssl_object", None)
        if obj is not None:
            try:
                readable = obj.pending()
            except Exception:
                readable = 0
            if readable:
                where.append(f"{readable} bytes in SSL_pending")
        if self._sending:
            where.append("a send_all that has not returned")
        return where

    def _tls_state(self) -> tuple[str | None, str | None]:
        obj = getattr(self._ssl, "_ssl_object", None)
        if obj is None or not self.secure:
            return None, None
        cipher = obj.cipher()
        return obj.version(), cipher[0] if cipher else None

    def close(self) -> None:
        """Cancel trio's tasks and end its thread; idempotent."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._trio.from_thread.run_sync(self._nursery.cancel_scope.cancel,
                                        trio_token=self._token)
        thread.join()
