"""The wolfSSL stack: Debian's libwolfssl 5.5 through its I/O callbacks, sans-I/O.

``stack = "wolfssl"`` puts one side on wolfSSL (:mod:`biopair.endpoints._wolfssl`: cffi in
ABI mode, no compiler).  wolfSSL does its own I/O through two callbacks, set once on every
context; biopair's answer them from the endpoint's :class:`~biopair.endpoints._pipe.Pipe`:

* the receive callback returns what was delivered, ``-2`` (WOLFSSL_CBIO_ERR_WANT_READ)
  when nothing is, and ``-5`` (WOLFSSL_CBIO_ERR_CONN_CLOSE) after an EOF;
* the send callback takes what the pipe holds and returns ``-2``
  (WOLFSSL_CBIO_ERR_WANT_WRITE) when it holds nothing more: never on an unbounded memory
  pipe, genuinely on a full socket (``link = "socket"``) or a capped pipe (``send_cap``).

Results
-------
``ret`` is wolfSSL's own return value.  ``error`` is the name of wolfSSL_get_error()'s
code where it has an OpenSSL one (0 NONE, 2 WANT_READ, 3 WANT_WRITE, 5 SYSCALL -- what it
reports for a closed input --, 6 ZERO_RETURN, 85 SSL); any other code is one of wolfSSL's
own negative error codes (``-313`` "received alert fatal error", ``-188`` "ASN no signer
error to confirm failure", ...) and is reported as ``SSL`` with ``"<string> (<code>)"`` as
its reason.  The ``pyopenssl`` field says what a wolfSSL program sees: the return value,
or ``wolfSSL_get_error() = <code>: <wolfSSL_ERR_error_string>``.  Nothing is remapped:
wolfSSL 5.5's ``-1`` with error 0 after a lost WANT_WRITE (wolfSSL PR #7001) is reported
as ``-1 NONE``, as the library says it.

The deterministic test PKI serves it unchanged: this build has Ed25519
(``HAVE_ED25519``), so a server presents the default Ed25519 certificate.
"""

from __future__ import annotations

import socket
from typing import Any

from biopair.endpoints import _wolfssl, pki
from biopair.endpoints._pipe import Pipe, PipeWire
from biopair.endpoints.config import (
    DEFAULT_READ_SIZE,
    OPS,
    WRITE_OPS,
    ConfigError,
    EndpointConfig,
    pattern_bytes,
)
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData

#: What the wolfSSL endpoint does: handshakes, reads, peeks, writes and shutdown, TLS 1.2
#: and 1.3, on memory or a socket; no renegotiation, post-handshake auth, early data,
#: groups, sigalgs, options or modes, no resumption across pairs.
CAPABILITIES = Capabilities(
    stack="wolfssl",
    ops=frozenset({"connect", "accept", "handshake", "read", "peek", "write", "shutdown"}),
    settings=frozenset({
        "stack", "version", "min_version", "max_version", "server_name", "verify",
        "verify_host", "trust", "cert", "cert_host", "cert_issuer", "cert_validity",
        "cert_padding", "verify_client", "alpn", "ciphers",
    }),
    results=frozenset({"version", "cipher", "alpn", "group", "peer_certificate",
                       "session_reused", "shutdown", "received", "state"}),
    links=frozenset({"memory", "socket"}),
    versions=frozenset({"1.2", "1.3"}),
    capped_sends=True,
    package=_wolfssl.PACKAGE,
)

_ffi = _wolfssl.ffi
_PIPES: dict[int, Pipe] = {}


def _pipe_of(ctx: Any) -> Pipe | None:
    return _PIPES.get(int(_ffi.cast("uintptr_t", ctx)))


def _recv(ssl: Any, buf: Any, size: int, ctx: Any) -> int:
    pipe = _pipe_of(ctx)
    if pipe is None:
        return -1
    data = pipe.recv(size)
    if data is None:
        return _wolfssl.CBIO_WOULD_BLOCK
    if not data:
        return _wolfssl.CBIO_CONN_CLOSE
    _ffi.memmove(buf, data, len(data))
    return len(data)


