"""``stack = "libssl"``: the system's OpenSSL 3 through its C API (cffi, ABI mode).

The endpoint makes the same raw calls as the pyOpenSSL one and reports them the same way
(:class:`~biopair.endpoints.protocol.RawResult`: the C return value, the SSL_get_error()
name, the error queue's reason strings, errno), on the library Python's ``ssl`` module
links (``libssl.so.3``) rather than the one bundled in the cryptography wheel.  Because it
has the whole C API, it also drives what pyOpenSSL's binding cannot: ``key_update``
(SSL_key_update), ``quiet_shutdown`` (SSL_set_quiet_shutdown), ``max_send_fragment``
(SSL_set_max_send_fragment) and the ``early_data_status`` result
(SSL_get_early_data_status).

Where its bytes go
------------------
* **memory BIOs** (the default): one ``BIO_s_mem`` to read and one to write, as the
  pyOpenSSL endpoint; a write never blocks, so never WANT_WRITE.
* **a BIO pair** (``link = "bio-pair"``, ``[schedule] bio_pair_size = N``): the SSL sits
  on the inner half of ``BIO_new_bio_pair(N, N)`` and the wire methods work the outer
  half.  The pair holds at most N bytes each way: an SSL_write of 16 KiB into a 4 KiB
  pair writes what fits and returns -1 WANT_WRITE (OpenSSL's own, no socket), and
  :meth:`LibsslEndpoint.wire_give` accepts only what the pair has room for.

The test PKI (:mod:`biopair.endpoints.pki`) is loaded as PEM through BIO_new_mem_buf and
PEM_read_bio_X509 / PEM_read_bio_PrivateKey.  No message or key-log callbacks are
installed: a libssl endpoint's trace has its calls and the links' records, not OpenSSL's
decrypted messages.  Sessions do not cross pairs (``resume`` is not declared).
"""

from __future__ import annotations

import contextlib
import errno as _errno
from typing import Any

from biopair.endpoints import _libssl, pki
from biopair.endpoints._libssl import ffi
from biopair.endpoints.config import (
    APP_OPS,
    DEFAULT_READ_SIZE,
    MAX_SEND_FRAGMENT,
    OPS,
    RESULTS,
    VERSIONS,
    WRITE_OPS,
    ConfigError,
    EndpointConfig,
    pattern_bytes,
)
from biopair.endpoints.protocol import Capabilities, RawResult, WriteData
from biopair.outcome import ERROR_NAMES as _VOCABULARY

#: Everything pyOpenSSL takes but resumption across pairs, plus what only the C API has.
CAPABILITIES = Capabilities(
    stack="libssl",
    ops=frozenset(OPS) - frozenset(APP_OPS),
    settings=frozenset({
        "stack", "version", "min_version", "max_version", "server_name", "verify",
        "verify_host", "trust", "cert", "cert_host", "cert_issuer", "cert_validity",
        "cert_padding", "verify_client", "alpn", "groups", "sigalgs", "ciphers",
        "ciphersuites", "options", "modes", "clear_modes", "post_handshake_auth",
        "max_early_data", "quiet_shutdown", "max_send_fragment",
    }),
    results=frozenset(RESULTS) - {"group"},
    links=frozenset({"memory", "bio-pair"}),
    versions=frozenset(VERSIONS),
    package=_libssl.PACKAGE,
)

#: SSL_get_error() names by C code, for the names of biopair's vocabulary.
ERROR_NAMES: dict[int, str] = {
    code: name for name, code in _libssl.SSL_ERROR_CODES.items() if name in _VOCABULARY
}
#: Ops that are not I/O calls: they return 1 or 0 and SSL_get_error() is not asked.
_NOT_IO = ("renegotiate", "verify_client_post_handshake", "key_update")
_EARLY_DATA_OPS = ("write_early_data", "read_early_data")
_WRITE_CAPACITY = 65536


