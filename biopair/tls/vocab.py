"""The wire's vocabulary: TLS content types, handshake message types and alerts, one enum each.

Every module that names something on the wire takes the name from here, so a trace, a
hold condition and a fault's message always spell it the same way.  Members of
:class:`ContentType`, :class:`AlertLevel` and :class:`AlertDescription` carry the RFCs'
own names; :class:`HandshakeType` members carry the CamelCase names OpenSSL, Wireshark and
biopair's traces print (``ClientHello`` for the RFC's ``client_hello``).  A value no enum
knows is named by the helpers below as ``type(N)``, ``handshake(N)``, ``level(N)`` or
``alert(N)``.

A HelloRetryRequest is not a message type of its own: it is a ServerHello whose random is
:data:`HRR_RANDOM` (RFC 8446 4.1.3); :func:`message_name` tells the two apart.
"""

from __future__ import annotations

import enum

#: Bytes in a record header: content type, 2-byte legacy version, 2-byte length.
HEADER_LEN = 5
#: Bytes in a handshake message header: type and 3-byte length.
MESSAGE_HEADER_LEN = 4
#: ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
#: The name a HelloRetryRequest goes by in traces and hold conditions.
HELLO_RETRY_REQUEST = "HelloRetryRequest"
#: The name a change_cipher_spec record's message goes by in traces.
CHANGE_CIPHER_SPEC = "ChangeCipherSpec"
#: ExtensionType supported_versions (RFC 8446 4.2.1).
SUPPORTED_VERSIONS = 43
#: ProtocolVersion of TLS 1.3 in supported_versions.
TLS13 = 0x0304


class ContentType(enum.IntEnum):
    """TLS record content types (RFC 8446 5.1, RFC 6520)."""

    #: Signals that the records after it are protected (TLS 1.2); in TLS 1.3 only a
    #: middlebox-compatibility dummy that changes nothing (RFC 8446 D.4).
    change_cipher_spec = 20
    #: A two-byte alert (level, description); encrypted after the keys change.
    alert = 21
    #: Handshake messages, possibly several per record or one spread over several.
    handshake = 22
    #: Protected data: application data, and in TLS 1.3 every encrypted record.
    application_data = 23
    #: Heartbeat request/response (RFC 6520).
    heartbeat = 24


class HandshakeType(enum.IntEnum):
    """Handshake message types (RFC 8446 4, RFC 5246 7.4, RFC 6066, RFC 8879).

    Member names are the ones traces print; the RFC's snake_case name is in each comment.
    """

    #: hello_request (TLS 1.2): the server asks for a renegotiation.
    HelloRequest = 0
    #: client_hello: the client's offer; travels in the clear.
    ClientHello = 1
    #: server_hello: the server's choice (or a HelloRetryRequest); in the clear.
    ServerHello = 2
    #: hello_verify_request (DTLS 1.2).
    HelloVerifyRequest = 3
    #: new_session_ticket: a resumption ticket.
    NewSessionTicket = 4
    #: end_of_early_data (TLS 1.3): the client's 0-RTT data is over.
    EndOfEarlyData = 5
    #: encrypted_extensions (TLS 1.3): the server's extensions that need no clear text.
    EncryptedExtensions = 8
    #: certificate: a certificate chain.
    Certificate = 11
    #: server_key_exchange (TLS 1.2): the server's (EC)DHE share.
    ServerKeyExchange = 12
    #: certificate_request: the server asks for a client certificate.
    CertificateRequest = 13
    #: server_hello_done (TLS 1.2): the end of the server's first flight.
    ServerHelloDone = 14
    #: certificate_verify: a signature over the transcript.
    CertificateVerify = 15
    #: client_key_exchange (TLS 1.2): the client's key share or encrypted premaster.
    ClientKeyExchange = 16
    #: finished: the MAC over the transcript that ends a handshake.
    Finished = 20
    #: certificate_status (RFC 6066): a stapled OCSP response.
    CertificateStatus = 22
    #: key_update (TLS 1.3): new traffic keys.
    KeyUpdate = 24
    #: compressed_certificate (RFC 8879).
    CompressedCertificate = 25
    #: message_hash (TLS 1.3): stands in the transcript for the first ClientHello after
    #: a HelloRetryRequest; never sent.
    message_hash = 254


class AlertLevel(enum.IntEnum):
    """Alert levels (RFC 5246 7.2; RFC 8446 6 keeps the field, every alert is fatal but
    close_notify and user_canceled)."""

    #: The connection may go on (close_notify is sent as a warning).
    warning = 1
    #: The connection ends.
    fatal = 2


