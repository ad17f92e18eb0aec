"""One side of a pair: its settings, its pyOpenSSL ``Connection``, and its SSL calls.

An :class:`Endpoint` is where a scenario's ``[client]`` or ``[server]`` table becomes a
Context and a Connection, and the single place where SSL calls are made (through
:mod:`biopair.endpoints._openssl`) and turned into :class:`Call` records.  pyOpenSSL 26 refuses
changes to a Context once a Connection used it, so every endpoint builds its own.
"""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable
from typing import Any

from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto

from biopair.endpoints import _openssl, pki
from biopair.endpoints.config import (
    APP_OPS,
    C_API_OPS,
    C_API_RESULTS,
    C_API_SETTINGS,
    DEFAULT_READ_SIZE,
    OPS,
    READ_OPS,
    RESULTS,
    SETTINGS,
    VERSIONS,
    WRITE_OPS,
    ConfigError,
    EndpointConfig,
    pattern_bytes,
)
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData

#: pyOpenSSL takes every op, setting and result but those of OpenSSL's C API its binding
#: lacks (config.C_API_*), on memory BIOs or a socket.
CAPABILITIES = Capabilities(
    stack="pyopenssl",
    ops=frozenset(OPS) - frozenset(C_API_OPS) - frozenset(APP_OPS),
    settings=frozenset(SETTINGS) - frozenset(C_API_SETTINGS),
    results=frozenset(RESULTS) - frozenset(C_API_RESULTS),
    links=frozenset({"memory", "socket"}),
    versions=frozenset(VERSIONS),
)


@functools.cache
def _x509(cert: Any) -> crypto.X509:
    return crypto.X509.from_cryptography(cert)


@functools.cache
def _pkey(key: Any) -> crypto.PKey:
    return crypto.PKey.from_cryptography_key(key)


def _compat(method: Any, obj: Any, convert: Any) -> None:
    # pyOpenSSL >= 24.3 takes cryptography objects (and deprecates its own); older
    # releases, which the version matrix runs, only take X509/PKey.
    try:
        method(obj)
    except TypeError:
        method(convert(obj))


def _common_name(cert: Any) -> str | None:
    subject = cert.to_cryptography().subject
    names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def build_context(cfg: EndpointConfig, trace_hooks: bool = False) -> SSL.Context:
    """Build a fresh Context for one endpoint.

    Args:
        cfg: the endpoint's settings.
        trace_hooks: install the message and key-log hooks a protocol trace needs (they
            must be in place before any Connection uses the Context).

    Raises:
        ConfigError: naming the setting OpenSSL refused.
    """
    role = cfg.role
    ctx = SSL.Context(SSL.TLS_METHOD)
    lo = cfg.version or cfg.min_version
    hi = cfg.version or cfg.max_version
    if lo:
        ctx.set_min_proto_version(VERSIONS[lo])
    if hi:
        ctx.set_max_proto_version(VERSIONS[hi])
    if lo and hi and VERSIONS[lo] > VERSIONS[hi]:
        raise ConfigError(f"{role}.min_version", f"{lo} is above max_version {hi}")

    if cfg.certificate != "none":
        creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                         cfg.cert_validity, cfg.cert_padding)
        _compat(ctx.use_certificate, creds.cert, _x509)
        _compat(ctx.use_privatekey, creds.key, _pkey)
        for extra in creds.chain:
            _compat(ctx.add_extra_chain_cert, extra, _x509)
    if cfg.trust != "none":
        store = ctx.get_cert_store()
        assert store is not None
        store.add_cert(_x509(pki.ca(cfg.trust)[0]))

    if role == "client":
        ctx.set_verify(SSL.VERIFY_PEER if cfg.verify else SSL.VERIFY_NONE)
    else:
        # A server that verifies clients refuses to resume a session without a session
        # id context ("session id context uninitialized"); a fixed one makes resumption
        # work with every verify_client setting.
        ctx.set_session_id(b"biopair")
        mode = {
            "none": SSL.VERIFY_NONE,
            "optional": SSL.VERIFY_PEER,
            "required": SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT,
            "post-handshake": SSL.VERIFY_PEER
            | SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            | _openssl.VERIFY_POST_HANDSHAKE,
        }[cfg.verify_client]
        ctx.set_verify(mode)
        if cfg.verify_client != "none" and cfg.trust != "none":
            _compat(ctx.add_client_ca, pki.ca(cfg.trust)[0], _x509)

    if cfg.alpn:
        protos = [p.encode() for p in cfg.alpn]
        if role == "client":
            ctx.set_alpn_protos(protos)
        else:
            ctx.set_alpn_select_callback(_alpn_selector(protos))
    if cfg.groups:
        try:
            ok = _openssl.set_groups(ctx, list(cfg.groups))
        except NotImplementedError as exc:
            raise ConfigError(f"{role}.groups", f"cannot be set: {exc} (add "
                              f'requires = ["cryptography >= 50"] to the scenario)') from None
        if not ok:
            raise ConfigError(f"{role}.groups", f"OpenSSL refused {list(cfg.groups)}")
    if cfg.sigalgs and not _openssl.set_sigalgs(ctx, list(cfg.sigalgs)):
        raise ConfigError(f"{role}.sigalgs", f"OpenSSL refused {list(cfg.sigalgs)}")
    if cfg.ciphers is not None:
        try:
            ctx.set_cipher_list(cfg.ciphers.encode())
        except SSL.Error as exc:
            raise ConfigError(f"{role}.ciphers", f"OpenSSL refused {cfg.ciphers!r}") from exc
    if cfg.ciphersuites is not None and not _openssl.set_ciphersuites(ctx, cfg.ciphersuites):
        raise ConfigError(f"{role}.ciphersuites", f"OpenSSL refused {cfg.ciphersuites!r}")
    for name in cfg.options:
        ctx.set_options(_openssl.OPTIONS[name])
    if cfg.max_early_data:
        _openssl.set_max_early_data(ctx, cfg.max_early_data)
    if trace_hooks:
        _openssl.install_trace_hooks(ctx)
    return ctx