def _send(ssl: Any, buf: Any, size: int, ctx: Any) -> int:
    pipe = _pipe_of(ctx)
    if pipe is None:
        return -1
    taken = pipe.send(_ffi.buffer(buf, size))
    return taken if taken else _wolfssl.CBIO_WOULD_BLOCK


# Made once, for every context: a callback raising (a harness bug) reports -1
# (WOLFSSL_CBIO_ERR_GENERAL) to wolfSSL and cffi prints the traceback.
_RECV = _ffi.callback("CallbackIORecv", _recv, error=-1)
_SEND = _ffi.callback("CallbackIOSend", _send, error=-1)


def missing() -> str | None:
    """Why libwolfssl cannot be loaded, naming the package (None: it can)."""
    return None if _wolfssl.available() else f"libwolfssl is not installed ({_wolfssl.PACKAGE})"


def version() -> str | None:
    """wolfSSL_lib_version() (``"5.5.4"``), or None when libwolfssl is missing."""
    return _wolfssl.version()


def _method(lib: Any, cfg: EndpointConfig) -> Any:
    lo = cfg.version or cfg.min_version
    hi = cfg.version or cfg.max_version
    if lo and hi and lo > hi:
        raise ConfigError(f"{cfg.role}.min_version", f"{lo} is above max_version {hi}")
    side = cfg.role
    if hi == "1.2":
        return getattr(lib, f"wolfTLSv1_2_{side}_method")()
    if lo == "1.3":
        return getattr(lib, f"wolfTLSv1_3_{side}_method")()
    return getattr(lib, f"wolfTLS_{side}_method")()  # 1.2 to 1.3 in this build


def _check(ok: int, key: str, what: str) -> None:
    if ok != _wolfssl.SUCCESS:
        raise ConfigError(key, f"wolfSSL refused {what} ({ok})")


def build_context(cfg: EndpointConfig) -> Any:
    """A WOLFSSL_CTX for one endpoint, with biopair's I/O callbacks (free with
    ``wolfSSL_CTX_free``).

    Raises:
        ConfigError: naming the setting wolfSSL refused.
        biopair.endpoints._wolfssl.Unavailable: when libwolfssl is not installed.
    """
    lib = _wolfssl.load()
    role = cfg.role
    ctx = lib.wolfSSL_CTX_new(_method(lib, cfg))
    if ctx == _ffi.NULL:
        raise ConfigError(f"{role}.version", "wolfSSL_CTX_new failed")
    try:
        lib.wolfSSL_CTX_SetIORecv(ctx, _RECV)
        lib.wolfSSL_CTX_SetIOSend(ctx, _SEND)
        if cfg.trust != "none":
            ca = pki.pem(pki.ca(cfg.trust)[0])
            _check(lib.wolfSSL_CTX_load_verify_buffer(ctx, ca, len(ca), 1),
                   f"{role}.trust", "the test CA")
        if cfg.certificate != "none":
            creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                             cfg.cert_validity, cfg.cert_padding)
            chain = pki.pem(creds.cert) + b"".join(pki.pem(c) for c in creds.chain)
            key = pki.key_pem(creds.key)
            _check(lib.wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, chain, len(chain),
                                                                       1),
                   f"{role}.cert", f"the {cfg.certificate} certificate")
            _check(lib.wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, len(key), 1),
                   f"{role}.cert", f"the {cfg.certificate} key")
        if role == "client":
            mode = _wolfssl.VERIFY_PEER if cfg.verify else _wolfssl.VERIFY_NONE
        else:
            if cfg.verify_client == "post-handshake":
                raise ConfigError(f"{role}.verify_client",
                                  "the wolfssl stack does not do post-handshake auth")
            mode = {
                "none": _wolfssl.VERIFY_NONE,
                "optional": _wolfssl.VERIFY_PEER,
                "required": _wolfssl.VERIFY_PEER | _wolfssl.VERIFY_FAIL_IF_NO_PEER_CERT,
            }[cfg.verify_client]
        lib.wolfSSL_CTX_set_verify(ctx, mode, _ffi.NULL)
        if cfg.ciphers is not None:
            _check(lib.wolfSSL_CTX_set_cipher_list(ctx, cfg.ciphers.encode()),
                   f"{role}.ciphers", repr(cfg.ciphers))
    except BaseException:
        lib.wolfSSL_CTX_free(ctx)
        raise
    return ctx