def _options() -> dict[str, int]:
    from biopair.endpoints import _openssl  # the names scenarios use (pyOpenSSL's OP_*)

    return _openssl.OPTIONS


def _modes() -> dict[str, int]:
    from biopair.endpoints import _openssl

    return _openssl.MODES


def view(op: str, ret: int, error: str | None, queue: tuple[tuple[int, str], ...],
         errno: int, data: bytes) -> str:
    """What pyOpenSSL's public method would have said for the same raw result.

    The rules of :func:`biopair.endpoints._openssl.pyopenssl_view` (the same C results
    map to the same exceptions), kept here so that a libssl endpoint loads no pyOpenSSL;
    ops pyOpenSSL has no method for say so.
    """
    if op == "key_update":
        return "(pyOpenSSL has no key_update method)"
    if op in _EARLY_DATA_OPS:
        return "(pyOpenSSL has no early data method)"
    if op == "shutdown" and ret >= 0:
        return f"return {ret > 0}"
    reasons = [text for _, text in queue]
    if op in ("renegotiate", "verify_client_post_handshake"):
        return "return True" if ret == 1 else f"Error({reasons!r})"
    if error in (None, "NONE"):
        if op in ("read", "peek"):
            return f"return {data!r}"
        return f"return {ret}" if op == "write" else "return None"
    simple = {"WANT_READ": "WantReadError()", "WANT_WRITE": "WantWriteError()",
              "ZERO_RETURN": "ZeroReturnError()", "WANT_X509_LOOKUP": "WantX509LookupError()"}
    if error in simple:
        return simple[error]
    if error == "SYSCALL":
        if not queue or errno != 0:
            if ret < 0 and errno != 0:
                return f"SysCallError({errno}, {_errno.errorcode.get(errno)!r})"
            return "SysCallError(-1, 'Unexpected EOF')"
        return f"Error({reasons!r})"
    if error == "SSL" and queue and queue[0][0] == _libssl.SSL_R_UNEXPECTED_EOF_WHILE_READING:
        return "SysCallError(-1, 'Unexpected EOF')"
    return f"Error({reasons!r})"


class _Buffer:
    # A C write buffer that outlives one SSL_write (OpenSSL remembers its address).
    def __init__(self, data: WriteData) -> None:
        self.capacity = max(_WRITE_CAPACITY, len(data), 1)
        self.cdata = ffi.new("char[]", self.capacity)
        self.data: WriteData = b""
        self.refill(data)

    def refill(self, data: WriteData) -> None:
        if len(data) > self.capacity:
            raise ValueError(f"{len(data)} bytes do not fit a {self.capacity}-byte buffer")
        ffi.memmove(self.cdata, data, len(data))
        self.data = data


