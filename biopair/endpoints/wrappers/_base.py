"""What every wrapper endpoint shares: a socket's two byte queues, the application's view,
and the one place a wrapper's behaviour becomes an outcome.

Theory of operation
-------------------
A wrapper endpoint is a TLS layer written on top of OpenSSL (asyncio's SSL protocol,
Twisted's TLS protocol, trio's SSLStream, a user's sans-I/O object) and the application
that drives it.  It stands where a socket would be for the wrapper:

* its **network side** is a pretend socket: the bytes a biopair link delivers
  (:meth:`wire_give`) wait in ``_inbox`` -- the socket's receive buffer -- until the
  framework reads them, which it does only while its reading is not paused; what the
  framework writes to its transport waits in ``_outbox`` until the link takes it
  (:meth:`wire_take`).  An EOF (:meth:`wire_eof`) reaches the framework once the inbox is
  read; a transport the framework closed is reported to the link (``wire_take`` returns
  None) once its outbox is empty, as a socket's FIN follows its last byte;
* its **application side** takes the scenario's ops (``handshake``, ``send``, ``recv``,
  ``close``, ``pause_reading``, ``resume_reading``).  Each call first lets the framework
  run (:meth:`_pump`: read the socket, run what it scheduled, collect what it wrote), then
  makes the op, pumps again and reports what the application sees:

  ======================  ==================================================
  what the wrapper did    outcome (``ret``, error, reasons)
  ======================  ==================================================
  handshake finished      ``1``
  send accepted N bytes   ``N``
  recv got N bytes        ``N`` (and the bytes)
  still waiting           ``HIDDEN PENDING`` (repeated by a run like WANT_*)
  connection closed       ``HIDDEN CLOSED``
  raised / reported exc   ``HIDDEN SSL "Class: message"``
  pause/resume_reading    ``1``
  ======================  ==================================================

  There is no C return value (``raw_returns = False``): every outcome but a count is
  ``ret = None``.  Nothing is made up: each is what the framework did or said.

``stranded()`` is the transport oracle's question when a run stalls: where do bytes
still wait (the unread socket buffer, the wrapper's own buffers, SSL_pending, the
send BIO)?  A stall with an answer is ``STRANDED``, not ``DEADLOCK``.
"""

from __future__ import annotations

from typing import Any

from biopair.endpoints.config import DEFAULT_READ_SIZE, EndpointConfig, pattern_bytes
from biopair.endpoints.protocol import Capabilities, RawResult

#: Settings every wrapper honours (its TLS settings come from the same test PKI).
SETTINGS = frozenset({
    "stack", "version", "min_version", "max_version", "server_name", "verify", "trust",
    "cert", "cert_host", "cert_issuer", "cert_validity", "cert_padding", "alpn",
})
#: ``[result]`` keys every wrapper reports.
RESULTS = frozenset({"version", "cipher", "received"})
#: The application ops (``pause_reading``/``resume_reading`` only where the framework has
#: them).
APP_OPS = frozenset({"handshake", "send", "recv", "close"})
READING_OPS = frozenset({"pause_reading", "resume_reading"})
#: The most rounds one pump runs before it stops (each round moves bytes or runs a
#: callback; a framework that keeps scheduling itself is stopped, never hangs).
MAX_PUMP_ROUNDS = 10_000


def capabilities(stack: str, *, reading: bool = True, package: str = "",
                 extra: frozenset[str] = frozenset()) -> Capabilities:
    """A wrapper stack's declaration (``extra``: ops only that stack has)."""
    return Capabilities(
        stack=stack, ops=APP_OPS | (READING_OPS if reading else frozenset()) | extra,
        settings=SETTINGS, results=RESULTS, links=frozenset({"memory"}),
        versions=frozenset({"1.2", "1.3"}), raw_returns=False, package=package)


