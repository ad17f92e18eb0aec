"""The tlslite-ng stack: pure Python, driven through its asynchronous generators.

``stack = "tlslite-ng"`` puts one side on tlslite-ng (``pip install tlslite-ng``; the
``stacks`` extra).  tlslite-ng's ``handshakeClientCert(async_=True)``,
``handshakeServerAsync``, ``readAsync``, ``writeAsync`` and ``closeAsync`` return generators
that yield ``0`` when they wait to read and ``1`` when they wait to write; biopair advances
the pending generator by one step per call:

* a yield of 0 is ``WANT_READ``, a yield of 1 ``WANT_WRITE``;
* the generator's end is success (a handshake ``1``, a read its byte count and bytes, a
  write the payload's length, a shutdown ``1``), a read of ``b""`` after close_notify is
  ``ZERO_RETURN``;
* an exception is an ``SSL``-class error whose one reason is the exception,
  ``"TLSAbruptCloseError()"``, ``"BlockingIOError(11, 'capped')"``...; the generator is
  finished and the next call of the op starts a new one.

tlslite-ng has no C return value: every outcome but a success carries ``ret = None``
(``?`` in text, ``HIDDEN`` in patterns), never a made-up -1.

The socket-like object tlslite-ng reads and writes is :class:`_Socket`, over the
endpoint's :class:`~biopair.endpoints._pipe.Pipe`: ``recv`` and ``send`` raise
``BlockingIOError(EAGAIN)`` for "would block" (what tlslite-ng's record layer turns into
its yields), and ``sendall`` sends what fits and then raises it, as a non-blocking socket
does.  The known finding: tlslite-ng 0.8 buffers each flight and sends it with
``BufferedSocket.flush()``, which calls ``sendall`` instead of yielding, so when sends are
capped the flight crashes with ``BlockingIOError``.

The deterministic test PKI serves it (tlslite-ng 0.8 has Ed25519).  It does not validate
certificate chains (no path validation: a client accepts any server certificate), so
``verify`` and ``trust`` are not honoured and are refused at load.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Generator
from importlib import metadata
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from biopair.endpoints import pki
from biopair.endpoints._pipe import Pipe, PipeWire
from biopair.endpoints.config import (
    DEFAULT_READ_SIZE,
    OPS,
    ConfigError,
    EndpointConfig,
    pattern_bytes,
)
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData

#: What to install when tlslite-ng is missing.
PACKAGE = "pip install tlslite-ng"

#: What the tlslite-ng endpoint does: handshakes, reads, writes and close_notify, TLS 1.2
#: and 1.3, in memory or on a socket; no peek, renegotiation, early data, chain
#: verification, groups, sigalgs, ciphers, options or modes.
CAPABILITIES = Capabilities(
    stack="tlslite-ng",
    ops=frozenset({"connect", "accept", "handshake", "read", "write", "shutdown"}),
    settings=frozenset({
        "stack", "version", "min_version", "max_version", "server_name", "cert",
        "cert_host", "cert_issuer", "cert_validity", "cert_padding", "alpn",
    }),
    results=frozenset({"version", "cipher", "alpn", "peer_certificate", "session_reused",
                       "received"}),
    links=frozenset({"memory", "socket"}),
    versions=frozenset({"1.2", "1.3"}),
    capped_sends=True,
    raw_returns=False,
    package=PACKAGE,
)
_TUPLES = {"1.2": (3, 3), "1.3": (3, 4)}
_NAMES = {(3, 3): "TLSv1.2", (3, 4): "TLSv1.3"}


def missing() -> str | None:
    """Why tlslite-ng cannot be imported, naming the package (None: it can)."""
    try:
        import tlslite  # noqa: F401
    except ImportError:
        return f"tlslite-ng is not installed ({PACKAGE})"
    return None


def version() -> str | None:
    """tlslite-ng's version, or None when it is not installed."""
    try:
        return metadata.version("tlslite-ng")
    except metadata.PackageNotFoundError:
        return None


