"""Endpoint settings: what a scenario's ``[client]`` or ``[server]`` table may say.

:class:`EndpointConfig` is stack-neutral data; each stack (see
:mod:`biopair.endpoints.registry`) turns it into a live endpoint and refuses, with a
:class:`ConfigError`, what it cannot honour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Protocol versions by the names scenarios use.
VERSIONS: dict[str, int] = {
    "1.0": 0x0301,
    "1.1": 0x0302,
    "1.2": 0x0303,
    "1.3": 0x0304,
}
#: Ops each role may call, and the raw SSL function each one makes.
OPS: dict[str, str] = {
    "connect": "handshake",
    "accept": "handshake",
    "handshake": "handshake",
    "read": "read",
    "peek": "peek",
    "write": "write",
    "shutdown": "shutdown",
    "renegotiate": "renegotiate",
    "verify_client_post_handshake": "verify_client_post_handshake",
    "write_early_data": "write_early_data",
    "read_early_data": "read_early_data",
    # SSL_key_update(); a step's ``request = true|false`` reaches the endpoint as
    # ``size`` 1 (SSL_KEY_UPDATE_REQUESTED) or 0 (SSL_KEY_UPDATE_NOT_REQUESTED).
    "key_update": "key_update",
    # The application side of a wrapper endpoint (docs/wrappers.md); no SSL stack
    # declares these, and wrappers declare ``handshake`` but no SSL op.
    "send": "send",
    "recv": "recv",
    "close": "close",
    "pause_reading": "pause_reading",
    "resume_reading": "resume_reading",
    # asyncio-starttls: loop.start_tls() on the plain connection (docs/wrappers.md).
    "start_tls": "start_tls",
}
#: Ops only a wrapper endpoint (asyncio, Twisted, trio, ``python:...``) makes.
APP_OPS: tuple[str, ...] = ("send", "recv", "close", "pause_reading", "resume_reading",
                           "start_tls")
#: Ops that read application data (their result carries the bytes read).
READ_OPS: tuple[str, ...] = ("read", "peek", "read_early_data", "recv")
#: Ops that write application data (from the endpoint's write buffer).
WRITE_OPS: tuple[str, ...] = ("write", "write_early_data", "send")
#: Ops only one role may make.
ROLE_OPS: dict[str, str] = {
    "connect": "client",
    "accept": "server",
    "verify_client_post_handshake": "server",
    "write_early_data": "client",
    "read_early_data": "server",
}
#: Keys of a scenario's endpoint table (every :class:`EndpointConfig` field but ``role``
#: and ``session``, plus ``resume``); a stack's :attr:`Capabilities.settings` is a subset.
SETTINGS: tuple[str, ...] = (
    "version", "min_version", "max_version", "server_name", "verify", "verify_host",
    "trust", "cert", "cert_host", "cert_issuer", "cert_validity", "cert_padding",
    "verify_client", "alpn", "groups", "sigalgs", "ciphers", "ciphersuites", "options",
    "modes", "clear_modes", "post_handshake_auth", "resume", "max_early_data", "stack",
    "quiet_shutdown", "max_send_fragment",
)
#: Keys a ``[result]`` check may name; a stack's :attr:`Capabilities.results` is a subset.
RESULTS: tuple[str, ...] = (
    "version", "cipher", "alpn", "group", "server_name", "peer_certificate",
    "session_reused", "shutdown", "received", "state", "renegotiate_pending",
    "early_data_status", *("pending", "has_pending", "in_init", "session_resumable"),
    "keys_match",
)
#: State queries a ``check`` step (and ``[result]``) may name besides the settled values:
#: SSL_pending(), SSL_has_pending(), SSL_in_init(), SSL_SESSION_is_resumable().
STATE_QUERIES: tuple[str, ...] = ("pending", "has_pending", "in_init", "session_resumable")
#: ``[result] keys_match``: both ends export the same RFC 5705 keying material (label
#: :data:`EXPORTER_LABEL`, :data:`EXPORTER_LENGTH` bytes, no context).  The material is
#: compared, never reported.
EXPORTER_LABEL = b"EXPORTER-biopair"
EXPORTER_LENGTH = 32
#: Ops, settings and results only a stack with OpenSSL's whole C API can drive (libssl);
#: pyOpenSSL's binding has no SSL_key_update, SSL_set_quiet_shutdown,
#: SSL_set_max_send_fragment, SSL_get_early_data_status, SSL_has_pending, SSL_in_init or
#: SSL_SESSION_is_resumable.
C_API_OPS: tuple[str, ...] = ("key_update",)
C_API_SETTINGS: tuple[str, ...] = ("quiet_shutdown", "max_send_fragment")
C_API_RESULTS: tuple[str, ...] = ("early_data_status", "has_pending", "in_init",
                                   "session_resumable")
#: SSL_set_max_send_fragment()'s range (ssl.h: SSL3_RT_MAX_PLAIN_LENGTH and 512).
MAX_SEND_FRAGMENT = (512, 16384)
#: SSL_get_early_data_status() values, as ``[result]`` names them.
EARLY_DATA_STATUSES: tuple[str, ...] = ("not_sent", "rejected", "accepted")
VERIFY_CLIENT = ("none", "optional", "required", "post-handshake")
DEFAULT_READ_SIZE = 16384


class ConfigError(ValueError):
    """An endpoint setting OpenSSL cannot honour.

    Attributes:
        key: the setting's key path (``client.ciphers``).
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True)
class EndpointConfig:
    """Settings of one endpoint; every field maps to a key of a scenario's endpoint table.

    The defaults give a TLS 1.2-1.3 client that verifies ``server.test`` against the test
    CA, and a server with an Ed25519 certificate for ``server.test``.
    """

    role: str = "client"
    #: pins min and max version ("1.2", "1.3"); overrides min_version/max_version.
    version: str | None = None
    min_version: str | None = None
    max_version: str | None = None
    #: client: SNI sent and the host name verified; server: unused.
    server_name: str | None = "server.test"
    #: client: verify the server's chain against ``trust``.
    verify: bool = True
    #: host name the client checks in the certificate (default: server_name).
    verify_host: str | None = None
    #: CA the endpoint trusts: "ca", "other-ca" or "none".
    trust: str = "ca"
    #: certificate key type, or "none" (client default "none", server "ed25519").
    cert: str | None = None
    cert_host: str | None = None
    cert_issuer: str = "ca"
    cert_validity: str = "valid"
    cert_padding: int = 0
    #: server: "none", "optional", "required" or "post-handshake".
    verify_client: str = "none"
    alpn: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    sigalgs: tuple[str, ...] = ()
    ciphers: str | None = None
    ciphersuites: str | None = None
    options: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    clear_modes: tuple[str, ...] = ()
    #: client: send the post_handshake_auth extension (TLS 1.3).
    post_handshake_auth: bool = False
    #: server: TLS 1.3 early data it accepts (SSL_CTX_set_max_early_data); 0 = none.
    max_early_data: int = 0
    #: libssl: SSL_set_quiet_shutdown(1) (SSL_shutdown sends no close_notify).
    quiet_shutdown: bool = False
    #: libssl: SSL_set_max_send_fragment() (512..16384; None: OpenSSL's 16384).
    max_send_fragment: int | None = None
    #: the TLS stack: "pyopenssl", "stdlib" (Python's ssl module), or an external
    #: program, "openssl-cli" or "gnutls-cli" (see biopair.stacks).
    stack: str = "pyopenssl"
    #: a session (from :meth:`Endpoint.session`) to offer for resumption.
    session: Any = field(default=None, compare=False)
    #: set by the engine's builder on ``link = "bio-pair"``: the size of each half of the
    #: BIO pair a libssl endpoint sits on (None: memory BIOs).  Not a scenario key.
    bio_pair_size: int | None = None
    #: set by the engine's builder from ``[schedule] send_cap``: the most output bytes a
    #: callback-I/O endpoint (wolfSSL, tlslite-ng) holds in memory until the link takes
    #: them (None: unbounded).  Not a scenario key.
    send_cap: int | None = None

    @property
    def certificate(self) -> str:
        """The certificate key type in effect: ``cert``, or the role's default (a server
        presents an Ed25519 certificate, a client none)."""
        if self.cert is not None:
            return self.cert
        return "ed25519" if self.role == "server" else "none"

    @property
    def certificate_host(self) -> str:
        """The host name the certificate is issued to (default ``<role>.test``)."""
        return self.cert_host or f"{self.role}.test"


def pattern_bytes(size: int) -> bytes:
    """``size`` bytes of deterministic, readable application data."""
    alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789"
    return (alphabet * (size // len(alphabet) + 1))[:size]
