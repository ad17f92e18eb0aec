"""The one place where biopair talks to OpenSSL below pyOpenSSL's public API.

pyOpenSSL turns every SSL call into a Python value or an exception, and on the way it
hides the raw return value, drains the error queue and remaps some errors (an SSL_ERROR_SSL
"unexpected eof while reading" becomes ``SysCallError(-1, 'Unexpected EOF')``).  biopair
reports both layers, so it makes the calls itself through the cffi binding pyOpenSSL uses
(``OpenSSL._util.lib``) and then derives, with :func:`pyopenssl_view`, what pyOpenSSL's
public method would have raised or returned for the same call.

Every other module goes through the functions here; nothing else imports ``OpenSSL._util``.
"""

from __future__ import annotations

import errno as _errno
import functools
from collections.abc import Callable
from typing import Any

from OpenSSL import SSL
from OpenSSL._util import ffi as _ffi
from OpenSSL._util import lib as _lib

from biopair.endpoints.protocol import RawResult, WriteData
from biopair.outcome import ERROR_NAMES as _VOCABULARY

#: SSL_get_error() names by C code, built from the one vocabulary
#: (:data:`biopair.outcome.ERROR_NAMES`): ``SSL_ERROR_<name>``.
ERROR_NAMES: dict[int, str] = {
    int(getattr(_lib, f"SSL_ERROR_{name}")): name for name in _VOCABULARY
    if hasattr(_lib, f"SSL_ERROR_{name}")  # PENDING and CLOSED are wrappers' only
}

#: Names of the SSL_MODE_* flags, without the prefix.  cryptography < 42 does not bind
#: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER; its value is fixed in OpenSSL's ABI (ssl.h: 0x2).
MODES: dict[str, int] = {
    "ACCEPT_MOVING_WRITE_BUFFER": getattr(_lib, "SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER", 0x2),
    "AUTO_RETRY": _lib.SSL_MODE_AUTO_RETRY,
    "ENABLE_PARTIAL_WRITE": _lib.SSL_MODE_ENABLE_PARTIAL_WRITE,
    "RELEASE_BUFFERS": _lib.SSL_MODE_RELEASE_BUFFERS,
}

#: Names of the SSL_OP_* options pyOpenSSL exports, without the prefix.
OPTIONS: dict[str, int] = {
    name[3:]: int(getattr(SSL, name))
    for name in dir(SSL)
    if name.startswith("OP_") and isinstance(getattr(SSL, name), int)
}


#: Early data calls: they return 1/0 (write) or 0/1/2 (read: ERROR, SUCCESS, FINISH)
#: rather than a byte count, and pyOpenSSL has no method for them.
EARLY_DATA_OPS: tuple[str, ...] = ("write_early_data", "read_early_data")

#: SSL_VERIFY_POST_HANDSHAKE (pyOpenSSL exports no name for it).
VERIFY_POST_HANDSHAKE: int = int(_lib.SSL_VERIFY_POST_HANDSHAKE)


def _drain_error_queue() -> tuple[tuple[int, str], ...]:
    queue: list[tuple[int, str]] = []
    while True:
        code = _lib.ERR_get_error()
        if code == 0:
            return tuple(queue)
        reason = _lib.ERR_reason_error_string(code)
        text = _ffi.string(reason).decode("ascii", "replace") if reason != _ffi.NULL else ""
        queue.append((int(_lib.ERR_GET_REASON(code)), text or f"reason({code:#x})"))