def _alpn_selector(server_protos: list[bytes]) -> Any:
    def select(conn: SSL.Connection, offered: list[bytes]) -> Any:
        for proto in server_protos:
            if proto in offered:
                return proto
        return SSL.NO_OVERLAPPING_PROTOCOLS

    return select


class Endpoint:
    """One side's Connection, and the single place SSL calls are made and recorded.

    Implements :class:`biopair.endpoints.protocol.Endpoint`.  Its wire methods work on the
    connection's memory BIOs with raw calls (no exceptions); on a socket link the
    connection has no BIOs of its own and the socket link moves the bytes itself, so they
    are not used there (they then take and give nothing).

    Args:
        cfg: the endpoint's settings.
        sock: None for a memory-BIO connection, or the socket for a socket link.
        context: a prepared Context (e.g. with trace callbacks); built from cfg if None.
    """

    def __init__(
        self,
        cfg: EndpointConfig,
        sock: socket.socket | None = None,
        context: SSL.Context | None = None,
        trace_hooks: bool = True,
    ) -> None:
        self.cfg = cfg
        self.name = cfg.role
        self.stack = "pyopenssl"
        self.capabilities = CAPABILITIES
        self.context = context if context is not None else build_context(cfg)
        if trace_hooks:
            # Before the first Connection: pyOpenSSL freezes a Context once it is used.
            # (A shared Context gets them from build_context(trace_hooks=True).)
            _openssl.install_trace_hooks(self.context)
        conn = SSL.Connection(self.context, sock)
        # No trace sinks until a recorder attaches some: the Context's hooks look these up
        # on every message, and a missing attribute would go through pyOpenSSL's slow
        # __getattr__ each time.
        _openssl.attach_trace_sinks(conn, None, None, None)
        if cfg.role == "client":
            conn.set_connect_state()
            if cfg.server_name:
                conn.set_tlsext_host_name(cfg.server_name.encode("idna"))
            host = cfg.verify_host or cfg.server_name
            if cfg.verify and host:
                _openssl.set_verify_host(conn, host)
            if cfg.post_handshake_auth:
                _openssl.set_post_handshake_auth(conn)
            if cfg.session is not None:
                conn.set_session(cfg.session)
        else:
            conn.set_accept_state()
        _openssl.set_connection_modes(
            conn,
            sum(_openssl.MODES[m] for m in cfg.modes),
            sum(_openssl.MODES[m] for m in cfg.clear_modes),
        )
        self.conn = conn
        self.received = bytearray()
        self._write: _openssl.WriteBuffer | None = None
        self._retired: list[_openssl.WriteBuffer] = []

    def call(
        self,
        op: str,
        *,
        size: int | None = None,
        data: WriteData | None = None,
        buffer: str = "auto",
    ) -> RawResult:
        """Make one SSL call.

        Args:
            op: one of :data:`OPS`.
            size: read/peek buffer size, or write length (with generated data).
            data: write payload (a view of :attr:`write_data`, the rest of a partial
                write, is written from the same C buffer: no copy).
            buffer: for write: ``auto`` reuses the pending buffer when no data/size is
                given and allocates a new one otherwise; ``same`` refills the pending
                buffer at the same C address with the new payload (if any); ``copy``
                passes the payload (default: the pending buffer's bytes) at an address
                no buffer of the pending write has used.

        Returns:
            The raw result; the caller records it as a :class:`Call`.
        """
        raw_op = OPS[op]
        if raw_op == "handshake":  # first: the op of every call of a handshake
            result = _openssl.call(self.conn, raw_op)
        elif raw_op in READ_OPS:
            result = _openssl.call(self.conn, raw_op, size or DEFAULT_READ_SIZE)
            if raw_op != "peek":
                self.received += result.data
        elif raw_op in WRITE_OPS:
            result = _openssl.call(self.conn, raw_op, self._write_buffer(size, data, buffer))
            if result.error != "WANT_WRITE" and result.error != "WANT_READ":
                self._retired.clear()  # no write pending: old addresses may be reused
        else:
            result = _openssl.call(self.conn, raw_op)
        return result

    def caller(self, op: str, size: int | None = None, data: WriteData | None = None,
               buffer: str = "auto") -> Callable[[], RawResult]:
        """A callable making ``call(op, size=size, data=data, buffer=buffer)`` each time
        it is called: the pair prepares one per run entry.  A handshake op gets
        :func:`biopair.endpoints._openssl.handshaker` (no Python frame in between: the
        hot path of every run); any other op this method with its arguments bound."""
        if OPS[op] == "handshake":
            return _openssl.handshaker(self.conn)
        return functools.partial(self.call, op, size=size, data=data, buffer=buffer)

    def _write_buffer(
        self, size: int | None, data: WriteData | None, buffer: str
    ) -> _openssl.WriteBuffer:
        payload = data if data is not None else pattern_bytes(size) if size is not None else None
        current = self._write
        if buffer == "auto" and current is not None and payload is not None:
            window = current.continued(payload)
            if window is not None:  # the rest of a partial write: same memory, no copy
                self._write = window
                return window
        if payload is None and buffer == "copy" and current is not None:
            payload = current.data  # an equal copy of the pending write, elsewhere
        if payload is None:
            if current is None:
                current = _openssl.WriteBuffer(b"")
        elif buffer == "copy" or current is None or buffer == "auto":
            if current is not None:
                # Keep the replaced buffer alive while a write is pending: freed, its
                # address could be handed to the next buffer, and OpenSSL (which compares
                # addresses) would take a "copy" for the same buffer.
                self._retired.append(current)
            current = _openssl.WriteBuffer(payload)
        elif buffer == "same":
            current.refill(payload)
        self._write = current
        return current

    @property
    def write_data(self) -> WriteData:
        """The payload of the endpoint's current write buffer (b"" before any write)."""
        return self._write.data if self._write is not None else b""

    # -- the wire (memory BIOs only: see the class docstring) ---------------------------
    def wire_take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes the connection wrote into its output BIO (b"": none)."""
        return _openssl.read_output(self.conn, limit)

    def wire_give(self, data: bytes) -> int:
        """Append bytes to the connection's input BIO; a memory BIO takes them all."""
        _openssl.give_input(self.conn, data)
        return len(data)

    def wire_eof(self) -> None:
        """Make the input BIO report EOF once drained."""
        _openssl.input_eof(self.conn)

    def wire_pending(self) -> int:
        """Bytes in the input BIO not yet read by OpenSSL."""
        return _openssl.input_pending(self.conn)

    def state_string(self) -> str:
        """SSL_state_string_long() of the connection."""
        return _openssl.state_string(self.conn)

    def session(self) -> Any:
        """The connection's SSL session, to resume in a later pair."""
        return self.conn.get_session()

    def close(self) -> None:
        """Drop the write buffers kept for retries; idempotent.

        The Connection itself needs no closing (its socket, on a socket link, belongs to
        the pair), and stays readable for :meth:`state` after a run.
        """
        self._retired.clear()

    def export_keys(self, label: bytes, length: int) -> bytes | None:
        """SSL_export_keying_material() through pyOpenSSL (None before the handshake has
        finished, or if OpenSSL refuses)."""
        if not _openssl.handshake_finished(self.conn):
            return None
        try:
            return bytes(self.conn.export_keying_material(label, length, None))
        except SSL.Error:
            return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """SSL_clear_mode, then SSL_set_mode, then SSL_set_options on the connection."""
        _openssl.change_connection(
            self.conn, sum(_openssl.MODES[m] for m in set_modes),
            sum(_openssl.MODES[m] for m in clear_modes),
            sum(_openssl.OPTIONS[o] for o in set_options))

    def state(self) -> dict[str, Any]:
        """What the handshake settled, for a scenario's ``[result]`` checks and ``check``
        steps.  ``version`` is None until a handshake has finished (OpenSSL names the
        method's highest version from the start)."""
        conn = self.conn
        alpn = conn.get_alpn_proto_negotiated()
        peer = conn.get_peer_certificate()
        group = _openssl.group_name(conn)
        finished = _openssl.handshake_finished(conn)
        return {
            "version": conn.get_protocol_version_name() if finished else None,
            "pending": conn.pending(),
            "cipher": conn.get_cipher_name(),
            "alpn": alpn.decode() if alpn else None,
            "group": group,
            # A corrupted ClientHello can carry any bytes as SNI (found by a sweep).
            "server_name": (conn.get_servername() or b"").decode(
                "ascii", "backslashreplace") or None,
            "peer_certificate": _common_name(peer) if peer is not None else None,
            "session_reused": _openssl.session_reused(conn),
            "renegotiate_pending": _openssl.renegotiate_pending(conn),
            "shutdown": _shutdown_names(conn.get_shutdown()),
            "received": self.received.decode("utf-8", "backslashreplace"),
            "state": _openssl.state_string(conn),
        }


def _shutdown_names(bits: int) -> list[str]:
    names = []
    if bits & SSL.SENT_SHUTDOWN:
        names.append("sent")
    if bits & SSL.RECEIVED_SHUTDOWN:
        names.append("received")
    return names
