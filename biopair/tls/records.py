"""TLS record framing on a link's byte stream: headers, boundaries, plaintext messages.

Everything here reads bytes only; nothing decrypts.  A TLS record is a 5-byte header
(content type, 2-byte legacy version, 2-byte length) and ``length`` bytes of body.  Two
views of a link's stream use it:

* :class:`StreamWatcher` follows what the *sender* wrote: it numbers the records (from
  0 on each link), remembers their content types and, for plaintext handshake records,
  the handshake messages inside them (reassembled across records).  A handshake record
  counts as plaintext while no ``change_cipher_spec`` record has passed on that link:
  TLS 1.2 encrypts everything after it, and TLS 1.3 sends only ClientHello/ServerHello
  (and a HelloRetryRequest) in the clear, the rest inside ``application_data`` records.
* :class:`Framer` follows what the *receiver* has been given, so that a move can stop
  at a record boundary, inside a header or just before the end of a record.
"""

from __future__ import annotations

from dataclasses import dataclass

from biopair.tls.wire import CONTENT_TYPES, HANDSHAKE_TYPES, HEADER, HRR_RANDOM

# The wire's vocabulary is the trace parser's (biopair.wire): one table of names.
HEADER_LEN = HEADER

#: Stop points a move may name instead of a byte count.
STOPS = ("record", "record-1", "header", "header-1")


@dataclass(frozen=True)
class RecordHeader:
    """One record as the sender wrote it.

    Attributes:
        index: the record's number on its link (0-based).
        offset: stream offset of the header's first byte.
        content_type: the header's type byte.
        version: the 2-byte legacy version.
        length: the body length the header announces.
    """

    index: int
    offset: int
    content_type: int
    version: int
    length: int

    @property
    def end(self) -> int:
        """Stream offset just past the record's body."""
        return self.offset + HEADER_LEN + self.length

    @property
    def type_name(self) -> str:
        """The content type's name (``"handshake"``), or ``"type(N)"``."""
        return CONTENT_TYPES.get(self.content_type, f"type({self.content_type})")


def parse_header(data: bytes | bytearray, index: int = 0, offset: int = 0) -> RecordHeader:
    """Parse a 5-byte record header.

    Returns:
        The :class:`RecordHeader`.

    Raises:
        ValueError: when fewer than 5 bytes are given.
    """
    if len(data) < HEADER_LEN:
        raise ValueError(f"a record header is {HEADER_LEN} bytes, got {len(data)}")
    return RecordHeader(index, offset, data[0], int.from_bytes(data[1:3], "big"),
                        int.from_bytes(data[3:5], "big"))


def split_records(data: bytes | bytearray) -> tuple[list[tuple[RecordHeader, bytes]], bytes]:
    """Cut a byte string that starts at a record boundary into whole records.

    Returns:
        ``(records, rest)``: each whole record as (header, body), and the bytes of an
        incomplete record at the end (``b""`` when the data ends on a boundary).
    """
    out: list[tuple[RecordHeader, bytes]] = []
    pos = 0
    while len(data) - pos >= HEADER_LEN:
        header = parse_header(data[pos:pos + HEADER_LEN], len(out), pos)
        if header.end > len(data):
            break
        out.append((header, bytes(data[pos + HEADER_LEN:header.end])))
        pos = header.end
    return out, bytes(data[pos:])


def make_record(content_type: int, body: bytes, version: int = 0x0303) -> bytes:
    """Build one record: header plus body.

    Returns:
        The record's bytes.

    Raises:
        ValueError: when the body is longer than a length field can say.
    """
    if len(body) > 0xFFFF:
        raise ValueError(f"a record body is at most 65535 bytes, got {len(body)}")
    return bytes([content_type]) + version.to_bytes(2, "big") + len(body).to_bytes(2, "big") \
        + body


def fragment(header: RecordHeader, body: bytes, size: int) -> bytes:
    """Re-frame one plaintext record as records of at most ``size`` body bytes each.

    Returns:
        The new records' bytes (the same content type and version on each).
    """
    if size < 1:
        raise ValueError("size must be >= 1")
    return b"".join(make_record(header.content_type, body[i:i + size], header.version)
                    for i in range(0, len(body), size)) or make_record(
        header.content_type, b"", header.version)