def pyopenssl_view(
    op: str,
    ret: int,
    error: str | None,
    queue: tuple[tuple[int, str], ...],
    errno: int,
    data: bytes = b"",
) -> str:
    """Say what pyOpenSSL's public method would have done with this raw result.

    This mirrors ``Connection._raise_ssl_error`` (pyOpenSSL 23-26) and the return
    conversions of ``do_handshake``, ``recv``, ``send`` and ``shutdown``.  The test suite
    checks it against real pyOpenSSL exceptions for the same calls.

    Returns:
        ``"WantReadError()"``, ``"SysCallError(-1, 'Unexpected EOF')"``,
        ``"Error([...reasons])"`` or ``"return <value>"``.
    """
    if op == "shutdown" and ret >= 0:
        return f"return {ret > 0}"
    if op in EARLY_DATA_OPS:
        return "(pyOpenSSL has no early data method)"
    if op in ("renegotiate", "verify_client_post_handshake"):
        return "return True" if ret == 1 else f"Error({[text for _, text in queue]!r})"
    if error in (None, "NONE"):
        if op in ("read", "peek"):
            return f"return {data!r}"
        if op == "write":
            return f"return {ret}"
        return "return None"
    if error == "WANT_READ":
        return "WantReadError()"
    if error == "WANT_WRITE":
        return "WantWriteError()"
    if error == "ZERO_RETURN":
        return "ZeroReturnError()"
    if error == "WANT_X509_LOOKUP":
        return "WantX509LookupError()"
    reasons = [text for _, text in queue]
    if error == "SYSCALL":
        if not queue or errno != 0:
            if ret < 0 and errno != 0:
                return f"SysCallError({errno}, {_errno.errorcode.get(errno)!r})"
            return "SysCallError(-1, 'Unexpected EOF')"
        return f"Error({reasons!r})"
    if error == "SSL" and queue:
        if queue[0][0] == _lib.SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return "SysCallError(-1, 'Unexpected EOF')"
        return f"Error({reasons!r})"
    return f"Error({reasons!r})"


class WriteBuffer:
    """A C buffer that outlives one SSL_write call.

    OpenSSL remembers the address of a write that returned WANT_WRITE; retrying "with the
    same buffer" means passing this very object again, and "an equal copy at another
    address" means a new one with the same bytes.

    After a partial write the rest is written from the same C memory: :meth:`continued`
    makes a *window* (a pointer into this buffer and a view of its payload) in O(1),
    so a write of N bytes in N / 16384 calls copies its payload once, not N / 16384 times.
    """

    __slots__ = ("_cdata", "_root", "_source", "_start", "capacity", "data")

    def __init__(self, data: WriteData, capacity: int = 65536) -> None:
        self.capacity = max(capacity, len(data), 1)
        self._cdata: Any = _ffi.new("char[]", self.capacity)
        self._root: WriteBuffer | None = None  # a window keeps its buffer's memory alive
        self.data: WriteData = b""
        self._source: object = None
        self._start = 0
        self.refill(data)

    def refill(self, data: WriteData) -> None:
        """Put new contents at the same address (a retry "with different contents")."""
        if len(data) > self.capacity:
            raise ValueError(f"{len(data)} bytes do not fit a {self.capacity}-byte buffer")
        _ffi.memmove(self._cdata, data, len(data))
        self.data = data
        # What the memory now holds a copy of, and where that copy starts in it: a view
        # of the same immutable bytes can then be written from here (continued()).
        source = data.obj if isinstance(data, memoryview) else data
        if isinstance(source, bytes) and (not isinstance(data, memoryview) or data.readonly):
            self._source = source
            self._start = _address_of(data)
        else:
            self._source = None

    def continued(self, rest: WriteData) -> WriteBuffer | None:
        """A window onto this buffer's C memory holding ``rest``, if ``rest`` is a view of
        the bytes this buffer was filled from (the unwritten rest of a partial write);
        None otherwise (the caller copies)."""
        if (not isinstance(rest, memoryview) or self._source is None
                or rest.obj is not self._source or not rest.contiguous):
            return None
        offset = _address_of(rest) - self._start
        if offset < 0 or offset + len(rest) > len(self.data):
            return None
        window = WriteBuffer.__new__(WriteBuffer)
        window._cdata = self._cdata + offset
        window._root = self._root or self
        window.capacity = self.capacity - offset
        window.data = rest
        window._source = self._source
        window._start = self._start + offset
        return window

    def address(self) -> int:
        """The C address of the buffer, to tell copies apart in a trace."""
        return int(_ffi.cast("uintptr_t", self._cdata))


def _address_of(data: WriteData) -> int:
    # The address of a bytes-like object's first byte (no copy).
    return int(_ffi.cast("uintptr_t", _ffi.from_buffer(data)))


#: SSL_do_handshake() said -1, SSL_get_error() WANT_READ, errno 0, empty error queue: the
#: answer to nearly every call of a bytewise handshake (a NamedTuple is immutable, so one
#: value serves them all).
_HANDSHAKE_WANT_READ = RawResult(-1, "WANT_READ", (), 0, b"", "WantReadError()")


