"""The system's OpenSSL 3 (``libssl.so.3``, ``libcrypto.so.3``) through cffi in ABI mode.

The declarations below are written by hand from OpenSSL 3.0's headers (``ssl.h``,
``bio.h``, ``err.h``, ``pem.h``, ``x509.h``) and ``dlopen``-ed: no compiler, no headers.
Macros of the C API (``SSL_CTX_set_min_proto_version``, ``BIO_pending``,
``SSL_set_max_send_fragment``, ...) are their ``SSL_ctrl``/``BIO_ctrl`` calls with the
numbers from those headers; they are fixed in OpenSSL's ABI for the whole 3.x series.

Nothing here knows about endpoints or scenarios: :func:`lib` loads the libraries once
(:class:`Missing` says why they could not be), :func:`drain_errors` empties the error
queue, and :func:`version` names the loaded library.  Only
:mod:`biopair.endpoints.libssl` calls it.
"""

from __future__ import annotations

import functools
from typing import Any

import cffi

#: The shared objects loaded, in order (libssl needs libcrypto's symbols).
LIBCRYPTO = "libcrypto.so.3"
LIBSSL = "libssl.so.3"
#: What to install where they are missing.
PACKAGE = "Debian: apt-get install libssl3"

_CDEF = """
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
typedef struct ssl_cipher_st SSL_CIPHER;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;
typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;
typedef struct x509_store_st X509_STORE;
typedef struct evp_pkey_st EVP_PKEY;

/* libcrypto */
const char *OpenSSL_version(int type);
unsigned long ERR_get_error(void);
unsigned long ERR_peek_error(void);
void ERR_clear_error(void);
void ERR_error_string_n(unsigned long e, char *buf, size_t len);
const char *ERR_reason_error_string(unsigned long e);
const BIO_METHOD *BIO_s_mem(void);
BIO *BIO_new(const BIO_METHOD *type);
BIO *BIO_new_mem_buf(const void *buf, int len);
int BIO_free(BIO *a);
int BIO_read(BIO *b, void *data, int dlen);
int BIO_write(BIO *b, const void *data, int dlen);
long BIO_ctrl(BIO *bp, int cmd, long larg, void *parg);
size_t BIO_ctrl_pending(BIO *b);
size_t BIO_ctrl_get_write_guarantee(BIO *b);
int BIO_new_bio_pair(BIO **bio1, size_t writebuf1, BIO **bio2, size_t writebuf2);
X509 *PEM_read_bio_X509(BIO *bp, X509 **x, void *cb, void *u);
EVP_PKEY *PEM_read_bio_PrivateKey(BIO *bp, EVP_PKEY **x, void *cb, void *u);
void X509_free(X509 *a);
void EVP_PKEY_free(EVP_PKEY *pkey);
int X509_STORE_add_cert(X509_STORE *xs, X509 *x);
X509_NAME *X509_get_subject_name(const X509 *x);
int X509_NAME_get_text_by_NID(X509_NAME *name, int nid, char *buf, int len);

/* libssl */
const SSL_METHOD *TLS_method(void);
SSL_CTX *SSL_CTX_new(const SSL_METHOD *meth);
void SSL_CTX_free(SSL_CTX *ctx);
long SSL_CTX_ctrl(SSL_CTX *ctx, int cmd, long larg, void *parg);
int SSL_CTX_use_certificate(SSL_CTX *ctx, X509 *x);
int SSL_CTX_use_PrivateKey(SSL_CTX *ctx, EVP_PKEY *pkey);
X509_STORE *SSL_CTX_get_cert_store(const SSL_CTX *ctx);
int SSL_CTX_add_client_CA(SSL_CTX *ctx, X509 *x);
void SSL_CTX_set_verify(SSL_CTX *ctx, int mode, void *callback);
int SSL_CTX_set_session_id_context(SSL_CTX *ctx, const unsigned char *sid_ctx,
                                   unsigned int sid_ctx_len);
int SSL_CTX_set_alpn_protos(SSL_CTX *ctx, const unsigned char *protos,
                            unsigned int protos_len);
void SSL_CTX_set_alpn_select_cb(SSL_CTX *ctx,
    int (*cb)(SSL *, const unsigned char **, unsigned char *, const unsigned char *,
              unsigned int, void *),
    void *arg);
int SSL_CTX_set_cipher_list(SSL_CTX *ctx, const char *str);
int SSL_CTX_set_ciphersuites(SSL_CTX *ctx, const char *str);
uint64_t SSL_CTX_set_options(SSL_CTX *ctx, uint64_t op);
int SSL_CTX_set_max_early_data(SSL_CTX *ctx, uint32_t max_early_data);

SSL *SSL_new(SSL_CTX *ctx);
void SSL_free(SSL *ssl);
long SSL_ctrl(SSL *ssl, int cmd, long larg, void *parg);
void SSL_set_connect_state(SSL *s);
void SSL_set_accept_state(SSL *s);
void SSL_set_bio(SSL *s, BIO *rbio, BIO *wbio);
int SSL_set1_host(SSL *s, const char *hostname);
void SSL_set_post_handshake_auth(SSL *s, int val);
void SSL_set_quiet_shutdown(SSL *ssl, int mode);
int SSL_get_quiet_shutdown(const SSL *ssl);

int SSL_do_handshake(SSL *s);
int SSL_read(SSL *ssl, void *buf, int num);
int SSL_peek(SSL *ssl, void *buf, int num);
int SSL_write(SSL *ssl, const void *buf, int num);
int SSL_shutdown(SSL *s);
int SSL_renegotiate(SSL *s);
int SSL_renegotiate_pending(const SSL *s);
int SSL_verify_client_post_handshake(SSL *s);
int SSL_key_update(SSL *s, int updatetype);
int SSL_get_key_update_type(const SSL *s);
int SSL_write_early_data(SSL *s, const void *buf, size_t num, size_t *written);
int SSL_read_early_data(SSL *s, void *buf, size_t num, size_t *readbytes);
int SSL_get_early_data_status(const SSL *s);
int SSL_get_error(const SSL *s, int ret_code);

const char *SSL_get_version(const SSL *s);
const SSL_CIPHER *SSL_get_current_cipher(const SSL *s);
const char *SSL_CIPHER_get_name(const SSL_CIPHER *c);
void SSL_get0_alpn_selected(const SSL *ssl, const unsigned char **data, unsigned int *len);
const char *SSL_get_servername(const SSL *s, const int type);
X509 *SSL_get1_peer_certificate(const SSL *s);
int SSL_session_reused(const SSL *s);
int SSL_get_shutdown(const SSL *ssl);
const char *SSL_state_string_long(const SSL *s);

int SSL_pending(const SSL *s);
int SSL_has_pending(const SSL *s);
int SSL_in_init(const SSL *s);
size_t SSL_get_finished(const SSL *s, void *buf, size_t count);
size_t SSL_get_peer_finished(const SSL *s, void *buf, size_t count);
typedef struct ssl_session_st SSL_SESSION;
SSL_SESSION *SSL_get_session(const SSL *ssl);
int SSL_SESSION_is_resumable(const SSL_SESSION *s);
int SSL_export_keying_material(SSL *s, unsigned char *out, size_t olen,
                               const char *label, size_t llen,
                               const unsigned char *context, size_t contextlen,
                               int use_context);
uint64_t SSL_set_options(SSL *s, uint64_t op);
"""

