"""Reading the wire: TLS records and plaintext handshake messages in the bytes on a link.

Each link has a :class:`RecordParser` that is fed the bytes its sender wrote, in order, as
they are pulled.  A record's 5-byte header gives its content type and length; a record may
arrive over several pulls, so the parser keeps its state between feeds.  Where a record is
plaintext (TLS 1.2 before ChangeCipherSpec, every TLS 1.3 record of content type
handshake), the handshake messages inside are named; a handshake message may span
records, so that stream is reassembled too.  Whether TLS 1.3 was chosen is read from the
ServerHello's supported_versions extension and shared by both directions
(:class:`WireState`): after a TLS 1.3 HelloRetryRequest the client sends ChangeCipherSpec
and then a *plaintext* second ClientHello.

Only lengths and type names are kept: nothing random (key shares, nonces, ciphertext)
reaches a trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: TLS ContentType names (RFC 8446 5.1).
CONTENT_TYPES: dict[int, str] = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
}
#: HandshakeType names (RFC 8446 4, RFC 5246 7.4, RFC 8879).
HANDSHAKE_TYPES: dict[int, str] = {
    0: "HelloRequest",
    1: "ClientHello",
    2: "ServerHello",
    3: "HelloVerifyRequest",
    4: "NewSessionTicket",
    5: "EndOfEarlyData",
    8: "EncryptedExtensions",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
    20: "Finished",
    22: "CertificateStatus",
    24: "KeyUpdate",
    25: "CompressedCertificate",
    254: "message_hash",
}
#: AlertDescription names (RFC 8446 6).
ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
    21: "decryption_failed", 22: "record_overflow", 30: "decompression_failure",
    40: "handshake_failure", 41: "no_certificate", 42: "bad_certificate",
    43: "unsupported_certificate", 44: "certificate_revoked", 45: "certificate_expired",
    46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
    49: "access_denied", 50: "decode_error", 51: "decrypt_error",
    60: "export_restriction", 70: "protocol_version", 71: "insufficient_security",
    80: "internal_error", 86: "inappropriate_fallback", 90: "user_canceled",
    100: "no_renegotiation", 109: "missing_extension", 110: "unsupported_extension",
    111: "certificate_unobtainable", 112: "unrecognized_name",
    113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
    115: "unknown_psk_identity", 116: "certificate_required",
    120: "no_application_protocol",
}
ALERT_LEVELS: dict[int, str] = {1: "warning", 2: "fatal"}

#: ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex(
    "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
)
HEADER = 5


def content_type_name(value: int) -> str:
    """The ContentType's name, or ``type(N)``."""
    return CONTENT_TYPES.get(value, f"type({value})")


def handshake_name(value: int) -> str:
    """The HandshakeType's name, or ``handshake(N)``."""
    return HANDSHAKE_TYPES.get(value, f"handshake({value})")


def alert_text(level: int, description: int) -> tuple[str, str]:
    """(level name, description name) of an alert."""
    return (ALERT_LEVELS.get(level, f"level({level})"),
            ALERT_DESCRIPTIONS.get(description, f"alert({description})"))


class RecordView:
    """Derived facts of a record, for any class with ``offset``, ``content_type``,
    ``length``, ``messages`` and ``encrypted`` (a parsed :class:`Record`, a trace's
    ``RecordEvent``)."""

    offset: int
    content_type: str
    length: int
    messages: tuple[str, ...]
    encrypted: bool

    @property
    def size(self) -> int:
        """Header plus payload."""
        return self.length + HEADER

    @property
    def end(self) -> int:
        """Stream offset just past the record."""
        return self.offset + self.size

    def label(self) -> str:
        """Short text: ``ClientHello``, ``application_data (encrypted)``, ..."""
        if self.messages:
            return ", ".join(self.messages)
        if self.encrypted:
            return f"{self.content_type} (encrypted)"
        return self.content_type