class AlertDescription(enum.IntEnum):
    """Alert descriptions (RFC 8446 6, RFC 5246 7.2, RFC 7301, RFC 8446 obsolete codes)."""

    #: The sender will send no more data.
    close_notify = 0
    #: A message arrived that the state machine does not allow.
    unexpected_message = 10
    #: A record failed its integrity check.
    bad_record_mac = 20
    #: Obsolete (TLS 1.0).
    decryption_failed = 21
    #: A record was longer than allowed.
    record_overflow = 22
    #: Obsolete: compression failed.
    decompression_failure = 30
    #: No acceptable set of parameters.
    handshake_failure = 40
    #: Obsolete (SSL 3.0).
    no_certificate = 41
    #: A certificate was corrupt or failed its signature check.
    bad_certificate = 42
    #: A certificate of a type the receiver does not support.
    unsupported_certificate = 43
    #: A certificate was revoked by its signer.
    certificate_revoked = 44
    #: A certificate has expired or is not yet valid.
    certificate_expired = 45
    #: Some other certificate problem.
    certificate_unknown = 46
    #: A field was out of range or inconsistent.
    illegal_parameter = 47
    #: The chain does not lead to a trusted CA.
    unknown_ca = 48
    #: A valid certificate, but access is refused.
    access_denied = 49
    #: A message could not be decoded.
    decode_error = 50
    #: A handshake cryptographic operation failed.
    decrypt_error = 51
    #: Obsolete: export restrictions.
    export_restriction = 60
    #: The peer's protocol version is not supported.
    protocol_version = 70
    #: The parameters are too weak.
    insufficient_security = 71
    #: An error of the sender's own, unrelated to the peer.
    internal_error = 80
    #: A fallback that the server detected as an attack (RFC 7507).
    inappropriate_fallback = 86
    #: The handshake is being cancelled for a reason unrelated to a protocol failure.
    user_canceled = 90
    #: Renegotiation refused (TLS 1.2).
    no_renegotiation = 100
    #: A required extension is missing.
    missing_extension = 109
    #: An extension the receiver did not offer arrived.
    unsupported_extension = 110
    #: Obsolete (RFC 6066): a certificate URL could not be fetched.
    certificate_unobtainable = 111
    #: The server name (SNI) is not known.
    unrecognized_name = 112
    #: A bad OCSP response was stapled.
    bad_certificate_status_response = 113
    #: Obsolete (RFC 6066).
    bad_certificate_hash_value = 114
    #: No known PSK identity was offered.
    unknown_psk_identity = 115
    #: A client certificate is required and none was sent.
    certificate_required = 116
    #: No ALPN protocol in common (RFC 7301).
    no_application_protocol = 120


# Lookup tables from value to name: the helpers run once per record or message, and a
# dict lookup is cheaper than an IntEnum construction with its ValueError for unknowns.
_TYPES = {m.value: m.name for m in ContentType}
_HANDSHAKES = {m.value: m.name for m in HandshakeType}
_LEVELS = {m.value: m.name for m in AlertLevel}
_ALERTS = {m.value: m.name for m in AlertDescription}


def type_name(value: int) -> str:
    """The content type's name (``handshake``), or ``type(N)`` for an unknown value."""
    return _TYPES.get(value) or f"type({value})"


def handshake_name(value: int) -> str:
    """The handshake type's name (``ClientHello``), or ``handshake(N)``."""
    return _HANDSHAKES.get(value) or f"handshake({value})"


def level_name(value: int) -> str:
    """The alert level's name (``fatal``), or ``level(N)``."""
    return _LEVELS.get(value) or f"level({value})"


def alert_name(value: int) -> str:
    """The alert description's name (``handshake_failure``), or ``alert(N)``."""
    return _ALERTS.get(value) or f"alert({value})"


def alert_text(level: int, description: int) -> tuple[str, str]:
    """(level name, description name) of an alert."""
    return level_name(level), alert_name(description)


def is_hello_retry(message: bytes | bytearray | memoryview) -> bool:
    """Is this whole handshake message (header included) a HelloRetryRequest?"""
    # type(1) length(3) legacy_version(2) random(32)
    return bool(message[0] == HandshakeType.ServerHello and message[6:38] == HRR_RANDOM)


def message_name(message: bytes | bytearray | memoryview) -> str:
    """The name of a whole handshake message (header included): its type's name, or
    ``HelloRetryRequest`` for a ServerHello with :data:`HRR_RANDOM`."""
    if is_hello_retry(message):
        return HELLO_RETRY_REQUEST
    return handshake_name(message[0])


#: Every name a handshake message can be given by :func:`message_name`, in type order.
MESSAGE_NAMES: tuple[str, ...] = (*_HANDSHAKES.values(), HELLO_RETRY_REQUEST)
#: Record names a ``sends`` list may use: each content type's name, and ``not-tls`` (the
#: parser's report of bytes that are not TLS).
RECORD_NAMES: tuple[str, ...] = (*_TYPES.values(), "not-tls")
#: Every name a ``sends`` list may use: record names, handshake message names, and
#: ``alert:DESCRIPTION`` for each alert description.
WIRE_NAMES: frozenset[str] = frozenset(
    (*RECORD_NAMES, *MESSAGE_NAMES, *(f"alert:{name}" for name in _ALERTS.values())))
