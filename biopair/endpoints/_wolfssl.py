"""The raw wolfSSL binding: Debian's libwolfssl through cffi in ABI mode.

Nothing is compiled: :func:`load` ``dlopen``s ``libwolfssl.so`` and the declarations
below are written by hand from wolfSSL 5.5's ``<wolfssl/ssl.h>`` and ``<wolfssl/wolfio.h>``
(only the functions biopair calls; every one of them is in the library's public ABI).
The constants are copied from the same headers (this build defines
``WOLFSSL_ERROR_CODE_OPENSSL``, so wolfSSL_shutdown() returns 0, not 2, while it waits for
the peer's close_notify).

Every other module reaches wolfSSL through :mod:`biopair.endpoints.wolfssl`; nothing else
imports this one.
"""

from __future__ import annotations

import ctypes.util
import functools
from typing import Any

from cffi import FFI

#: What to install when the library is missing.
PACKAGE = "Debian: apt-get install libwolfssl-dev"

_CDEF = """
typedef struct WOLFSSL WOLFSSL;
typedef struct WOLFSSL_CTX WOLFSSL_CTX;
typedef struct WOLFSSL_METHOD WOLFSSL_METHOD;
typedef struct WOLFSSL_X509 WOLFSSL_X509;
typedef struct WOLFSSL_X509_STORE_CTX WOLFSSL_X509_STORE_CTX;
typedef int (*CallbackIORecv)(WOLFSSL *ssl, char *buf, int sz, void *ctx);
typedef int (*CallbackIOSend)(WOLFSSL *ssl, char *buf, int sz, void *ctx);
typedef int (*VerifyCallback)(int, WOLFSSL_X509_STORE_CTX*);

int wolfSSL_Init(void);
const char* wolfSSL_lib_version(void);
WOLFSSL_METHOD* wolfTLS_client_method(void);
WOLFSSL_METHOD* wolfTLS_server_method(void);
WOLFSSL_METHOD* wolfTLSv1_2_client_method(void);
WOLFSSL_METHOD* wolfTLSv1_2_server_method(void);
WOLFSSL_METHOD* wolfTLSv1_3_client_method(void);
WOLFSSL_METHOD* wolfTLSv1_3_server_method(void);

WOLFSSL_CTX* wolfSSL_CTX_new(WOLFSSL_METHOD*);
void wolfSSL_CTX_free(WOLFSSL_CTX*);
int wolfSSL_CTX_use_certificate_buffer(WOLFSSL_CTX*, const unsigned char*, long, int);
int wolfSSL_CTX_use_PrivateKey_buffer(WOLFSSL_CTX*, const unsigned char*, long, int);
int wolfSSL_CTX_use_certificate_chain_buffer_format(WOLFSSL_CTX*, const unsigned char*,
                                                    long, int);
int wolfSSL_CTX_load_verify_buffer(WOLFSSL_CTX*, const unsigned char*, long, int);
void wolfSSL_CTX_set_verify(WOLFSSL_CTX*, int, VerifyCallback);
int wolfSSL_CTX_set_cipher_list(WOLFSSL_CTX*, const char*);
void wolfSSL_CTX_SetIORecv(WOLFSSL_CTX*, CallbackIORecv);
void wolfSSL_CTX_SetIOSend(WOLFSSL_CTX*, CallbackIOSend);

WOLFSSL* wolfSSL_new(WOLFSSL_CTX*);
void wolfSSL_free(WOLFSSL*);
void wolfSSL_SetIOReadCtx(WOLFSSL*, void*);
void wolfSSL_SetIOWriteCtx(WOLFSSL*, void*);
int wolfSSL_UseSNI(WOLFSSL*, unsigned char, const void*, unsigned short);
int wolfSSL_check_domain_name(WOLFSSL*, const char*);
int wolfSSL_UseALPN(WOLFSSL*, char*, unsigned int, unsigned char);
int wolfSSL_ALPN_GetProtocol(WOLFSSL*, char**, unsigned short*);
unsigned short wolfSSL_SNI_GetRequest(WOLFSSL*, unsigned char, void**);

int wolfSSL_connect(WOLFSSL*);
int wolfSSL_accept(WOLFSSL*);
int wolfSSL_read(WOLFSSL*, void*, int);
int wolfSSL_peek(WOLFSSL*, void*, int);
int wolfSSL_write(WOLFSSL*, const void*, int);
int wolfSSL_shutdown(WOLFSSL*);
int wolfSSL_get_error(WOLFSSL*, int);
char* wolfSSL_ERR_error_string(unsigned long, char*);

const char* wolfSSL_get_version(const WOLFSSL*);
const char* wolfSSL_get_cipher_name(WOLFSSL*);
const char* wolfSSL_get_curve_name(WOLFSSL*);
WOLFSSL_X509* wolfSSL_get_peer_certificate(WOLFSSL*);
char* wolfSSL_X509_get_subjectCN(WOLFSSL_X509*);
void wolfSSL_X509_free(WOLFSSL_X509*);
int wolfSSL_session_reused(WOLFSSL*);
int wolfSSL_get_shutdown(const WOLFSSL*);
const char* wolfSSL_state_string_long(const WOLFSSL*);
"""