class _Context:
    """An SSL_CTX built from one endpoint's settings; frees it (and what it loaded)."""

    def __init__(self, lib: Any, cfg: EndpointConfig) -> None:
        self.lib = lib
        self.ptr = lib.SSL_CTX_new(lib.TLS_method())
        if self.ptr == ffi.NULL:  # pragma: no cover - only when out of memory
            raise MemoryError("SSL_CTX_new failed")
        self._keep: list[Any] = []  # callbacks and buffers OpenSSL points at
        try:
            self._configure(cfg)
        except BaseException:
            self.free()
            raise
        finally:
            lib.ERR_clear_error()

    def free(self) -> None:
        if self.ptr is not None:
            self.lib.SSL_CTX_free(self.ptr)
            self.ptr = None

    def _pem(self, text: bytes, reader: str) -> Any:
        lib = self.lib
        bio = lib.BIO_new_mem_buf(text, len(text))
        try:
            obj = getattr(lib, reader)(bio, ffi.NULL, ffi.NULL, ffi.NULL)
        finally:
            lib.BIO_free(bio)
        if obj == ffi.NULL:  # pragma: no cover - the test PKI's PEM is always valid
            raise RuntimeError(f"{reader} failed: {_libssl.drain_errors(lib)}")
        return obj

    def x509(self, cert: Any) -> Any:
        """An X509* of a cryptography certificate (the caller frees it)."""
        return self._pem(pki.pem(cert), "PEM_read_bio_X509")

    def _configure(self, cfg: EndpointConfig) -> None:
        lib, ctx, role = self.lib, self.ptr, cfg.role
        lo = cfg.version or cfg.min_version
        hi = cfg.version or cfg.max_version
        if lo and hi and VERSIONS[lo] > VERSIONS[hi]:
            raise ConfigError(f"{role}.min_version", f"{lo} is above max_version {hi}")
        for ctrl, value, key in ((_libssl.SSL_CTRL_SET_MIN_PROTO_VERSION, lo, "min_version"),
                                 (_libssl.SSL_CTRL_SET_MAX_PROTO_VERSION, hi, "max_version")):
            if value and lib.SSL_CTX_ctrl(ctx, ctrl, VERSIONS[value], ffi.NULL) != 1:
                raise ConfigError(f"{role}.{key}", f"libssl refused {value}")
        if cfg.certificate != "none":
            creds = pki.leaf(cfg.certificate_host, cfg.certificate, cfg.cert_issuer,
                             cfg.cert_validity, cfg.cert_padding)
            cert = self.x509(creds.cert)
            key = self._pem(pki.key_pem(creds.key), "PEM_read_bio_PrivateKey")
            ok = lib.SSL_CTX_use_certificate(ctx, cert) == 1 and \
                lib.SSL_CTX_use_PrivateKey(ctx, key) == 1
            lib.X509_free(cert)
            lib.EVP_PKEY_free(key)
            if not ok:
                raise ConfigError(f"{role}.cert", f"libssl refused the {cfg.certificate} "
                                                  f"key: {_libssl.drain_errors(lib)}")
            for extra in creds.chain:
                # SSL_CTX_add_extra_chain_cert: the context takes ownership.
                lib.SSL_CTX_ctrl(ctx, _libssl.SSL_CTRL_EXTRA_CHAIN_CERT, 0, self.x509(extra))
        if cfg.trust != "none":
            ca = self.x509(pki.ca(cfg.trust)[0])
            lib.X509_STORE_add_cert(lib.SSL_CTX_get_cert_store(ctx), ca)
            lib.X509_free(ca)
        if role == "client":
            lib.SSL_CTX_set_verify(ctx, _libssl.SSL_VERIFY_PEER if cfg.verify
                                   else _libssl.SSL_VERIFY_NONE, ffi.NULL)
        else:
            sid = b"biopair"
            lib.SSL_CTX_set_session_id_context(ctx, sid, len(sid))
            peer, fail = _libssl.SSL_VERIFY_PEER, _libssl.SSL_VERIFY_FAIL_IF_NO_PEER_CERT
            mode = {"none": _libssl.SSL_VERIFY_NONE, "optional": peer,
                    "required": peer | fail,
                    "post-handshake": peer | fail | _libssl.SSL_VERIFY_POST_HANDSHAKE,
                    }[cfg.verify_client]
            lib.SSL_CTX_set_verify(ctx, mode, ffi.NULL)
            if cfg.verify_client != "none" and cfg.trust != "none":
                ca = self.x509(pki.ca(cfg.trust)[0])
                lib.SSL_CTX_add_client_CA(ctx, ca)  # copies the name
                lib.X509_free(ca)
        if cfg.alpn:
            self._alpn(role, [p.encode() for p in cfg.alpn])
        for key, ctrl, values in (("groups", _libssl.SSL_CTRL_SET_GROUPS_LIST, cfg.groups),
                                  ("sigalgs", _libssl.SSL_CTRL_SET_SIGALGS_LIST, cfg.sigalgs)):
            if values:
                text = ffi.new("char[]", ":".join(values).encode("ascii"))
                if lib.SSL_CTX_ctrl(ctx, ctrl, 0, text) != 1:
                    raise ConfigError(f"{role}.{key}", f"libssl refused {list(values)}")
        if cfg.ciphers is not None and lib.SSL_CTX_set_cipher_list(
                ctx, cfg.ciphers.encode("ascii")) != 1:
            raise ConfigError(f"{role}.ciphers", f"libssl refused {cfg.ciphers!r}")
        if cfg.ciphersuites is not None and lib.SSL_CTX_set_ciphersuites(
                ctx, cfg.ciphersuites.encode("ascii")) != 1:
            raise ConfigError(f"{role}.ciphersuites", f"libssl refused {cfg.ciphersuites!r}")
        if cfg.options:
            options = _options()
            lib.SSL_CTX_set_options(ctx, sum(options[name] for name in cfg.options))
        if cfg.max_early_data:
            lib.SSL_CTX_set_max_early_data(ctx, cfg.max_early_data)

    def _alpn(self, role: str, protos: list[bytes]) -> None:
        lib = self.lib
        if role == "client":
            wire = b"".join(bytes([len(p)]) + p for p in protos)
            # SSL_CTX_set_alpn_protos returns 0 on success.
            if lib.SSL_CTX_set_alpn_protos(self.ptr, wire, len(wire)) != 0:
                raise ConfigError(f"{role}.alpn", f"libssl refused {protos}")
            return
        chosen = ffi.new("unsigned char[256]")

        def select(ssl: Any, out: Any, outlen: Any, offered: Any, inlen: int,
                   arg: Any) -> int:
            raw = ffi.buffer(offered, inlen)[:]
            names, i = [], 0
            while i < len(raw):
                n = raw[i]
                names.append(raw[i + 1:i + 1 + n])
                i += 1 + n
            for proto in protos:
                if proto in names:
                    ffi.memmove(chosen, proto, len(proto))
                    out[0] = chosen
                    outlen[0] = len(proto)
                    return _libssl.SSL_TLSEXT_ERR_OK
            return _libssl.SSL_TLSEXT_ERR_NOACK

        callback = ffi.callback("int(SSL *, const unsigned char **, unsigned char *, "
                                "const unsigned char *, unsigned int, void *)", select)
        self._keep += [callback, chosen]
        lib.SSL_CTX_set_alpn_select_cb(self.ptr, callback, ffi.NULL)