# -- numbers from the headers (macros have no symbol to dlopen) ----------------------------
OPENSSL_VERSION = 0
SSL_CTRL_EXTRA_CHAIN_CERT = 14
SSL_CTRL_MODE = 33
SSL_CTRL_SET_MAX_SEND_FRAGMENT = 52
SSL_CTRL_SET_TLSEXT_HOSTNAME = 55
SSL_CTRL_CLEAR_MODE = 78
SSL_CTRL_SET_GROUPS_LIST = 92
SSL_CTRL_SET_SIGALGS_LIST = 98
SSL_CTRL_SET_MIN_PROTO_VERSION = 123
SSL_CTRL_SET_MAX_PROTO_VERSION = 124
TLSEXT_NAMETYPE_HOST_NAME = 0
SSL_VERIFY_NONE = 0
SSL_VERIFY_PEER = 1
SSL_VERIFY_FAIL_IF_NO_PEER_CERT = 2
SSL_VERIFY_POST_HANDSHAKE = 8
SSL_SENT_SHUTDOWN = 1
SSL_RECEIVED_SHUTDOWN = 2
SSL_TLSEXT_ERR_OK = 0
SSL_TLSEXT_ERR_NOACK = 3
SSL_KEY_UPDATE_NOT_REQUESTED = 0
SSL_KEY_UPDATE_REQUESTED = 1
NID_COMMON_NAME = 13
BIO_CTRL_PENDING = 10
BIO_C_SET_BUF_MEM_EOF_RETURN = 130
BIO_C_SHUTDOWN_WR = 142
#: ERR_GET_REASON() of OpenSSL 3: the low 23 bits.
ERR_REASON_MASK = 0x7FFFFF
#: SSL_R_UNEXPECTED_EOF_WHILE_READING (ssl/sslerr.h).
SSL_R_UNEXPECTED_EOF_WHILE_READING = 294