def describe(exc: BaseException) -> str:
    """An exception as an outcome's reason: ``Class: message``."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_PENDING = RawResult(None, "PENDING", (), 0, b"", "pending")
_CLOSED = RawResult(None, "CLOSED", (), 0, b"", "closed")


def pending() -> RawResult:
    """The wrapper is still waiting."""
    return _PENDING


def closed() -> RawResult:
    """The wrapper reports the connection closed."""
    return _CLOSED


def raised(exc: BaseException) -> RawResult:
    """The wrapper raised or reported ``exc``."""
    return RawResult(None, "SSL", (describe(exc),), 0, b"", f"raise {exc!r}")


def done(value: int, data: bytes = b"") -> RawResult:
    """The op finished: ``value`` (1, or a byte count)."""
    return RawResult(value, "NONE", (), 0, data, f"return {value}")


class WrapperEndpoint:
    """The shared part of every wrapper endpoint; implements
    :class:`biopair.endpoints.protocol.Endpoint` with the subclass's framework hooks
    (``_start``, ``_feed``, ``_feed_eof``, ``_tick``, ``_app_send``, ``_app_close``,
    ``_app_pause``, ``_app_resume``, ``_reading_paused``, ``_internal``).

    Attributes:
        app_sent: every byte the application handed the wrapper to send (accepted).
        received: every byte the application received.
        secure: the wrapper reported the handshake done.
        lost: the wrapper reported the connection closed to the application.
        failure: the exception the wrapper reported or raised (None: none).
    """

    stack = ""
    capabilities: Capabilities

    def __init__(self, cfg: EndpointConfig) -> None:
        self.cfg = cfg
        self.name = cfg.role
        self._inbox = bytearray()
        self._eof_in = False
        self._eof_fed = False
        self._outbox = bytearray()
        self._out_closed = False  # the framework closed its transport
        self._fin_sent = False  # ... and the link has been told
        self._unread = bytearray()
        self.app_sent = bytearray()
        self.received = bytearray()
        self.secure = False
        self.lost = False
        self.failure: BaseException | None = None
        self._started = False
        self._closing = False
        self._payload = b""
        self._send_open = False  # a send whose accepted bytes are not counted yet

    # -- framework hooks (subclasses) ----------------------------------------------------
    def _start(self) -> None:
        """Make the connection (the transport's ``connection_made``)."""

    def _feed(self, data: bytes) -> None:
        """Bytes the framework read from its socket."""
        raise NotImplementedError

    def _feed_eof(self) -> None:
        """The framework's socket reported EOF."""
        raise NotImplementedError

    def _tick(self) -> bool:
        """Run what the framework scheduled; True if anything ran."""
        return False

    def _app_send(self, data: bytes) -> RawResult:
        """The application sends ``data``."""
        raise NotImplementedError

    def _app_send_more(self) -> RawResult:
        """A send that was PENDING, asked again (default: it was accepted)."""
        return done(len(self._payload))

    def _app_close(self) -> None:
        """The application closes the connection."""
        raise NotImplementedError

    def _app_pause(self) -> None:
        raise NotImplementedError

    def _app_resume(self) -> None:
        raise NotImplementedError

    def _reading_paused(self) -> bool:
        """True while the framework does not read its socket."""
        return False

    def _internal(self) -> list[str]:
        """Bytes waiting inside the wrapper, as ``N bytes in <where>`` (for stranded)."""
        return []

    # -- the application side ------------------------------------------------------------
    def _arrived(self, data: bytes) -> None:
        """The framework handed the application ``data`` (subclasses' callbacks)."""
        self._unread += data
        self.received += data

    def _pump(self) -> None:
        for _ in range(MAX_PUMP_ROUNDS):
            moved = False
            if (self._inbox or (self._eof_in and not self._eof_fed)) \
                    and not self._reading_paused():
                if self._inbox:
                    data = bytes(self._inbox)
                    self._inbox.clear()
                    self._feed(data)
                    moved = True
                elif self._eof_in and not self._eof_fed:
                    self._eof_fed = True
                    self._feed_eof()
                    moved = True
            if self._tick():
                moved = True
            if not moved:
                return

    @property
    def write_data(self) -> bytes:
        """The payload of the pending send (b"" before any)."""
        return self._payload

    def call(self, op: str, *, size: int | None = None, data: bytes | None = None,
             buffer: str = "auto") -> RawResult:
        """Make one application op; see the module docstring for the outcomes.

        Raises:
            ValueError: for an op the stack does not declare (the loader refuses those).
        """
        if op not in self.capabilities.ops:
            raise ValueError(f"the {self.stack} stack cannot {op}")
        if not self._started:
            self._started = True
            try:
                self._start()
            except Exception as exc:  # the framework refused to start: its report
                self.failure = exc
        self._pump()
        try:
            result = self._op(op, size, data)
        except Exception as exc:  # what the framework raised into the application
            result = raised(exc)
        self._pump()
        if result.error == "PENDING":  # the pump may have finished it
            try:  # asking again may raise too (a send retried: "bad write retry")
                result = self._settle(op, size)
            except Exception as exc:
                result = raised(exc)
            if op == "send" and result.ret:  # a send asked again wrote more: collect it
                self._pump()
        if op == "send" and result.ret and self._send_open:
            self._send_open = False
            self.app_sent += self._payload[:result.ret]
        return result

    def _op(self, op: str, size: int | None, data: bytes | None) -> RawResult:
        if op == "send":
            if data is None and size is None:
                return self._app_send_more()
            self._payload = data if data is not None else pattern_bytes(size or 0)
            self._send_open = True
            return self._app_send(self._payload)
        if op == "close":
            if not self._closing:
                self._closing = True
                self._app_close()
            return pending()
        if op == "pause_reading":
            self._app_pause()
            return done(1)
        if op == "resume_reading":
            self._app_resume()
            return done(1)
        return pending()  # handshake, recv: judged after the pump

    def _settle(self, op: str, size: int | None) -> RawResult:
        if op == "send":
            return self._app_send_more() if self._payload else pending()
        if op == "recv":
            if self._unread:
                want = size or DEFAULT_READ_SIZE
                got = bytes(self._unread[:want])
                del self._unread[:want]
                return done(len(got), got)
            if self.failure is not None:
                return raised(self.failure)
            return closed() if self.lost else pending()
        if op == "handshake":
            if self.secure:
                return done(1)
            if self.failure is not None:
                return raised(self.failure)
            return closed() if self.lost else pending()
        if op == "close":
            if self.failure is not None:
                return raised(self.failure)
            return closed() if self.lost else pending()
        return pending()

    # -- the network side ----------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        """The framework wrote ``data`` to its transport."""
        self._outbox += data

    def _close_transport(self) -> None:
        """The framework closed its transport (FIN after the last byte)."""
        self._out_closed = True

    def wire_take(self, limit: int) -> bytes | None:
        """Up to ``limit`` bytes the framework wrote (None: it closed its transport and
        every byte has been taken)."""
        if self._outbox:
            chunk = bytes(self._outbox[:limit])
            del self._outbox[:limit]
            return chunk
        if self._out_closed:
            if not self._fin_sent:
                self._fin_sent = True
                self._transport_gone()
            return None
        return b""

    def _transport_gone(self) -> None:
        """The closed transport's last byte left: a reactor now reports the connection
        lost (subclasses)."""

    def wire_give(self, data: bytes) -> int:
        """Bytes arrive in the socket's receive buffer; all are accepted."""
        self._inbox += data
        return len(data)

    def wire_eof(self) -> None:
        """The socket reports EOF once its receive buffer is read."""
        self._eof_in = True

    def wire_pending(self) -> int:
        """Bytes in the socket's receive buffer the framework has not read."""
        return len(self._inbox)

    # -- the oracles --------------------------------------------------------------------
    def stranded(self) -> list[str]:
        """Where bytes wait when a run stalls: the unread socket buffer, what the
        application has not received yet, the wrapper's own buffers."""
        where: list[str] = []
        if self._inbox:
            why = " (reading paused)" if self._reading_paused() else ""
            where.append(f"{len(self._inbox)} bytes unread in the socket buffer{why}")
        if self._outbox:
            where.append(f"{len(self._outbox)} bytes written and not taken")
        where.extend(self._internal())
        return where

    # -- state --------------------------------------------------------------------------
    def _tls_state(self) -> tuple[str | None, str | None]:
        """(version, cipher) as the wrapper's SSL object says (None: not known)."""
        return None, None

    def state(self) -> dict[str, Any]:
        """What the application can see: version, cipher and the bytes it received."""
        version, cipher = self._tls_state()
        return {"version": version, "cipher": cipher,
                "received": self.received.decode("utf-8", "backslashreplace")}

    def state_string(self) -> None:
        """None: the application cannot see OpenSSL's state."""
        return None

    def session(self) -> None:
        """None: no resumption across pairs."""
        return None

    def export_keys(self, label: bytes, length: int) -> None:
        """None: the application side has no exporter (``keys_match`` is refused at
        load)."""
        return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Refused: a wrapper's modes are its framework's (the loader refuses the step)."""
        raise ValueError(f"the {self.stack} stack cannot change modes or options")

    def close(self) -> None:
        """Release what the wrapper holds; idempotent (subclasses add to it)."""