class _Socket:
    """The socket-like object tlslite-ng does its I/O on (see the module docstring)."""

    def __init__(self, pipe: Pipe) -> None:
        self._pipe = pipe

    def recv(self, size: int) -> bytes:
        data = self._pipe.recv(size)
        if data is None:
            raise BlockingIOError(errno.EAGAIN, "no bytes delivered")
        return data

    def send(self, data: bytes) -> int:
        sent = self._pipe.send(data)
        if not sent and data:
            raise BlockingIOError(errno.EAGAIN, "send buffer full")
        return sent

    def close(self) -> None:
        """Nothing: the pair owns the bytes underneath (tlslite-ng closes its socket when
        it sends or receives a close_notify)."""

    def sendall(self, data: bytes) -> None:
        view = memoryview(bytes(data))
        while view:
            sent = self._pipe.send(view)
            if not sent:
                raise BlockingIOError(errno.EAGAIN, "send buffer full")
            view = view[sent:]


def _settings(cfg: EndpointConfig) -> Any:
    from tlslite import HandshakeSettings

    settings = HandshakeSettings()
    lo = cfg.version or cfg.min_version
    hi = cfg.version or cfg.max_version
    if lo and hi and lo > hi:
        raise ConfigError(f"{cfg.role}.min_version", f"{lo} is above max_version {hi}")
    settings.minVersion = _TUPLES[lo] if lo else (3, 3)
    settings.maxVersion = _TUPLES[hi] if hi else (3, 4)
    return settings


def _credentials(cfg: EndpointConfig) -> tuple[Any, Any]:
    from tlslite import X509CertChain, parsePEMKey

    if cfg.certificate == "none":
        return None, None
    creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                     cfg.cert_validity, cfg.cert_padding)
    chain = X509CertChain()
    chain.parsePemList((pki.pem(creds.cert) + b"".join(pki.pem(c) for c in creds.chain))
                       .decode("ascii"))
    key = parsePEMKey(pki.key_pem(creds.key).decode("ascii"), private=True)
    return chain, key


def _common_name(chain: Any) -> str | None:
    if chain is None or not getattr(chain, "x509List", None):
        return None
    cert = x509.load_der_x509_certificate(bytes(chain.x509List[0].bytes))
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