class LibsslEndpoint:
    """One side on the system's libssl: an SSL on memory BIOs or a BIO pair.

    Implements :class:`biopair.endpoints.protocol.Endpoint`.

    Args:
        cfg: the endpoint's settings (``cfg.bio_pair_size``: put the SSL on a BIO pair).

    Raises:
        ConfigError: naming the setting libssl refused, or ``<role>.stack`` when
            ``libssl.so.3`` cannot be loaded (the message names the package).
    """

    def __init__(self, cfg: EndpointConfig) -> None:
        try:
            lib = _libssl.lib()
        except _libssl.Missing as exc:
            raise ConfigError(f"{cfg.role}.stack", str(exc)) from None
        self.cfg = cfg
        self.name = cfg.role
        self.stack = "libssl"
        self.ssl: Any = None
        #: the outer half of the BIO pair (None on memory BIOs): what links move.
        self.outer: Any = None
        self.capabilities = CAPABILITIES
        self.lib = lib
        self.received = bytearray()
        self._write: _Buffer | None = None
        self._retired: list[_Buffer] = []
        self._closed = False
        self._ctx = _Context(lib, cfg)
        ssl = self.ssl = lib.SSL_new(self._ctx.ptr)
        try:
            self._setup(cfg)
        except BaseException:
            self.close()
            raise
        finally:
            lib.ERR_clear_error()
        assert ssl != ffi.NULL

    def _setup(self, cfg: EndpointConfig) -> None:
        lib, ssl, role = self.lib, self.ssl, cfg.role
        if cfg.bio_pair_size is not None:
            inner, outer = ffi.new("BIO **"), ffi.new("BIO **")
            size = cfg.bio_pair_size
            if lib.BIO_new_bio_pair(inner, size, outer, size) != 1:
                raise ConfigError("schedule.bio_pair_size", f"BIO_new_bio_pair({size}) "
                                                            f"failed")
            self.outer = outer[0]
            lib.SSL_set_bio(ssl, inner[0], inner[0])  # the SSL owns the inner half
            self.rbio = self.wbio = None
        else:
            self.rbio = lib.BIO_new(lib.BIO_s_mem())
            self.wbio = lib.BIO_new(lib.BIO_s_mem())
            # A drained read BIO says "retry" (WANT_READ), not EOF, until wire_eof.
            lib.BIO_ctrl(self.rbio, _libssl.BIO_C_SET_BUF_MEM_EOF_RETURN, -1, ffi.NULL)
            lib.SSL_set_bio(ssl, self.rbio, self.wbio)
        if role == "client":
            lib.SSL_set_connect_state(ssl)
            if cfg.server_name:
                name = ffi.new("char[]", cfg.server_name.encode("idna"))
                lib.SSL_ctrl(ssl, _libssl.SSL_CTRL_SET_TLSEXT_HOSTNAME,
                             _libssl.TLSEXT_NAMETYPE_HOST_NAME, name)
            host = cfg.verify_host or cfg.server_name
            if cfg.verify and host:
                lib.SSL_set1_host(ssl, host.encode("ascii"))
            if cfg.post_handshake_auth:
                lib.SSL_set_post_handshake_auth(ssl, 1)
        else:
            lib.SSL_set_accept_state(ssl)
        modes = _modes()
        # pyOpenSSL's Connection defaults (ENABLE_PARTIAL_WRITE, ACCEPT_MOVING_WRITE_BUFFER
        # since 25.2) are not libssl's: a libssl endpoint keeps OpenSSL's own default.
        if cfg.modes:
            lib.SSL_ctrl(ssl, _libssl.SSL_CTRL_MODE, sum(modes[m] for m in cfg.modes), ffi.NULL)
        if cfg.clear_modes:
            lib.SSL_ctrl(ssl, _libssl.SSL_CTRL_CLEAR_MODE,
                         sum(modes[m] for m in cfg.clear_modes), ffi.NULL)
        if cfg.quiet_shutdown:
            lib.SSL_set_quiet_shutdown(ssl, 1)
        if cfg.max_send_fragment is not None:
            lo, hi = MAX_SEND_FRAGMENT
            if not lo <= cfg.max_send_fragment <= hi or lib.SSL_ctrl(
                    ssl, _libssl.SSL_CTRL_SET_MAX_SEND_FRAGMENT, cfg.max_send_fragment,
                    ffi.NULL) != 1:
                raise ConfigError(f"{role}.max_send_fragment",
                                  f"libssl refused {cfg.max_send_fragment} (it takes "
                                  f"{lo} to {hi})")

    # -- calls ----------------------------------------------------------------------------
    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """Make one SSL call and report exactly what libssl said.

        Args:
            op: one of :data:`~biopair.endpoints.config.OPS`.
            size: read buffer size or generated write length; for ``key_update`` the
                SSL_KEY_UPDATE_* type (1 requested, 0 or None not requested).
            data: write payload.
            buffer: for writes, ``auto``/``same``/``copy`` (see the scenario format).

        Returns:
            The :class:`RawResult`; SSL_get_error() is not asked after SSL_shutdown()
            returns 0 or 1, nor for SSL_renegotiate(), SSL_verify_client_post_handshake()
            and SSL_key_update(), which are not I/O calls.
        """
        if self._closed:
            raise ValueError(f"{self.name}: the libssl endpoint is closed")
        lib, ssl = self.lib, self.ssl
        raw_op = OPS[op]
        lib.ERR_clear_error()
        ffi.errno = 0
        got = b""
        if raw_op == "handshake":
            ret = lib.SSL_do_handshake(ssl)
        elif raw_op in ("read", "peek"):
            n = size or DEFAULT_READ_SIZE
            buf = ffi.new("char[]", n)
            ret = (lib.SSL_read if raw_op == "read" else lib.SSL_peek)(ssl, buf, n)
            if ret > 0:
                got = ffi.buffer(buf, ret)[:]
        elif raw_op == "write":
            wb = self._write_buffer(size, data, buffer)
            ret = lib.SSL_write(ssl, wb.cdata, len(wb.data))
        elif raw_op == "write_early_data":
            wb = self._write_buffer(size, data, buffer)
            written = ffi.new("size_t *")
            ret = lib.SSL_write_early_data(ssl, wb.cdata, len(wb.data), written)
        elif raw_op == "read_early_data":
            n = size or DEFAULT_READ_SIZE
            buf = ffi.new("char[]", n)
            readbytes = ffi.new("size_t *")
            ret = lib.SSL_read_early_data(ssl, buf, n, readbytes)
            if readbytes[0]:
                got = ffi.buffer(buf, readbytes[0])[:]
        elif raw_op == "shutdown":
            ret = lib.SSL_shutdown(ssl)
        elif raw_op == "renegotiate":
            ret = lib.SSL_renegotiate(ssl)
        elif raw_op == "verify_client_post_handshake":
            ret = lib.SSL_verify_client_post_handshake(ssl)
        elif raw_op == "key_update":
            kind = (_libssl.SSL_KEY_UPDATE_REQUESTED if size == 1
                    else _libssl.SSL_KEY_UPDATE_NOT_REQUESTED)
            ret = lib.SSL_key_update(ssl, kind)
        else:  # pragma: no cover - the loader refuses unknown ops
            raise ValueError(f"unknown op {op!r}")
        err_no = int(ffi.errno)
        ret = int(ret)
        error: str | None
        if raw_op in _NOT_IO or (raw_op == "shutdown" and ret >= 0):
            error = None
        else:
            error = ERROR_NAMES.get(int(lib.SSL_get_error(ssl, ret)), "UNKNOWN")
        queue = _libssl.drain_errors(lib) if lib.ERR_peek_error() else ()
        if raw_op == "read":
            self.received += got
        if raw_op in WRITE_OPS and error not in ("WANT_WRITE", "WANT_READ"):
            self._retired.clear()  # no write pending: old addresses may be reused
        return RawResult(ret, error, tuple(text for _, text in queue), err_no, got,
                         view(raw_op, ret, error, queue, err_no, got))

    def _write_buffer(self, size: int | None, data: WriteData | None, buffer: str) -> _Buffer:
        # The pyOpenSSL endpoint's rules: ``same`` refills at the same address, ``copy``
        # moves, ``auto`` retries the pending buffer when no payload is given.
        payload = data if data is not None else pattern_bytes(size) if size is not None else None
        current = self._write
        if payload is None and buffer == "copy" and current is not None:
            payload = current.data
        if payload is None:
            if current is None:
                current = _Buffer(b"")
        elif buffer in ("copy", "auto") or current is None:
            if current is not None:
                self._retired.append(current)  # alive while a write may be pending
            current = _Buffer(payload)
        else:
            current.refill(payload)
        self._write = current
        return current

    @property
    def write_data(self) -> WriteData:
        """The payload of the current write buffer (b"" before any write)."""
        return self._write.data if self._write is not None else b""

    # -- the wire -------------------------------------------------------------------------
    def wire_take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes the SSL wrote (from the write BIO or the pair's outer
        half; b"": none)."""
        bio = self.outer if self.outer is not None else self.wbio
        if self._closed or limit <= 0 or not self.lib.BIO_ctrl_pending(bio):
            return b""
        buf = ffi.new("char[]", limit)
        n = self.lib.BIO_read(bio, buf, limit)
        return ffi.buffer(buf, n)[:] if n > 0 else b""

    def wire_give(self, data: bytes) -> int:
        """Hand bytes to the SSL's input: all of them on memory BIOs, as many as the BIO
        pair has room for on a pair (0 when it is full)."""
        if self._closed or not data:
            return 0
        if self.outer is None:
            n = int(self.lib.BIO_write(self.rbio, data, len(data)))
            if n != len(data):  # pragma: no cover - a memory BIO only fails out of memory
                raise MemoryError(f"BIO_write accepted {n} of {len(data)} bytes")
            return n
        room = int(self.lib.BIO_ctrl_get_write_guarantee(self.outer))
        if room <= 0:
            return 0
        n = int(self.lib.BIO_write(self.outer, data, min(room, len(data))))
        return max(n, 0)

    def wire_eof(self) -> None:
        """The SSL's reads see EOF once what was given is read (BIO_set_mem_eof_return(0)
        on memory BIOs, BIO_shutdown_wr() of the pair's outer half)."""
        if self._closed:
            return
        if self.outer is None:
            self.lib.BIO_ctrl(self.rbio, _libssl.BIO_C_SET_BUF_MEM_EOF_RETURN, 0, ffi.NULL)
        else:
            self.lib.BIO_ctrl(self.outer, _libssl.BIO_C_SHUTDOWN_WR, 0, ffi.NULL)

    def wire_pending(self) -> int:
        """Bytes given to the SSL and not yet read by it."""
        if self._closed:
            return 0
        if self.outer is None:
            return int(self.lib.BIO_ctrl(self.rbio, _libssl.BIO_CTRL_PENDING, 0, ffi.NULL))
        # BIO_ctrl_pending() of the outer half counts the other direction (what the SSL
        # wrote); what waits for the SSL fills the outer half's write buffer, so it is
        # that buffer's size less the room left in it.
        size = self.cfg.bio_pair_size or 0
        return size - int(self.lib.BIO_ctrl_get_write_guarantee(self.outer))

    def wire_backlog(self) -> int:
        """Bytes the SSL wrote that no link has taken yet (the pair's outer half, or the
        write BIO)."""
        if self._closed:
            return 0
        bio = self.outer if self.outer is not None else self.wbio
        return int(self.lib.BIO_ctrl_pending(bio))

    # -- state ----------------------------------------------------------------------------
    def state_string(self) -> str | None:
        """SSL_state_string_long()."""
        if self._closed:
            return None
        return _libssl.c_string(self.lib.SSL_state_string_long(self.ssl))

    def session(self) -> Any:
        """None: a libssl session does not cross pairs (``resume`` is not declared)."""
        return None

    def _finished(self) -> bool:
        # A handshake has finished once this side sent its Finished and read the peer's
        # (as the pyOpenSSL endpoint judges it).
        lib, ssl = self.lib, self.ssl
        return bool(lib.SSL_get_finished(ssl, ffi.NULL, 0)
                    and lib.SSL_get_peer_finished(ssl, ffi.NULL, 0))

    def export_keys(self, label: bytes, length: int) -> bytes | None:
        """SSL_export_keying_material() without a context (None before a handshake has
        finished, or if OpenSSL refuses)."""
        if self._closed or not self._finished():
            return None
        out = ffi.new("unsigned char[]", length)
        ok = self.lib.SSL_export_keying_material(self.ssl, out, length, label, len(label),
                                                 ffi.NULL, 0, 0)
        self.lib.ERR_clear_error()
        return ffi.buffer(out, length)[:] if ok == 1 else None

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """SSL_clear_mode, then SSL_set_mode, then SSL_set_options on the live SSL."""
        lib, ssl, modes = self.lib, self.ssl, _modes()
        if clear_modes:
            lib.SSL_ctrl(ssl, _libssl.SSL_CTRL_CLEAR_MODE, sum(modes[m] for m in clear_modes),
                         ffi.NULL)
        if set_modes:
            lib.SSL_ctrl(ssl, _libssl.SSL_CTRL_MODE, sum(modes[m] for m in set_modes),
                         ffi.NULL)
        if set_options:
            options = _options()
            lib.SSL_set_options(ssl, sum(options[o] for o in set_options))

    def state(self) -> dict[str, Any] | None:
        """What the connection settled, by ``[result]`` key, and the state queries of
        ``check`` steps; ``version`` is None until a handshake has finished."""
        if self._closed:
            return None
        lib, ssl = self.lib, self.ssl
        session = lib.SSL_get_session(ssl)
        cipher = lib.SSL_get_current_cipher(ssl)
        alpn, alpn_len = ffi.new("const unsigned char **"), ffi.new("unsigned int *")
        lib.SSL_get0_alpn_selected(ssl, alpn, alpn_len)
        peer = lib.SSL_get1_peer_certificate(ssl)
        common_name = None
        if peer != ffi.NULL:
            buf = ffi.new("char[]", 256)
            n = lib.X509_NAME_get_text_by_NID(lib.X509_get_subject_name(peer),
                                              _libssl.NID_COMMON_NAME, buf, 256)
            common_name = ffi.string(buf).decode("utf-8", "replace") if n >= 0 else None
            lib.X509_free(peer)
        bits = lib.SSL_get_shutdown(ssl)
        servername = lib.SSL_get_servername(ssl, _libssl.TLSEXT_NAMETYPE_HOST_NAME)
        state = {
            "version": (_libssl.c_string(lib.SSL_get_version(ssl)) if self._finished()
                        else None),
            "pending": int(lib.SSL_pending(ssl)),
            "has_pending": bool(lib.SSL_has_pending(ssl)),
            "in_init": bool(lib.SSL_in_init(ssl)),
            "session_resumable": (bool(lib.SSL_SESSION_is_resumable(session))
                                  if session != ffi.NULL else False),
            "cipher": (_libssl.c_string(lib.SSL_CIPHER_get_name(cipher))
                       if cipher != ffi.NULL else None),
            "alpn": (ffi.buffer(alpn[0], alpn_len[0])[:].decode("ascii", "replace")
                     if alpn_len[0] else None),
            "server_name": _libssl.c_string(servername) or None,
            "peer_certificate": common_name,
            "session_reused": bool(lib.SSL_session_reused(ssl)),
            "renegotiate_pending": bool(lib.SSL_renegotiate_pending(ssl)),
            "shutdown": [name for bit, name in ((_libssl.SSL_SENT_SHUTDOWN, "sent"),
                                                (_libssl.SSL_RECEIVED_SHUTDOWN, "received"))
                         if bits & bit],
            "received": self.received.decode("utf-8", "backslashreplace"),
            "state": _libssl.c_string(lib.SSL_state_string_long(ssl)),
            "early_data_status": _libssl.EARLY_DATA_STATUS.get(
                int(lib.SSL_get_early_data_status(ssl)), "unknown"),
        }
        lib.ERR_clear_error()
        return state

    def close(self) -> None:
        """Free the SSL (with its BIOs), the pair's outer half and the SSL_CTX; idempotent.

        After it, the wire methods move nothing and :meth:`state` is None.
        """
        if self._closed:
            return
        self._closed = True
        self._retired.clear()
        lib = self.lib
        if self.ssl is not None and self.ssl != ffi.NULL:
            lib.SSL_free(self.ssl)  # frees the BIOs it was given
        if self.outer is not None:
            lib.BIO_free(self.outer)
        self._ctx.free()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.close()