def _queue_known_empty(ret: int, code: int) -> bool:
    # SSL_get_error(ssl, ret) with ret <= 0 looks at the error queue first and answers
    # SSL_ERROR_SSL or SSL_ERROR_SYSCALL whenever it is not empty (ssl_lib.c, every
    # OpenSSL from 1.0 to 4.0); any other answer for ret <= 0 means the queue was empty,
    # so ERR_peek_error() would only say 0 again.  For ret > 0 it answers NONE without
    # looking, so the queue must be asked.
    return ret <= 0 and code != _lib.SSL_ERROR_SSL and code != _lib.SSL_ERROR_SYSCALL


def call(conn: SSL.Connection, op: str, arg: int | WriteBuffer | None = None) -> RawResult:
    """Make one raw SSL call on a pyOpenSSL ``Connection`` and classify the result.

    The C calls, in order: ERR_clear_error(), errno = 0, the SSL function, errno,
    SSL_get_error() (see below), and ERR_peek_error() (then ERR_get_error() until the
    queue is empty) unless SSL_get_error() already proved the queue empty.

    Args:
        conn: the endpoint's connection.
        op: ``handshake`` (SSL_do_handshake; also used for connect and accept, see
            docs/scenario-format.md), ``read``, ``peek``, ``write``, ``shutdown``,
            ``renegotiate``, ``verify_client_post_handshake``, ``write_early_data`` or
            ``read_early_data``.
        arg: the buffer size for read/peek/read_early_data, the :class:`WriteBuffer` for
            write/write_early_data.

    Returns:
        The :class:`RawResult`; SSL_get_error() is not asked after SSL_shutdown() returns
        0 or 1 (SSL_shutdown(3) says its answer would mislead).
    """
    if op == "handshake":
        return handshaker(conn)()
    ssl = conn._ssl
    _lib.ERR_clear_error()
    _ffi.errno = 0
    data = b""
    if op in ("read", "peek"):
        assert isinstance(arg, int)
        buf = _ffi.new("char[]", arg)
        fn = _lib.SSL_read if op == "read" else _lib.SSL_peek
        ret = fn(ssl, buf, arg)
        err_no = _ffi.errno
        if ret > 0:
            data = _ffi.buffer(buf, ret)[:]
    elif op == "write":
        assert isinstance(arg, WriteBuffer)
        ret = _lib.SSL_write(ssl, arg._cdata, len(arg.data))
        err_no = _ffi.errno
    elif op == "shutdown":
        ret = _lib.SSL_shutdown(ssl)
        err_no = _ffi.errno
    elif op == "renegotiate":
        ret = _lib.SSL_renegotiate(ssl)
        err_no = _ffi.errno
    elif op == "verify_client_post_handshake":
        ret = _lib.SSL_verify_client_post_handshake(ssl)
        err_no = _ffi.errno
    elif op == "write_early_data":
        assert isinstance(arg, WriteBuffer)
        written = _ffi.new("size_t *")
        ret = _lib.SSL_write_early_data(ssl, arg._cdata, len(arg.data), written)
        err_no = _ffi.errno
    elif op == "read_early_data":
        assert isinstance(arg, int)
        buf = _ffi.new("char[]", arg)
        readbytes = _ffi.new("size_t *")
        ret = _lib.SSL_read_early_data(ssl, buf, arg, readbytes)
        err_no = _ffi.errno
        if readbytes[0]:
            data = _ffi.buffer(buf, readbytes[0])[:]
    else:  # pragma: no cover - the scenario loader rejects unknown ops
        raise ValueError(f"unknown raw op {op!r}")
    if op in ("renegotiate", "verify_client_post_handshake") or (op == "shutdown" and ret >= 0):
        # SSL_renegotiate and SSL_verify_client_post_handshake return 1 or 0 and are not
        # I/O calls, and SSL_shutdown(3) says SSL_get_error() misleads after a 0: not asked.
        return _result(op, int(ret), None, int(err_no), data)
    return _result(op, int(ret), _lib.SSL_get_error(ssl, ret), int(err_no), data)


def _result(op: str, ret: int, code: int | None, err_no: int, data: bytes) -> RawResult:
    # The common tail of every raw call: name the error, read the queue if it may hold
    # anything, and derive pyOpenSSL's view.
    error = None if code is None else ERROR_NAMES.get(code, "UNKNOWN")
    if code is not None and _queue_known_empty(ret, code):
        queue: tuple[tuple[int, str], ...] = ()
    else:
        queue = _drain_error_queue() if _lib.ERR_peek_error() else ()
    return RawResult(
        ret=ret,
        error=error,
        reasons=tuple(text for _, text in queue),
        errno=err_no,
        data=data,
        pyopenssl=pyopenssl_view(op, ret, error, queue, err_no, data),
    )