#: SSL_get_error() codes by name (ssl.h), for the names biopair's vocabulary uses.
SSL_ERROR_CODES: dict[str, int] = {
    "NONE": 0, "SSL": 1, "WANT_READ": 2, "WANT_WRITE": 3, "WANT_X509_LOOKUP": 4,
    "SYSCALL": 5, "ZERO_RETURN": 6, "WANT_CONNECT": 7, "WANT_ACCEPT": 8, "WANT_ASYNC": 9,
    "WANT_ASYNC_JOB": 10, "WANT_CLIENT_HELLO_CB": 11, "WANT_RETRY_VERIFY": 12,
}
#: SSL_get_early_data_status() values by name, as ``[result]`` spells them.
EARLY_DATA_STATUS: dict[int, str] = {0: "not_sent", 1: "rejected", 2: "accepted"}

ffi = cffi.FFI()
ffi.cdef(_CDEF)


class Missing(RuntimeError):
    """The system's libssl 3 could not be loaded; the message says what to install."""


class _Libs:
    # libssl's symbols, with libcrypto's looked up where libssl has none.
    def __init__(self, crypto: Any, ssl: Any) -> None:
        self._crypto = crypto
        self._ssl = ssl

    def __getattr__(self, name: str) -> Any:
        try:
            value = getattr(self._ssl, name)
        except AttributeError:
            value = getattr(self._crypto, name)
        setattr(self, name, value)  # looked up once
        return value


@functools.cache
def _load() -> _Libs | str:
    try:
        crypto = ffi.dlopen(LIBCRYPTO)
        ssl = ffi.dlopen(LIBSSL)
    except OSError as exc:
        return f"{LIBSSL} cannot be loaded ({exc}); {PACKAGE}"
    libs = _Libs(crypto, ssl)
    try:
        text = ffi.string(libs.OpenSSL_version(OPENSSL_VERSION)).decode("ascii", "replace")
    except AttributeError as exc:  # pragma: no cover - not an OpenSSL 3 libssl
        return f"{LIBSSL} is not OpenSSL 3 ({exc}); {PACKAGE}"
    if not text.startswith("OpenSSL 3."):
        return f"{LIBSSL} is {text!r}, not OpenSSL 3; {PACKAGE}"
    return libs


def missing() -> str | None:
    """Why libssl 3 cannot be used here (naming the package), or None when it loads."""
    loaded = _load()
    return loaded if isinstance(loaded, str) else None


def lib() -> Any:
    """The loaded libraries (libssl, then libcrypto, by attribute).

    Raises:
        Missing: when ``libssl.so.3`` or ``libcrypto.so.3`` cannot be loaded.
    """
    loaded = _load()
    if isinstance(loaded, str):
        raise Missing(loaded)
    return loaded


def version() -> str | None:
    """OpenSSL_version(OPENSSL_VERSION) of the loaded library (None: not loadable)."""
    loaded = _load()
    if isinstance(loaded, str):
        return None
    return str(ffi.string(loaded.OpenSSL_version(OPENSSL_VERSION)).decode("ascii", "replace"))


def drain_errors(libs: Any) -> tuple[tuple[int, str], ...]:
    """Empty the thread's error queue, oldest first: ``(reason code, reason string)``.

    The string is ERR_reason_error_string() (``"unexpected eof while reading"``, what
    pyOpenSSL reports too); for a code it has no text for, ERR_error_string_n()'s whole
    line (``"error:80000002:system library::No such file or directory"``).
    """
    queue: list[tuple[int, str]] = []
    while True:
        code = libs.ERR_get_error()
        if code == 0:
            return tuple(queue)
        reason = libs.ERR_reason_error_string(code)
        if reason != ffi.NULL:
            text = ffi.string(reason).decode("ascii", "replace")
        else:
            buf = ffi.new("char[]", 256)
            libs.ERR_error_string_n(code, buf, 256)
            text = ffi.string(buf).decode("ascii", "replace")
        queue.append((int(code) & ERR_REASON_MASK, text))


def c_string(ptr: Any) -> str | None:
    """A NUL-terminated C string as text (None for NULL)."""
    if ptr == ffi.NULL:
        return None
    return str(ffi.string(ptr).decode("ascii", "backslashreplace"))