class WolfSSLEndpoint(PipeWire):
    """One side on wolfSSL; implements :class:`biopair.endpoints.protocol.Endpoint`.

    Args:
        cfg: the endpoint's settings (``stack = "wolfssl"``).
        sock: the endpoint's end of a socketpair on a socket link (None: in memory).
        send_cap: in memory, the most bytes the send callback holds until the link takes
            them (None: ``cfg.send_cap``, which the builder sets from ``[schedule]
            send_cap``); beyond it the callback says "would block".

    Raises:
        ConfigError: for a setting wolfSSL refuses.
        biopair.endpoints._wolfssl.Unavailable: when libwolfssl is not installed.
    """

    def __init__(self, cfg: EndpointConfig, sock: socket.socket | None = None,
                 send_cap: int | None = None) -> None:
        lib = _wolfssl.load()
        self._lib = lib
        self.cfg = cfg
        self.name = cfg.role
        self.stack = "wolfssl"
        self.capabilities = CAPABILITIES
        self.pipe = Pipe(sock, cfg.send_cap if send_cap is None else send_cap)
        self.received = bytearray()
        self._payload = b""
        self._ctx = build_context(cfg)
        self._ssl = lib.wolfSSL_new(self._ctx)
        # The I/O callbacks find the pipe by this key: an address that stays ours while
        # the SSL object lives (and no reference cycle through a cffi handle).
        self._key = int(_ffi.cast("uintptr_t", self._ssl))
        _PIPES[self._key] = self.pipe
        io_ctx = _ffi.cast("void *", self._key)
        lib.wolfSSL_SetIOReadCtx(self._ssl, io_ctx)
        lib.wolfSSL_SetIOWriteCtx(self._ssl, io_ctx)
        try:
            self._configure(cfg)
        except BaseException:
            self.close()
            raise

    def _configure(self, cfg: EndpointConfig) -> None:
        lib, ssl, role = self._lib, self._ssl, cfg.role
        if role == "client" and cfg.server_name:
            name = cfg.server_name.encode("idna")
            _check(lib.wolfSSL_UseSNI(ssl, _wolfssl.SNI_HOST_NAME, name, len(name)),
                   f"{role}.server_name", repr(cfg.server_name))
        host = cfg.verify_host or cfg.server_name
        if role == "client" and cfg.verify and host:
            _check(lib.wolfSSL_check_domain_name(ssl, host.encode("idna")),
                   f"{role}.verify_host", repr(host))
        if cfg.alpn:
            protos = _ffi.new("char[]", ",".join(cfg.alpn).encode())
            _check(lib.wolfSSL_UseALPN(ssl, protos, len(",".join(cfg.alpn)),
                                       _wolfssl.ALPN_FAILED_ON_MISMATCH),
                   f"{role}.alpn", repr(list(cfg.alpn)))

    @property
    def write_data(self) -> bytes:
        """The payload of the pending write (b"" before any write)."""
        return self._payload

    # -- calls --------------------------------------------------------------------------
    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """Make one wolfSSL call.

        ``buffer`` is accepted and has no effect: wolfSSL keeps a write's unsent bytes
        itself and checks no buffer address, so a retry passes the pending payload again.

        Returns:
            The :class:`~biopair.endpoints.protocol.RawResult`.

        Raises:
            ValueError: for an op the stack does not declare (the loader refuses those).
        """
        if op not in CAPABILITIES.ops:
            raise ValueError(f"the wolfssl stack cannot {op}")
        lib, ssl = self._lib, self._ssl
        raw_op = OPS[op]
        got = b""
        if raw_op == "handshake":
            ret = (lib.wolfSSL_connect if self.name == "client" else lib.wolfSSL_accept)(ssl)
        elif raw_op in ("read", "peek"):
            n = size or DEFAULT_READ_SIZE
            buf = _ffi.new("char[]", n)
            ret = (lib.wolfSSL_read if raw_op == "read" else lib.wolfSSL_peek)(ssl, buf, n)
            if ret > 0:
                got = _ffi.buffer(buf, ret)[:]
                if raw_op == "read":
                    self.received += got
        elif raw_op in WRITE_OPS:
            if data is not None or size is not None:
                self._payload = bytes(data) if data is not None else pattern_bytes(size or 0)
            ret = lib.wolfSSL_write(ssl, self._payload, len(self._payload))
        else:  # shutdown
            ret = lib.wolfSSL_shutdown(ssl)
            if ret in (0, 1):
                # As for OpenSSL (this build keeps its return values): the error code is
                # not asked after 0 or 1.
                return RawResult(ret, None, (), 0, b"", f"return {ret}")
        code = lib.wolfSSL_get_error(ssl, ret)
        return _result(ret, code, got)

    # -- state --------------------------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        """What the handshake settled, for ``[result]`` checks (None after close)."""
        lib, ssl = self._lib, self._ssl
        if ssl is None:
            return None
        peer = lib.wolfSSL_get_peer_certificate(ssl)
        cn = None
        if peer != _ffi.NULL:
            cn = _wolfssl.text(lib.wolfSSL_X509_get_subjectCN(peer))
            lib.wolfSSL_X509_free(peer)
        name = _ffi.new("char **")
        length = _ffi.new("unsigned short *")
        alpn = None
        if lib.wolfSSL_ALPN_GetProtocol(ssl, name, length) == _wolfssl.SUCCESS:
            alpn = bytes(_ffi.buffer(name[0], length[0])).decode("ascii", "backslashreplace")
        bits = lib.wolfSSL_get_shutdown(ssl)
        return {
            "version": _wolfssl.text(lib.wolfSSL_get_version(ssl)),
            "cipher": _wolfssl.text(lib.wolfSSL_get_cipher_name(ssl)),
            "alpn": alpn,
            "group": _wolfssl.text(lib.wolfSSL_get_curve_name(ssl)),
            "peer_certificate": cn,
            "session_reused": bool(lib.wolfSSL_session_reused(ssl)),
            "shutdown": [label for bit, label in ((_wolfssl.SENT_SHUTDOWN, "sent"),
                                                  (_wolfssl.RECEIVED_SHUTDOWN, "received"))
                         if bits & bit],
            "received": self.received.decode("utf-8", "backslashreplace"),
            "state": self.state_string(),
        }

    def state_string(self) -> str | None:
        """wolfSSL_state_string_long()."""
        if self._ssl is None:
            return None
        return _wolfssl.text(self._lib.wolfSSL_state_string_long(self._ssl))

    def session(self) -> None:
        """None: resumption across pairs is not offered on this stack."""
        return None

    def __del__(self) -> None:
        self.close()

    def export_keys(self, label: bytes, length: int) -> None:
        """None: this stack has no exporter (``keys_match`` is refused at load)."""
        return None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Refused: this stack cannot change modes (the loader refuses the step)."""
        raise ValueError(f"the {self.stack} stack cannot change modes or options")

    def close(self) -> None:
        """Free the SSL object and its context; idempotent."""
        if getattr(self, "_ssl", None) is not None:
            self._lib.wolfSSL_free(self._ssl)
            self._ssl = None
            _PIPES.pop(self._key, None)
        if getattr(self, "_ctx", None) is not None:
            self._lib.wolfSSL_CTX_free(self._ctx)
            self._ctx = None


def _result(ret: int, code: int, data: bytes) -> RawResult:
    # One call's RawResult from wolfSSL's return value and wolfSSL_get_error() code.
    if ret > 0:
        return RawResult(ret, "NONE", (), 0, data,
                         f"return {data!r}" if data else f"return {ret}")
    name = _wolfssl.ERROR_NAMES.get(code, "SSL")
    text = _wolfssl.error_string(code)
    reasons = () if name in ("NONE", "WANT_READ", "WANT_WRITE", "ZERO_RETURN") \
        else (f"{text} ({code})",)
    return RawResult(ret, name, reasons, 0, b"", f"wolfSSL_get_error() = {code}: {text}")