def handshaker(conn: SSL.Connection) -> Callable[[], RawResult]:
    """A callable making ``call(conn, "handshake")``, with its lookups made once.

    The hot path of every run: a bytewise handshake makes thousands of these calls.  The
    C calls are :func:`call`'s: ERR_clear_error(), errno = 0, SSL_do_handshake(), errno,
    SSL_get_error(), and ERR_peek_error() only where SSL_get_error() left the queue's
    state open (see ``_queue_known_empty``).
    """
    ssl = conn._ssl
    ffi = _ffi
    clear = _lib.ERR_clear_error
    do_handshake = _lib.SSL_do_handshake
    get_error = _lib.SSL_get_error
    want_read = _lib.SSL_ERROR_WANT_READ

    def handshake() -> RawResult:
        clear()
        ffi.errno = 0
        ret = do_handshake(ssl)
        err_no = ffi.errno
        code = get_error(ssl, ret)
        if code == want_read:
            # ret <= 0 here, so the queue is empty: nothing to drain, nothing to format,
            # and (for the values OpenSSL almost always gives) nothing to build either.
            if ret == -1 and err_no == 0:
                return _HANDSHAKE_WANT_READ
            return RawResult(ret, "WANT_READ", (), err_no, b"", "WantReadError()")
        return _result("handshake", int(ret), code, int(err_no), b"")

    return handshake


_MEM_PTR = _ffi.new("char **")
#: The size of one BIO_read() from an output BIO.
READ_BUF_SIZE = 1 << 16
_READ_BUF = _ffi.new("char[]", READ_BUF_SIZE)


def input_pending(conn: SSL.Connection) -> int:
    """Bytes written into a memory-BIO connection's input BIO and not yet read by OpenSSL."""
    if conn._into_ssl is None:
        return 0
    return int(_lib.BIO_get_mem_data(conn._into_ssl, _MEM_PTR))


def take_output(conn: SSL.Connection) -> bytes:
    """Everything OpenSSL has written into a memory-BIO connection's output BIO.

    The same as looping over ``Connection.bio_read`` until WantReadError, without the
    exception.  One BIO_read() usually suffices: a memory BIO hands over everything it
    holds up to the buffer's size, so a shorter answer means it is now empty.
    """
    read, unpack = output_reader(conn)
    n = read()
    if n <= 0:
        return b""
    chunk: bytes = unpack(n)
    if n < READ_BUF_SIZE:
        return chunk
    chunks = [chunk]
    while (n := read()) > 0:
        chunks.append(unpack(n))
    return b"".join(chunks)


def input_counter(conn: SSL.Connection) -> Callable[[], int]:
    """A callable that says :func:`input_pending` of a memory-BIO connection (a C call
    with no Python frame in between: a link asks before and after every SSL call)."""
    return functools.partial(_lib.BIO_get_mem_data, conn._into_ssl, _MEM_PTR)


def input_writer(conn: SSL.Connection) -> Callable[[bytes, int], int]:
    """A callable ``(data, len(data)) -> accepted`` that appends to a memory-BIO
    connection's input BIO (BIO_write, with no Python frame in between)."""
    return functools.partial(_lib.BIO_write, conn._into_ssl)


def output_reader(conn: SSL.Connection) -> tuple[Callable[[], int], Callable[[int], bytes]]:
    """Two C-level callables for a memory-BIO connection's output BIO, with no Python
    frame in between: ``read()`` is one BIO_read() of up to :data:`READ_BUF_SIZE` bytes
    into a shared buffer (it returns the count, <= 0 for none), ``unpack(n)`` the first
    ``n`` bytes of that buffer.  A memory BIO hands over all it holds up to the size
    asked, so an answer below :data:`READ_BUF_SIZE` means the BIO is now empty."""
    read = functools.partial(_lib.BIO_read, conn._from_ssl, _READ_BUF, READ_BUF_SIZE)
    return read, functools.partial(_ffi.unpack, _READ_BUF)


