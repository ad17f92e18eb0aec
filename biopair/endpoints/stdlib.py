"""An endpoint on Python's own ``ssl`` module: ``ssl.SSLObject`` over two ``ssl.MemoryBIO``.

``stack = "stdlib"`` in a scenario's ``[client]`` or ``[server]`` puts that side on the
standard library, which links the *system* OpenSSL (3.0 on this machine), so a pyOpenSSL
client can meet a stdlib server and the reverse.  Both sides still run on memory BIOs and
the scheduler starves them the same way.

What the stdlib exposes, and what it hides
------------------------------------------
The ``ssl`` module makes the same SSL calls but turns every failure into an exception:

* **SSL_get_error() code**: known.  It is the exception's ``errno``
  (``SSLWantReadError`` = WANT_READ, ...).  CPython folds two cases into ``SSLEOFError``
  (``errno`` 8, its own code): an SSL_ERROR_SSL whose reason is "unexpected eof while
  reading" (then ``reason`` is ``UNEXPECTED_EOF_WHILE_READING``) and an SSL_ERROR_SYSCALL
  with an empty queue (then ``reason`` is None); biopair tells them apart that way.
* **reasons**: only the *last* queue entry, as OpenSSL's symbolic name
  (``CERTIFICATE_VERIFY_FAILED``, not "certificate verify failed"), prefixed by nothing;
  the rest of the queue is drained and lost.
* **the raw return value**: hidden for every failed call and for ``unwrap()`` (which calls
  SSL_shutdown up to twice).  biopair records ``ret = None`` -- ``null`` in JSON, ``?`` in
  text, ``HIDDEN`` in patterns -- and never guesses it.  A successful handshake returns
  1 (the only success value), a read or write the byte count.
* **close_notify**: ``SSLObject.read()`` returns ``b''`` instead of raising
  SSLZeroReturnError (CPython's ``_ssl.c`` does so exactly when SSL_get_error() said
  ZERO_RETURN and the peer's close_notify was received), so a read of ``b''`` is reported
  as ZERO_RETURN with a hidden return value.

Settings the module cannot make (sigalgs, TLS 1.3 ciphersuites, modes, groups, peek,
renegotiate) are rejected when the scenario is loaded.
"""

from __future__ import annotations

import contextlib
import re
import ssl
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from biopair.endpoints import pki
from biopair.endpoints.config import OPS, ConfigError, EndpointConfig, pattern_bytes
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData
from biopair.outcome import ERROR_NAMES

#: What the ``ssl`` module can do: no peek, renegotiate or early data (SSLObject has no
#: such methods), no sigalgs, TLS 1.3 ciphersuites, groups or modes (SSLContext cannot set
#: them), no resumption across pairs; no group, shutdown state, state string,
#: SSL_has_pending, SSL_in_init, session resumability or exporter to report
#: (SSLObject.pending() is SSL_pending).
CAPABILITIES = Capabilities(
    stack="stdlib",
    ops=frozenset({"connect", "accept", "handshake", "read", "write", "shutdown",
                   "verify_client_post_handshake"}),
    settings=frozenset({
        "stack", "version", "min_version", "max_version", "server_name", "verify", "trust",
        "cert", "cert_host", "cert_issuer", "cert_validity", "cert_padding", "verify_client",
        "alpn", "ciphers", "options", "post_handshake_auth",
    }),
    results=frozenset({"version", "cipher", "alpn", "server_name", "peer_certificate",
                       "session_reused", "received", "pending"}),
    raw_returns=False,
)
#: Endpoint keys a stdlib endpoint honours (derived; kept for the loader until it reads
#: :data:`CAPABILITIES` through :func:`biopair.endpoints.registry.capabilities`).
STDLIB_KEYS: tuple[str, ...] = tuple(sorted(CAPABILITIES.settings))
#: Ops a stdlib endpoint can make (derived, as STDLIB_KEYS).
STDLIB_OPS: tuple[str, ...] = tuple(op for op in OPS if op in CAPABILITIES.ops)
_TLS_VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1,
    "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2,
    "1.3": ssl.TLSVersion.TLSv1_3,
}
#: SSL_get_error() names by ``SSLError.errno`` value (CPython's PY_SSL_ERROR_*), built
#: from the one vocabulary (NONE never comes with an exception, so ssl has no name for it).
_ERRNO_NAMES: dict[int, str] = {
    int(getattr(ssl, f"SSL_ERROR_{name}")): name
    for name in ERROR_NAMES if hasattr(ssl, f"SSL_ERROR_{name}")
}
_SSL_C_LINE = re.compile(r"\s*\(_ssl\.c:\d+\)")


