"""Building and cutting TLS records, and where a receiver's stream stands between them.

Everything here reads bytes only; nothing decrypts.  The header layout and the names are
the one parser's (:mod:`biopair.tls.parser`, :mod:`biopair.tls.vocab`):

* :func:`make_record`, :func:`fragment` and :func:`split_records` build and cut records
  for the faults that re-frame plaintext handshake records (``split``, ``coalesce``);
* :class:`Framer` follows what the *receiver* has been given, so that a move can stop
  at a record boundary, inside a header or just before the end of a record.
"""

from __future__ import annotations

from biopair.tls.parser import Record, parse_header, record_size
from biopair.tls.vocab import HEADER_LEN

#: Stop points a move may name instead of a byte count.
STOPS = ("record", "record-1", "header", "header-1")


def split_records(data: bytes | bytearray) -> tuple[list[tuple[Record, bytes]], bytes]:
    """Cut a byte string that starts at a record boundary into whole records.

    Returns:
        ``(records, rest)``: each whole record as (header, body), and the bytes of an
        incomplete record at the end (``b""`` when the data ends on a boundary).
    """
    out: list[tuple[Record, bytes]] = []
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


def fragment(header: Record, body: bytes, size: int) -> bytes:
    """Re-frame one plaintext record as records of at most ``size`` body bytes each.

    Returns:
        The new records' bytes (the same content type and version on each).
    """
    if size < 1:
        raise ValueError("size must be >= 1")
    return b"".join(make_record(header.content_type, body[i:i + size], header.version)
                    for i in range(0, len(body), size)) or make_record(
        header.content_type, b"", header.version)


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
        return record_size(head)

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
            total = record_size(self._header)
            take = min(total - self._into, len(data) - pos)
            self._into += take
            pos += take
            if self._into == total:
                self._into = 0
                self._header.clear()
        if len(self._header) == HEADER_LEN and self._into == record_size(self._header):
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
            total = record_size(self._header)
            start = total - self._into
            need = HEADER_LEN
        want = start + need - (1 if point == "header-1" else 0)
        return max(0, min(want, n))