def read_output(conn: SSL.Connection, limit: int) -> bytes:
    """Up to ``limit`` bytes of a memory-BIO connection's output BIO (b"": none, or the
    connection sits on a socket); ``Connection.bio_read`` without its exception."""
    bio = conn._from_ssl
    if bio is None or not _lib.BIO_get_mem_data(bio, _MEM_PTR):
        return b""
    size = min(limit, READ_BUF_SIZE)
    n = _lib.BIO_read(bio, _READ_BUF, size)
    return _ffi.buffer(_READ_BUF, n)[:] if n > 0 else b""


def input_eof(conn: SSL.Connection) -> None:
    """Make a memory-BIO connection's input report EOF once drained (``bio_shutdown``)."""
    if conn._into_ssl is not None:
        _lib.BIO_set_mem_eof_return(conn._into_ssl, 0)


def give_input(conn: SSL.Connection, data: bytes) -> None:
    """Append bytes to a memory-BIO connection's input BIO (``Connection.bio_write``)."""
    n = _lib.BIO_write(conn._into_ssl, data, len(data))
    if n != len(data):  # pragma: no cover - a memory BIO only fails when out of memory
        raise MemoryError(f"BIO_write accepted {n} of {len(data)} bytes")


#: Whether the binding can set key exchange groups (cryptography < 50 binds no
#: SSL_CTX_set1_curves_list, and pyOpenSSL < 26 has no Context.set_groups).
CAN_SET_GROUPS: bool = hasattr(_lib, "SSL_CTX_set1_curves_list")
#: Whether the binding can say if a session was resumed (cryptography < 42 binds no
#: SSL_session_reused).
CAN_TELL_REUSED: bool = hasattr(_lib, "SSL_session_reused")


def set_groups(ctx: SSL.Context, groups: list[str]) -> bool:
    """Set the key exchange groups (SSL_CTX_set1_groups_list); False if OpenSSL refused.

    Raises:
        NotImplementedError: when the binding has no such function (see CAN_SET_GROUPS).
    """
    if not CAN_SET_GROUPS:
        raise NotImplementedError("this cryptography binding has no SSL_CTX_set1_curves_list")
    ok = _lib.SSL_CTX_set1_curves_list(ctx._context, ":".join(groups).encode("ascii"))
    _lib.ERR_clear_error()
    return bool(ok == 1)


def set_ciphersuites(ctx: SSL.Context, suites: str) -> bool:
    """Set the TLS 1.3 ciphersuites (SSL_CTX_set_ciphersuites); False if OpenSSL refused.

    pyOpenSSL 23.2 has no ``Context.set_tls13_ciphersuites``; the binding has the
    function in every supported cryptography release, so it is called directly.
    """
    ok = _lib.SSL_CTX_set_ciphersuites(ctx._context, suites.encode("ascii"))
    _lib.ERR_clear_error()
    return bool(ok == 1)


def set_sigalgs(ctx: SSL.Context, sigalgs: list[str]) -> bool:
    """Set the signature algorithms (SSL_CTX_set1_sigalgs_list); False if refused."""
    ok = _lib.SSL_CTX_set1_sigalgs_list(ctx._context, ":".join(sigalgs).encode("ascii"))
    _lib.ERR_clear_error()
    return bool(ok == 1)


def set_verify_host(conn: SSL.Connection, host: str) -> None:
    """Make certificate verification check ``host`` (X509_VERIFY_PARAM_set1_host)."""
    param = _lib.SSL_get0_param(conn._ssl)
    ok = _lib.X509_VERIFY_PARAM_set1_host(param, host.encode("ascii"), 0)
    if ok != 1:  # pragma: no cover - only on allocation failure
        raise RuntimeError(f"X509_VERIFY_PARAM_set1_host({host!r}) failed")


def set_max_early_data(ctx: SSL.Context, size: int) -> None:
    """Let a server accept up to ``size`` bytes of TLS 1.3 early data (and say so in its
    tickets) with SSL_CTX_set_max_early_data."""
    ok = _lib.SSL_CTX_set_max_early_data(ctx._context, size)
    if ok != 1:  # pragma: no cover - only fails for QUIC contexts
        raise RuntimeError(f"SSL_CTX_set_max_early_data({size}) failed")


def set_post_handshake_auth(conn: SSL.Connection) -> None:
    """Let a TLS 1.3 client answer a post-handshake CertificateRequest."""
    _lib.SSL_set_post_handshake_auth(conn._ssl, 1)