def build_stdlib_context(cfg: EndpointConfig) -> ssl.SSLContext:
    """Build an ``ssl.SSLContext`` for one endpoint from the same settings and test PKI.

    Raises:
        ConfigError: naming the setting the ``ssl`` module refused.
    """
    role = cfg.role
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT if role == "client" else ssl.PROTOCOL_TLS_SERVER)
    lo = cfg.version or cfg.min_version
    hi = cfg.version or cfg.max_version
    try:
        if lo:
            ctx.minimum_version = _TLS_VERSIONS[lo]
        if hi:
            ctx.maximum_version = _TLS_VERSIONS[hi]
    except (ValueError, ssl.SSLError) as exc:
        raise ConfigError(f"{role}.version", f"the ssl module refused it: {exc}") from None
    if role == "client":
        ctx.check_hostname = bool(cfg.verify and cfg.server_name)
        ctx.verify_mode = ssl.CERT_REQUIRED if cfg.verify else ssl.CERT_NONE
    else:
        ctx.verify_mode = {
            "none": ssl.CERT_NONE,
            "optional": ssl.CERT_OPTIONAL,
            "required": ssl.CERT_REQUIRED,
            "post-handshake": ssl.CERT_REQUIRED,
        }[cfg.verify_client]
    if cfg.verify_client == "post-handshake" or cfg.post_handshake_auth:
        ctx.post_handshake_auth = True
    if cfg.trust != "none":
        ctx.load_verify_locations(cadata=pki.pem(pki.ca(cfg.trust)[0]).decode("ascii"))
    if cfg.certificate != "none":
        creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                         cfg.cert_validity, cfg.cert_padding)
        # load_cert_chain reads files only: write the PEM to a private temp dir.
        with tempfile.TemporaryDirectory(prefix="biopair-stdlib-") as tmp:
            chain = Path(tmp, "chain.pem")
            key = Path(tmp, "key.pem")
            chain.write_bytes(pki.pem(creds.cert) + b"".join(pki.pem(c) for c in creds.chain))
            key.write_bytes(pki.key_pem(creds.key))
            ctx.load_cert_chain(chain, key)
    if cfg.alpn:
        ctx.set_alpn_protocols(list(cfg.alpn))
    if cfg.ciphers is not None:
        try:
            ctx.set_ciphers(cfg.ciphers)
        except ssl.SSLError:
            raise ConfigError(f"{role}.ciphers", f"the ssl module refused {cfg.ciphers!r}"
                              ) from None
    for name in cfg.options:
        value = getattr(ssl, f"OP_{name}", None)
        if not isinstance(value, int):
            raise ConfigError(f"{role}.options", f"the ssl module has no OP_{name}")
        ctx.options |= value
    return ctx


def _common_name(der: bytes | None) -> str | None:
    if not der:
        return None
    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _describe(exc: ssl.SSLError) -> str:
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return f"{type(exc).__name__}({_SSL_C_LINE.sub('', str(message))!r})"


def classify(exc: ssl.SSLError) -> tuple[str, tuple[str, ...]]:
    """The SSL_get_error() name and reasons that a stdlib exception carries.

    Returns:
        (error name, reasons): reasons hold the exception's ``reason`` (the last queue
        entry's symbolic name) if it has one.
    """
    reason = getattr(exc, "reason", None)
    reasons = (str(reason),) if reason else ()
    if isinstance(exc, ssl.SSLEOFError):
        # CPython's own code 8: SSL_ERROR_SSL "unexpected eof" (reason set) or an
        # SSL_ERROR_SYSCALL with an empty queue (no reason).
        return ("SSL" if reason else "SYSCALL"), reasons
    code = exc.errno
    return (_ERRNO_NAMES.get(int(code), "UNKNOWN") if isinstance(code, int) else "SSL"), reasons


