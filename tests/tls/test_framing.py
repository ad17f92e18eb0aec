"""Record framing: headers, boundaries, re-framing, the receiver's stop points."""

from __future__ import annotations

import pytest

from biopair.tls import framing
from biopair.tls.framing import Framer, make_record, split_records
from biopair.tls.parser import parse_header


def handshake(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def test_parse_header_reads_type_version_length() -> None:
    h = parse_header(bytes.fromhex("1603030010"), index=2, offset=7)
    assert (h.content_type, h.version, h.length, h.end) == (22, 0x0303, 16, 7 + 5 + 16)
    assert h.name == "handshake"


def test_parse_header_needs_five_bytes() -> None:
    with pytest.raises(ValueError, match="5 bytes"):
        parse_header(b"\x16\x03\x03\x00")


def test_split_records_keeps_incomplete_tail() -> None:
    data = make_record(22, b"abc") + make_record(23, b"") + make_record(21, b"xy")[:4]
    done, rest = split_records(data)
    assert [(h.content_type, body) for h, body in done] == [(22, b"abc"), (23, b"")]
    assert [h.offset for h, _ in done] == [0, 8]
    assert rest == make_record(21, b"xy")[:4]


def test_fragment_makes_one_byte_records_of_the_same_type() -> None:
    header = parse_header(make_record(22, b"hello"))
    out = framing.fragment(header, b"hello", 2)
    done, rest = split_records(out)
    assert rest == b""
    assert [body for _, body in done] == [b"he", b"ll", b"o"]
    assert {h.content_type for h, _ in done} == {22}


@pytest.mark.parametrize(
    ("delivered", "point", "expected"),
    [
        (0, "header-1", 4), (0, "header", 5), (0, "record-1", 12), (0, "record", 13),
        (2, "header-1", 2), (4, "header-1", 0), (4, "header", 1), (5, "header", 13),
        (5, "header-1", 12), (7, "record", 6), (13, "record", 5), (13, "header", 5),
    ],
)
def test_framer_stop_points(delivered: int, point: str, expected: int) -> None:
    stream = make_record(22, b"12345678") + make_record(23, b"")
    f = Framer()
    f.feed(stream[:delivered])
    assert f.stop(stream[delivered:], point) == expected


def test_framer_counts_empty_records() -> None:
    f = Framer()
    f.feed(make_record(23, b""))
    assert f.stop(make_record(22, b"ab"), "record") == 7