def set_connection_modes(conn: SSL.Connection, set_bits: int, clear_bits: int) -> None:
    """Set and clear SSL_MODE_* bits on one connection (after pyOpenSSL's own defaults)."""
    if set_bits:
        _lib.SSL_set_mode(conn._ssl, set_bits)
    if clear_bits:
        _lib.SSL_clear_mode(conn._ssl, clear_bits)


def change_connection(conn: SSL.Connection, set_bits: int, clear_bits: int,
                      options: int) -> None:
    """On a live connection: clear SSL_MODE_* bits, then set others, then set SSL_OP_*
    bits (the order a ``set_modes``/``clear_modes``/``set_options`` step documents)."""
    if clear_bits:
        _lib.SSL_clear_mode(conn._ssl, clear_bits)
    if set_bits:
        _lib.SSL_set_mode(conn._ssl, set_bits)
    if options:
        _lib.SSL_set_options(conn._ssl, options)


def handshake_finished(conn: SSL.Connection) -> bool:
    """True once a handshake has finished: this side has sent its Finished and read the
    peer's (SSL_get_finished and SSL_get_peer_finished both have one).  pyOpenSSL's
    binding has no SSL_is_init_finished; the two Finished messages are what it means."""
    return conn.get_finished() is not None and conn.get_peer_finished() is not None


def session_reused(conn: SSL.Connection) -> bool | None:
    """SSL_session_reused(): did this handshake resume a session? None if not bound."""
    if not CAN_TELL_REUSED:
        return None
    return bool(_lib.SSL_session_reused(conn._ssl))


def renegotiate_pending(conn: SSL.Connection) -> bool:
    """SSL_renegotiate_pending(): was a renegotiation requested and not yet completed?"""
    return bool(_lib.SSL_renegotiate_pending(conn._ssl))


def group_name(conn: SSL.Connection) -> str | None:
    """The negotiated key exchange group (SSL_get0_group_name), None if unknown.

    cryptography < 46 binds no SSL_get0_group_name and pyOpenSSL < 24.3 has no
    ``Connection.get_group_name``: then the group cannot be known.
    """
    if _lib.SSL_get_current_cipher(conn._ssl) == _ffi.NULL:
        # Nothing negotiated yet.  SSL_get0_group_name then crashes OpenSSL 3.5.6
        # (cryptography 46.0.7: a segfault, found by the version matrix), so do not ask.
        return None
    getter = getattr(conn, "get_group_name", None)
    if getter is not None:
        try:
            name = getter()
        except Exception:
            return None
        return str(name) if name else None
    if hasattr(_lib, "SSL_get0_group_name"):
        raw = _lib.SSL_get0_group_name(conn._ssl)
        return _ffi.string(raw).decode("ascii") if raw != _ffi.NULL else None
    return None


def state_string(conn: SSL.Connection) -> str:
    """SSL_state_string_long() of the connection."""
    text: bytes = _ffi.string(_lib.SSL_state_string_long(conn._ssl))
    return text.decode("ascii", "replace")



# -- trace hooks ------------------------------------------------------------------------------
# OpenSSL reports what a connection does through three callbacks: the message callback
# (SSL_CTX_set_msg_callback: every handshake message, ChangeCipherSpec and alert, sent or
# received, decrypted -- so it sees TLS 1.3's EncryptedExtensions, Certificate, Finished,
# NewSessionTicket), the info callback (state changes) and the keylog callback (the secrets
# Wireshark needs).  The message and keylog callbacks exist only on the SSL_CTX, and
# pyOpenSSL 26 refuses to change a Context once a Connection used it, so
# :func:`install_trace_hooks` puts one dispatcher on each Context before its first
# Connection, and :func:`attach_trace_sinks` later points a single Connection at its own
# trace.  A Connection without sinks costs one attribute lookup per message.

#: (written, version, content_type, message bytes): one message-callback report.
MsgSink = Callable[[bool, int, int, bytes], None]
#: (where, state string): one info-callback report.
InfoSink = Callable[[int, str], None]
#: One NSS key log line (without newline).
KeylogSink = Callable[[str], None]

#: SSL_CB_* bits of the info callback's ``where``.
CB_LOOP: int = int(_lib.SSL_CB_LOOP)
CB_HANDSHAKE_START: int = int(_lib.SSL_CB_HANDSHAKE_START)
CB_HANDSHAKE_DONE: int = int(_lib.SSL_CB_HANDSHAKE_DONE)