@dataclass(frozen=True)
class Record(RecordView):
    """One TLS record as it appeared on the wire.

    Attributes:
        offset: position of its first header byte in the link's byte stream.
        content_type: the header's content type name (``handshake``, ...), or
            ``not-tls`` for bytes that do not parse as a record header.
        length: the header's length field (the record is ``length + 5`` bytes).
        messages: names of the plaintext messages that start in it (``ClientHello``,
            ``alert fatal handshake_failure``, ``(continued)``); empty when encrypted.
        encrypted: True when the payload is protected.
    """

    offset: int
    content_type: str
    length: int
    messages: tuple[str, ...] = ()
    encrypted: bool = False


@dataclass
class WireState:
    """What both directions learn from the plaintext handshake."""

    tls13: bool = False


@dataclass
class RecordParser:
    """Parses one direction's byte stream into :class:`Record` values, across feeds."""

    shared: WireState = field(default_factory=WireState)
    offset: int = 0
    broken: bool = False
    ccs_seen: bool = False
    _buf: bytearray = field(default_factory=bytearray)
    _hs: bytearray = field(default_factory=bytearray)

    def feed(self, data: bytes) -> list[Record]:
        """Add bytes from the link; returns the records completed by them."""
        out: list[Record] = []
        if self.broken:
            self.offset += len(data)
            return out
        self._buf += data
        while len(self._buf) >= HEADER:
            ctype, major, length = self._buf[0], self._buf[1], int.from_bytes(self._buf[3:5])
            if ctype not in CONTENT_TYPES or major != 3:
                # Not a record header: say so once, then stop interpreting this stream.
                out.append(Record(self.offset, "not-tls", len(self._buf) - HEADER))
                self.broken = True
                self.offset += len(self._buf)
                self._buf.clear()
                break
            if len(self._buf) < HEADER + length:
                break
            body = bytes(self._buf[HEADER:HEADER + length])
            out.append(self._record(ctype, length, body))
            del self._buf[:HEADER + length]
            self.offset += HEADER + length
        return out

    def _record(self, ctype: int, length: int, body: bytes) -> Record:
        name = content_type_name(ctype)
        plaintext = ctype in (21, 22) and (self.shared.tls13 or not self.ccs_seen)
        messages: tuple[str, ...] = ()
        if ctype == 20:
            self.ccs_seen = True
            messages = ("ChangeCipherSpec",)
        elif ctype == 21 and plaintext and length == 2:
            level, desc = alert_text(body[0], body[1])
            messages = (f"alert {level} {desc}",)
        elif ctype == 22 and plaintext:
            messages = self._handshake(body)
        encrypted = ctype == 23 or (ctype in (21, 22) and not plaintext)
        return Record(self.offset, name, length, messages, encrypted)

    def _handshake(self, body: bytes) -> tuple[str, ...]:
        names: list[str] = []
        had_partial = bool(self._hs)  # this record starts in the middle of a message
        self._hs += body
        while len(self._hs) >= 4 and len(self._hs) >= 4 + int.from_bytes(self._hs[1:4]):
            mlen = int.from_bytes(self._hs[1:4])
            msg = bytes(self._hs[:4 + mlen])
            del self._hs[:4 + mlen]
            name = self._server_hello(msg[4:]) if msg[0] == 2 else handshake_name(msg[0])
            if had_partial and not names:
                name += " (end)"
            names.append(name)
        if self._hs:
            part = "continued" if had_partial and not names else "start"
            names.append(f"{handshake_name(self._hs[0])} ({part})")
        return tuple(names)

    def _server_hello(self, body: bytes) -> str:
        """Name a ServerHello and learn from it whether TLS 1.3 was chosen."""
        name = "HelloRetryRequest" if body[2:34] == HRR_RANDOM else "ServerHello"
        try:
            pos = 34
            pos += 1 + body[pos]  # legacy_session_id_echo
            pos += 3  # cipher_suite, legacy_compression_method
            end = pos + 2 + int.from_bytes(body[pos:pos + 2])
            pos += 2
            while pos + 4 <= end:
                etype = int.from_bytes(body[pos:pos + 2])
                elen = int.from_bytes(body[pos + 2:pos + 4])
                if etype == 43 and elen == 2 and body[pos + 4:pos + 6] == b"\x03\x04":
                    self.shared.tls13 = True
                pos += 4 + elen
        except IndexError:  # a truncated ServerHello: leave the version unknown
            pass
        return name