class StreamWatcher:
    """Record and plaintext-handshake bookkeeping for the bytes a sender wrote.

    Feed it the sender's stream in order with :meth:`feed`; it never changes the bytes.

    Attributes:
        records: every complete record seen, in order.
        plain: for each record, whether it was a plaintext handshake record.
        messages: names of the plaintext handshake messages seen, in order.
        encrypted: True once a change_cipher_spec record has passed.
    """

    def __init__(self) -> None:
        self.records: list[RecordHeader] = []
        self.plain: list[bool] = []
        self.messages: list[str] = []
        self.encrypted = False
        self._offset = 0
        self._pending = bytearray()
        self._handshake = bytearray()

    def feed(self, data: bytes | bytearray) -> list[RecordHeader]:
        """Take the next bytes of the stream.

        Returns:
            The records completed by these bytes.
        """
        self._pending += data
        done, rest = split_records(self._pending)
        base = self._offset
        out = []
        for header, body in done:
            rec = RecordHeader(len(self.records), base + header.offset, header.content_type,
                               header.version, header.length)
            self.records.append(rec)
            self.plain.append(self.plaintext(rec))
            out.append(rec)
            self._note(rec, body)
        consumed = len(self._pending) - len(rest)
        self._offset += consumed
        del self._pending[:consumed]
        return out

    def plaintext(self, header: RecordHeader) -> bool:
        """Can this (next) record be re-framed: a handshake record before any CCS?"""
        return header.content_type == 22 and not self.encrypted

    def _note(self, rec: RecordHeader, body: bytes) -> None:
        if rec.content_type == 20:
            self.encrypted = True
            self._handshake.clear()
            return
        if rec.content_type != 22 or self.encrypted:
            return
        self._handshake += body
        while len(self._handshake) >= 4:
            length = int.from_bytes(self._handshake[1:4], "big")
            if len(self._handshake) < 4 + length:
                break
            mtype = self._handshake[0]
            name = HANDSHAKE_TYPES.get(mtype, f"handshake({mtype})")
            if mtype == 2 and self._handshake[6:38] == HRR_RANDOM:
                name = "HelloRetryRequest"
            self.messages.append(name)
            del self._handshake[:4 + length]

    def count(self, what: str) -> int:
        """How many records of a content type, or handshake messages of a name, were seen.

        ``what`` is a content type name (``"alert"``), ``"records"`` for all records, or
        a handshake message name (``"ServerHello"``).
        """
        if what == "records":
            return len(self.records)
        if what in CONTENT_TYPES.values():
            return sum(1 for r in self.records if r.type_name == what)
        return self.messages.count(what)


class Framer:
    """Where the receiver's stream stands relative to record boundaries.

    Feed it every byte handed to the receiver (:meth:`feed`); :meth:`stop` then says how
    many of the queued bytes a move must hand over to stop at a named point.
    """

    def __init__(self) -> None:
        self._into = 0  # bytes of the current record already delivered
        self._header = bytearray()  # its header bytes delivered so far (at most 5)

    def _total(self, queue: bytes | bytearray) -> int | None:
        # Length of the current record (header + body), if its header is known.
        head = bytes(self._header) + bytes(queue[:HEADER_LEN - len(self._header)])
        if len(head) < HEADER_LEN:
            return None
        return HEADER_LEN + int.from_bytes(head[3:5], "big")

    def feed(self, data: bytes | bytearray) -> None:
        """Account for bytes handed to the receiver."""
        pos = 0
        while pos < len(data):
            if len(self._header) < HEADER_LEN:
                take = min(HEADER_LEN - len(self._header), len(data) - pos)
                self._header += data[pos:pos + take]
                self._into += take
                pos += take
                continue
            total = HEADER_LEN + int.from_bytes(self._header[3:5], "big")
            take = min(total - self._into, len(data) - pos)
            self._into += take
            pos += take
            if self._into == total:
                self._into = 0
                self._header.clear()
        if len(self._header) == HEADER_LEN and self._into == HEADER_LEN + \
                int.from_bytes(self._header[3:5], "big"):
            self._into = 0
            self._header.clear()

    def stop(self, queue: bytes | bytearray, point: str) -> int:
        """Bytes to hand over so that delivery stops at ``point`` (one of :data:`STOPS`).

        * ``record``: the end of the current record (the next whole record at a boundary);
        * ``record-1``: one byte before that end (header plus all but one body byte);
        * ``header``: the end of the next header (just after it, before any body byte);
        * ``header-1``: one byte before the end of the next header.

        "Next header" is the current record's when its header is not complete yet, else
        the following record's.  The answer never exceeds the queue, and is 0 when the
        point has already been passed (``header-1`` with 4 header bytes delivered).

        Returns:
            The byte count.
        """
        if point not in STOPS:
            raise ValueError(f"unknown stop {point!r}; expected one of {STOPS}")
        n = len(queue)
        if point.startswith("record"):
            total = self._total(queue)
            if total is None:
                return n
            want = total - self._into - (1 if point == "record-1" else 0)
            return max(0, min(want, n))
        # header / header-1: the next header that is not yet complete.
        if len(self._header) < HEADER_LEN:
            start = 0
            need = HEADER_LEN - len(self._header)
        else:
            total = HEADER_LEN + int.from_bytes(self._header[3:5], "big")
            start = total - self._into
            need = HEADER_LEN
        want = start + need - (1 if point == "header-1" else 0)
        return max(0, min(want, n))