class TlsliteEndpoint(PipeWire):
    """One side on tlslite-ng; implements :class:`biopair.endpoints.protocol.Endpoint`.

    Args:
        cfg: the endpoint's settings (``stack = "tlslite-ng"``).
        sock: the endpoint's end of a socketpair on a socket link (None: in memory).
        send_cap: in memory, the most bytes sends may hold until the link takes them
            (None: ``cfg.send_cap``, which the builder sets from ``[schedule] send_cap``).

    Raises:
        ConfigError: for a setting tlslite-ng cannot honour.
        ImportError: when tlslite-ng is not installed.
    """

    def __init__(self, cfg: EndpointConfig, sock: socket.socket | None = None,
                 send_cap: int | None = None) -> None:
        from tlslite import TLSConnection

        self.cfg = cfg
        self.name = cfg.role
        self.stack = "tlslite-ng"
        self.capabilities = CAPABILITIES
        self.pipe = Pipe(sock, cfg.send_cap if send_cap is None else send_cap)
        self.conn = TLSConnection(_Socket(self.pipe))
        self._hs_settings = _settings(cfg)
        self._chain, self._key = _credentials(cfg)
        self._pending: dict[str, Generator[Any, None, None]] = {}
        self.received = bytearray()
        self._payload = b""

    @property
    def write_data(self) -> bytes:
        """The payload of the pending write (b"" before any write)."""
        return self._payload

    def _start(self, raw_op: str, size: int) -> Any:
        conn, cfg = self.conn, self.cfg
        alpn = [p.encode() for p in cfg.alpn] or None
        if raw_op == "handshake":
            if self.name == "client":
                return conn.handshakeClientCert(
                    certChain=self._chain, privateKey=self._key,
                    settings=self._hs_settings, serverName=cfg.server_name, alpn=alpn,
                    async_=True)
            return conn.handshakeServerAsync(
                certChain=self._chain, privateKey=self._key, settings=self._hs_settings,
                reqCert=cfg.verify_client != "none", alpn=alpn)
        if raw_op == "read":
            return conn.readAsync(size)
        if raw_op == "write":
            return conn.writeAsync(self._payload)
        return conn.closeAsync()

    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """Advance the op's generator by one step.

        ``buffer`` has no effect: a retried write resumes the generator that holds the
        payload.

        Returns:
            The :class:`~biopair.endpoints.protocol.RawResult` (``ret`` None for wants and
            errors: tlslite-ng has no return value).

        Raises:
            ValueError: for an op the stack does not declare (the loader refuses those).
        """
        if op not in CAPABILITIES.ops:
            raise ValueError(f"the tlslite-ng stack cannot {op}")
        raw_op = OPS[op]
        if raw_op == "write" and (data is not None or size is not None):
            self._payload = bytes(data) if data is not None else pattern_bytes(size or 0)
            self._pending.pop("write", None)
        gen = self._pending.get(raw_op)
        try:
            if gen is None:
                gen = self._pending[raw_op] = self._start(raw_op, size or DEFAULT_READ_SIZE)
            step = next(gen)
        except StopIteration:
            self._pending.pop(raw_op, None)
            return self._finished(raw_op, None)
        except Exception as exc:  # every exception tlslite-ng raises is its error report
            self._pending.pop(raw_op, None)
            return RawResult(None, "SSL", (repr(exc),), 0, b"", f"raise {exc!r}")
        if step == 0:
            return RawResult(None, "WANT_READ", (), 0, b"", "yield 0")
        if step == 1:
            return RawResult(None, "WANT_WRITE", (), 0, b"", "yield 1")
        # readAsync yields its result, then ends.
        self._pending.pop(raw_op, None)
        return self._finished(raw_op, step)

    def _finished(self, raw_op: str, value: Any) -> RawResult:
        if raw_op == "read":
            got = bytes(value or b"")
            if not got:
                return RawResult(None, "ZERO_RETURN", (), 0, b"", "return b''")
            self.received += got
            return RawResult(len(got), "NONE", (), 0, got, f"return {got!r}")
        if raw_op == "write":
            return RawResult(len(self._payload), "NONE", (), 0, b"", "return None")
        return RawResult(1, "NONE", (), 0, b"", "return None")

    # -- state --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What the handshake settled, as far as tlslite-ng says."""
        from tlslite.constants import CipherSuite

        conn = self.conn
        session = conn.session
        cipher = None
        alpn = None
        peer = None
        if session is not None and session.cipherSuite:
            cipher = CipherSuite.ietfNames.get(session.cipherSuite)
            proto = session.appProto
            alpn = bytes(proto).decode("ascii", "backslashreplace") if proto else None
            peer = _common_name(session.serverCertChain if self.name == "client"
                                else session.clientCertChain)
        return {
            "version": _NAMES.get(tuple(conn.version)) if session is not None else None,
            "cipher": cipher,
            "alpn": alpn,
            "peer_certificate": peer,
            "session_reused": bool(conn.resumed),
            "received": self.received.decode("utf-8", "backslashreplace"),
        }

    def state_string(self) -> None:
        """None: tlslite-ng has no state string."""
        return None

    def session(self) -> None:
        """None: resumption across pairs is not offered on this stack."""
        return None

    def export_keys(self, label: bytes, length: int) -> None:
        """None: this stack has no exporter (``keys_match`` is refused at load)."""
        return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Refused: this stack cannot change modes (the loader refuses the step)."""
        raise ValueError(f"the {self.stack} stack cannot change modes or options")

    def close(self) -> None:
        """Drop pending generators; idempotent (nothing else is held)."""
        for gen in self._pending.values():
            gen.close()
        self._pending.clear()