class StdlibEndpoint:
    """One side on ``ssl.SSLObject``; implements :class:`biopair.endpoints.protocol.Endpoint`.

    Args:
        cfg: the endpoint's settings (``stack = "stdlib"``).
        context: a prepared ``ssl.SSLContext``; built from cfg if None.

    Attributes:
        conn: the ``ssl.SSLObject``.
        incoming, outgoing: the two ``ssl.MemoryBIO`` the links read and write.
    """

    def __init__(self, cfg: EndpointConfig, context: ssl.SSLContext | None = None) -> None:
        self.cfg = cfg
        self.name = cfg.role
        self.stack = "stdlib"
        self.capabilities = CAPABILITIES
        self.context = context if context is not None else build_stdlib_context(cfg)
        self._sni: str | None = None
        if cfg.role == "server":
            self.context.sni_callback = self._remember_sni
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.conn: ssl.SSLObject = self.context.wrap_bio(
            self.incoming, self.outgoing, server_side=cfg.role == "server",
            server_hostname=cfg.server_name if cfg.role == "client" else None)
        self.received = bytearray()
        self._payload = b""

    @property
    def write_data(self) -> bytes:
        """The payload of the pending write (b"" before any write)."""
        return self._payload

    def _remember_sni(self, obj: Any, name: str | None, ctx: ssl.SSLContext) -> None:
        self._sni = name

    # -- the wire (see biopair.transport.wire.WireLink) ---------------------------------
    def wire_take(self, limit: int) -> bytes:
        """Bytes the endpoint wrote and no link has taken yet."""
        return self.outgoing.read(limit)

    def wire_give(self, data: bytes) -> int:
        """Hand bytes to the endpoint's input (a MemoryBIO takes them all)."""
        return self.incoming.write(data)

    def wire_eof(self) -> None:
        """Make the endpoint's input report EOF once drained."""
        self.incoming.write_eof()

    def wire_pending(self) -> int:
        """Bytes given and not yet read by OpenSSL."""
        return self.incoming.pending

    # -- calls --------------------------------------------------------------------------
    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """Make one call through the ``ssl`` module.

        Returns:
            A :class:`~biopair.endpoints.protocol.RawResult`; ``ret=None`` where the module hides
            the return value, and the module's exception or value in ``pyopenssl``.

        Raises:
            ValueError: for an op the stack does not declare (the loader refuses those).
        """
        raw_op = OPS[op]
        ret: int | None
        read = b""
        try:
            if raw_op == "handshake":
                self.conn.do_handshake()
                ret, shown = 1, "return None"
            elif raw_op == "read":
                read = self.conn.read(size or 16384)
                self.received += read
                ret, shown = len(read), f"return {read!r}"
                if not read:
                    # CPython returns b'' only for SSL_ERROR_ZERO_RETURN (close_notify).
                    return RawResult(ret=None, error="ZERO_RETURN", reasons=(), errno=0,
                                     data=b"", pyopenssl=shown)
            elif raw_op == "write":
                if data is not None or size is not None:
                    self._payload = bytes(data) if data is not None else pattern_bytes(size or 0)
                ret = self.conn.write(self._payload)
                shown = f"return {ret}"
            elif raw_op == "shutdown":
                self.conn.unwrap()
                ret, shown = None, "return None"
            elif raw_op == "verify_client_post_handshake":
                self.conn.verify_client_post_handshake()
                ret, shown = 1, "return None"
            else:  # the loader rejects peek, renegotiate and early data
                raise ValueError(f"the stdlib stack cannot {op}")
        except ssl.SSLError as exc:
            error, reasons = classify(exc)
            result = RawResult(ret=None, error=error, reasons=reasons, errno=0, data=b"",
                               pyopenssl=_describe(exc))
        else:
            result = RawResult(ret=ret, error=None if ret is None else "NONE", reasons=(),
                               errno=0, data=read, pyopenssl=shown)
        return result

    def state_string(self) -> None:
        """None: the ``ssl`` module does not expose SSL_state_string_long()."""
        return None

    def session(self) -> Any:
        """The SSLSession (not usable by a pyOpenSSL endpoint)."""
        return self.conn.session

    def export_keys(self, label: bytes, length: int) -> None:
        """None: this stack has no exporter (``keys_match`` is refused at load)."""
        return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Refused: this stack cannot change modes (the loader refuses the step)."""
        raise ValueError(f"the {self.stack} stack cannot change modes or options")

    def close(self) -> None:
        """Nothing to release (two memory BIOs and an SSLObject); idempotent."""

    def state(self) -> dict[str, Any]:
        """What the handshake settled, as far as the ``ssl`` module tells.

        Only the keys of ``CAPABILITIES.results``: the module exposes no group, no
        shutdown state and no state string, so those are not reported (and a check of
        them is refused at load).
        """
        obj = self.conn
        cipher = obj.cipher()
        peer = None
        with contextlib.suppress(ValueError):
            peer = _common_name(obj.getpeercert(binary_form=True))
        return {
            "version": obj.version(),
            "cipher": cipher[0] if cipher else None,
            "alpn": obj.selected_alpn_protocol(),
            "server_name": (self.cfg.server_name if self.cfg.role == "client" else self._sni),
            "peer_certificate": peer,
            "session_reused": obj.session_reused,
            "received": self.received.decode("utf-8", "backslashreplace"),
            "pending": obj.pending(),
        }