def _connection_of(ssl: Any) -> SSL.Connection | None:
    try:
        conn: SSL.Connection = SSL.Connection._reverse_mapping[ssl]
    except (KeyError, AttributeError):
        return None
    return conn


def _msg_dispatch_py(write_p: int, version: int, content_type: int, buf: Any, length: int,
                  ssl: Any, arg: Any) -> None:
    if content_type > 255:
        # SSL3_RT_HEADER (256) and SSL3_RT_INNER_CONTENT_TYPE (257) describe records, not
        # messages; the links' own parsers report records.  Every record brings one or
        # two of these, so they are dropped before any lookup.
        return
    conn = _connection_of(ssl)
    sink = getattr(conn, "_biopair_msg_sink", None)
    if sink is not None:
        sink(bool(write_p), int(version), int(content_type), _ffi.buffer(buf, length)[:])


_msg_dispatch = _ffi.callback("void(int, int, int, void *, size_t, SSL *, void *)",
                              _msg_dispatch_py)


def _info_dispatch(conn: SSL.Connection, where: int, ret: int) -> None:
    sink = getattr(conn, "_biopair_info_sink", None)
    if sink is not None:
        sink(conn._ssl, where, ret)


def _keylog_dispatch(conn: SSL.Connection, line: bytes) -> None:
    sink = getattr(conn, "_biopair_keylog_sink", None)
    if sink is not None:
        sink(line.decode("ascii", "replace"))


def install_trace_hooks(ctx: SSL.Context) -> bool:
    """Put biopair's message and keylog dispatchers on a Context (idempotent).

    Must run before the Context's first Connection exists.

    Returns:
        True if the hooks are (now) installed; False if pyOpenSSL refused because the
        Context was already used (its connections then report no messages or secrets).
    """
    if getattr(ctx, "_biopair_trace_hooks", False):
        return True
    if getattr(ctx, "_used", False):
        return False
    # The callback is a module-level cffi object, alive as long as the module.
    _lib.SSL_CTX_set_msg_callback(ctx._context, _msg_dispatch)
    if hasattr(ctx, "set_keylog_callback"):
        ctx.set_keylog_callback(_keylog_dispatch)
    if not hasattr(_lib, "SSL_set_info_callback"):
        ctx.set_info_callback(_info_dispatch)
    setattr(ctx, "_biopair_trace_hooks", True)  # noqa: B010 - pyOpenSSL declares no such slot
    return True


def attach_trace_sinks(
    conn: SSL.Connection,
    msg: MsgSink | None,
    info: InfoSink | None,
    keylog: KeylogSink | None,
) -> None:
    """Send one Connection's message, info and keylog reports to the given sinks."""
    setattr(conn, "_biopair_msg_sink", msg)  # noqa: B010
    setattr(conn, "_biopair_keylog_sink", keylog)  # noqa: B010
    if info is not None:
        wanted = CB_HANDSHAKE_START | CB_HANDSHAKE_DONE | CB_LOOP

        def on_info(ssl: Any, where: int, ret: int) -> None:
            # OpenSSL also reports every exit from SSL_do_handshake (a bytewise run has
            # thousands); only state changes are worth a state string.
            if where & wanted:
                text: bytes = _ffi.string(_lib.SSL_state_string_long(ssl))
                info(where, text.decode("ascii", "replace"))

        if hasattr(_lib, "SSL_set_info_callback"):
            # A raw callback, not pyOpenSSL's set_info_callback: that wrapper maps the
            # SSL* back to its Connection on every call, thousands of times a bytewise run.
            callback = _ffi.callback("void(*)(SSL *, int, int)", on_info)
            _lib.SSL_set_info_callback(conn._ssl, callback)
            setattr(conn, "_biopair_info_callback", callback)  # noqa: B010 - keep it alive
        else:
            # cryptography < 42 binds only the Context-wide setter: install_trace_hooks put
            # a dispatcher there, which finds this sink on the connection.
            setattr(conn, "_biopair_info_sink", on_info)  # noqa: B010


def output_pending(conn: SSL.Connection) -> int:
    """Bytes OpenSSL wrote into a memory-BIO connection's send BIO and nobody has read
    (what a wrapper such as Twisted's has not flushed yet)."""
    return int(_lib.BIO_get_mem_data(conn._from_ssl, _MEM_PTR))