# <wolfssl/ssl.h> and <wolfssl/wolfio.h>, wolfSSL 5.5.
FILETYPE_ASN1 = 2
VERIFY_NONE = 0
VERIFY_PEER = 1
VERIFY_FAIL_IF_NO_PEER_CERT = 2
SNI_HOST_NAME = 0
ALPN_FAILED_ON_MISMATCH = 4
SUCCESS = 1
SENT_SHUTDOWN = 1
RECEIVED_SHUTDOWN = 2
#: What an I/O callback returns for "would block" (WOLFSSL_CBIO_ERR_WANT_READ and
#: WOLFSSL_CBIO_ERR_WANT_WRITE are both -2).
CBIO_WOULD_BLOCK = -2
#: What a receive callback returns at the end of its input (WOLFSSL_CBIO_ERR_CONN_CLOSE).
CBIO_CONN_CLOSE = -5
#: wolfSSL_get_error() codes that have an OpenSSL name; any other code is wolfSSL's own
#: (negative: ``-313`` "received alert fatal error", ...), reported as SSL.
ERROR_NAMES: dict[int, str] = {
    0: "NONE",
    2: "WANT_READ",
    3: "WANT_WRITE",
    5: "SYSCALL",
    6: "ZERO_RETURN",
    85: "SSL",
}

ffi = FFI()
ffi.cdef(_CDEF)


class Unavailable(RuntimeError):
    """libwolfssl is not installed (the message names the package)."""


@functools.cache
def load() -> Any:
    """The library, initialised once.

    Raises:
        Unavailable: when ``libwolfssl.so`` cannot be loaded.
    """
    names = [n for n in (ctypes.util.find_library("wolfssl"), "libwolfssl.so",
                         "libwolfssl.so.35") if n]
    for name in names:
        try:
            lib = ffi.dlopen(name)
        except OSError:
            continue
        lib.wolfSSL_Init()
        return lib
    raise Unavailable(f"libwolfssl is not installed ({PACKAGE})")


def available() -> bool:
    """True when libwolfssl can be loaded."""
    try:
        load()
    except Unavailable:
        return False
    return True


def version() -> str | None:
    """wolfSSL_lib_version() (``"5.5.4"``), or None when the library is missing."""
    try:
        lib = load()
    except Unavailable:
        return None
    return str(ffi.string(lib.wolfSSL_lib_version()).decode("ascii"))


def error_string(code: int) -> str:
    """wolfSSL_ERR_error_string() for a wolfSSL_get_error() code."""
    buf = ffi.new("char[]", 80)
    return str(ffi.string(load().wolfSSL_ERR_error_string(code & 0xFFFFFFFFFFFFFFFF, buf))
               .decode("ascii", "replace"))


def text(ptr: Any) -> str | None:
    """A C string as str (None for NULL)."""
    if ptr == ffi.NULL:
        return None
    return str(ffi.string(ptr).decode("utf-8", "backslashreplace"))
