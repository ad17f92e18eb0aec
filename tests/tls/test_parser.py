"""The one TLS parser: records and handshake messages from one direction's bytes.

Real streams come from real handshakes (the trace keeps every byte each link queued);
synthetic ones are built with :func:`make_record` where a case needs exact bytes.
"""

from __future__ import annotations

import itertools
import json
import pathlib
import time
from collections.abc import Iterator

import pytest

from biopair.endpoints._openssl import CAN_SET_GROUPS
from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair
from biopair.tls.framing import make_record
from biopair.tls.parser import Message, Parser, Record, Session
from biopair.tls.vocab import (
    HRR_RANDOM,
    MESSAGE_NAMES,
    AlertDescription,
    AlertLevel,
    ContentType,
    HandshakeType,
    alert_text,
    handshake_name,
    message_name,
    type_name,
)
from biopair.transport.holds import COUNTABLE

SCENARIOS = pathlib.Path(__file__).resolve().parents[2] / "scenarios"
needs_groups = pytest.mark.skipif(not CAN_SET_GROUPS, reason="groups needs "
                                  "SSL_CTX_set1_curves_list, bound from cryptography 50")

CCS = make_record(ContentType.change_cipher_spec, b"\x01")


def message(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


def server_hello(version: int | None, *, hrr: bool = False) -> bytes:
    """A ServerHello (or HelloRetryRequest) with supported_versions = ``version``."""
    exts = b"" if version is None else (43).to_bytes(2) + b"\x00\x02" + version.to_bytes(2)
    body = (b"\x03\x03" + (HRR_RANDOM if hrr else bytes(32)) + b"\x00" + b"\x13\x01\x00"
            + len(exts).to_bytes(2) + exts)
    return message(HandshakeType.ServerHello, body)


def handshake_record(*messages: bytes) -> bytes:
    return make_record(ContentType.handshake, b"".join(messages))


def real_streams(client: EndpointConfig | None = None,
                 server: EndpointConfig | None = None) -> dict[str, bytes]:
    with Pair(client, server) as pair:
        assert pair.handshake().terminal is None
        return {d: bytes(b) for d, b in pair.trace.wire.items()}


def parse(streams: dict[str, bytes], cuts: dict[str, list[int]] | None = None
          ) -> dict[str, tuple[list[Record], list[Message]]]:
    """Parse both directions with one session, server>client first (as on the wire),
    each cut at the given offsets."""
    session = Session()
    out = {}
    for direction in ("server>client", "client>server"):
        parser = Parser(session)
        data = streams[direction]
        bounds = [0, *(cuts or {}).get(direction, []), len(data)]
        records = [r for a, b in itertools.pairwise(bounds)
                   for r in parser.feed(data[a:b])]
        assert records == parser.records
        out[direction] = (records, parser.handshake)
    return out


@pytest.fixture(scope="module")
def tls13() -> dict[str, bytes]:
    return real_streams()


@pytest.fixture(scope="module")
def tls12() -> dict[str, bytes]:
    return real_streams(EndpointConfig(role="client", version="1.2"))


@pytest.fixture(scope="module")
def hrr() -> dict[str, bytes]:
    if not CAN_SET_GROUPS:
        pytest.skip("groups needs SSL_CTX_set1_curves_list, bound from cryptography 50")
    return real_streams(EndpointConfig(role="client", groups=("X25519", "P-256")),
                        EndpointConfig(role="server", groups=("P-256",)))


@pytest.mark.parametrize("which", ["tls13", "tls12", "hrr"])
def test_every_split_point_of_a_real_stream_gives_the_same_records(
        which: str, request: pytest.FixtureRequest) -> None:
    streams: dict[str, bytes] = request.getfixturevalue(which)
    whole = parse(streams)
    for direction, data in streams.items():
        for cut in range(1, len(data)):
            assert parse(streams, {direction: [cut]}) == whole, (direction, cut)


def test_a_real_stream_fed_a_byte_at_a_time_gives_the_same_records(
        tls12: dict[str, bytes]) -> None:
    whole = parse(tls12)
    cuts = {d: list(range(1, len(b))) for d, b in tls12.items()}
    assert parse(tls12, cuts) == whole


def test_tls13_real_handshake_records_and_messages(tls13: dict[str, bytes]) -> None:
    got = parse(tls13)
    records, messages = got["server>client"]
    assert [m.name for m in messages] == ["ServerHello"]  # the rest is encrypted
    assert [r.name for r in records[:3]] == ["handshake", "change_cipher_spec",
                                             "application_data"]
    assert all(r.encrypted for r in records[2:])
    records, messages = got["client>server"]
    assert [m.name for m in messages] == ["ClientHello"]
    assert records[-1].end == len(tls13["client>server"])


def test_tls12_plaintext_ends_at_each_directions_ccs(tls12: dict[str, bytes]) -> None:
    got = parse(tls12)
    records, messages = got["client>server"]
    assert [m.name for m in messages] == ["ClientHello", "ClientKeyExchange"]
    ccs = next(r.index for r in records if r.content_type == ContentType.change_cipher_spec)
    assert [r.encrypted for r in records[ccs + 1:]] == [True] * (len(records) - ccs - 1)
    assert records[ccs + 1].name == "handshake"  # the Finished: encrypted, unnamed
    assert records[ccs + 1].messages == () and not records[ccs + 1].plaintext_handshake
    records, messages = got["server>client"]
    assert [m.name for m in messages][:4] == ["ServerHello", "Certificate",
                                              "ServerKeyExchange", "ServerHelloDone"]


@needs_groups
def test_real_hello_retry_request_keeps_the_second_clienthello_plaintext(
        hrr: dict[str, bytes]) -> None:
    got = parse(hrr)
    records, messages = got["client>server"]
    assert [r.messages for r in records[:3]] == [("ClientHello",), ("ChangeCipherSpec",),
                                                 ("ClientHello",)]
    assert records[2].plaintext_handshake
    assert [m.name for m in messages] == ["ClientHello", "ClientHello"]
    assert [m.name for m in got["server>client"][1]] == ["HelloRetryRequest", "ServerHello"]


def test_the_middlebox_ccs_before_a_second_clienthello_is_no_encryption_boundary() -> None:
    session = Session()
    server, client = Parser(session), Parser(session)
    client.feed(handshake_record(message(1, b"first")))
    server.feed(handshake_record(server_hello(0x0304, hrr=True)) + CCS)
    assert session.tls13 is True
    got = client.feed(CCS + handshake_record(message(1, b"second")))
    assert [(r.name, r.encrypted, r.messages) for r in got] == [
        ("change_cipher_spec", False, ("ChangeCipherSpec",)),
        ("handshake", False, ("ClientHello",))]
    assert client.count("ClientHello") == 2 and server.count("HelloRetryRequest") == 1
    assert client.handshake[1].body == b"second"


def test_a_lazy_direction_is_parsed_before_the_other_decides_after_its_ccs() -> None:
    # The fault engine and the receiver view defer parsing; the client's second
    # ClientHello must not be taken for encrypted because the HRR is still queued.
    session = Session()
    server, client = Parser(session), Parser(session)
    server.defer(handshake_record(server_hello(0x0304, hrr=True)) + CCS)
    client.defer(handshake_record(message(1, b"a")) + CCS + handshake_record(message(1, b"b")))
    assert session.tls13 is None
    assert client.records[2].plaintext_handshake
    assert client.messages == ["ClientHello", "ClientHello"]
    assert server.messages == ["HelloRetryRequest"]  # parsed by the settle


def test_an_unknown_version_after_ccs_follows_tls12() -> None:
    parser = Parser()
    got = parser.feed(CCS + handshake_record(message(20, b"x" * 12)))
    assert got[1].encrypted and got[1].messages == ()
    assert parser.session.tls13 is None


def test_a_tls12_serverhello_makes_handshake_records_after_ccs_encrypted() -> None:
    session = Session()
    server, client = Parser(session), Parser(session)
    server.feed(handshake_record(server_hello(None)))
    assert session.tls13 is False
    got = client.feed(handshake_record(message(16, b"kx")) + CCS
                      + handshake_record(message(20, b"x" * 12))
                      + make_record(ContentType.alert, b"\x02\x28"))
    assert [r.encrypted for r in got] == [False, False, True, True]
    assert client.messages == ["ClientKeyExchange"]


def test_messages_spanning_records_are_reassembled_and_labelled() -> None:
    msgs = server_hello(0x0303) + message(HandshakeType.Certificate, b"c" * 20)
    stream = b"".join(handshake_record(msgs[i:i + 9]) for i in range(0, len(msgs), 9))
    parser = Parser()
    records = parser.feed(stream)
    labels = [r.messages for r in records]
    assert labels[0] == ("ServerHello (start)",)
    assert labels[1] == ("ServerHello (continued)",)
    assert labels[-1] == ("Certificate (end)",)
    sh, cert = parser.handshake
    assert (sh.first, sh.last) == (0, len(server_hello(0x0303)) // 9)
    assert cert.body == b"c" * 20 and cert.last == len(records) - 1
    assert cert.first == sh.last  # the Certificate's header starts where ServerHello ends


def test_many_messages_in_one_record() -> None:
    record = handshake_record(server_hello(0x0303), message(11, b"cert"),
                              message(12, b"kx"), message(14, b""))
    (rec,) = Parser().feed(record)
    assert rec.messages == ("ServerHello", "Certificate", "ServerKeyExchange",
                            "ServerHelloDone")


def test_a_plaintext_alert_is_named_and_an_odd_one_is_not() -> None:
    got = Parser().feed(make_record(21, b"\x02\x28") + make_record(21, b"\x01"))
    assert got[0].messages == ("alert fatal handshake_failure",)
    assert (got[1].messages, got[1].encrypted) == ((), False)


def test_bytes_that_are_not_tls_are_reported_once_then_ignored() -> None:
    parser = Parser()
    first = parser.feed(handshake_record(message(1, b"hi")) + b"GET / HTTP/1.1\r\n")
    later = parser.feed(make_record(22, b"looks like tls"))
    assert [(r.name, r.tls) for r in first] == [("handshake", True), ("not-tls", False)]
    assert first[1].offset == first[0].end and first[1].length == 16 - 5
    assert later == [] and parser.broken and len(parser.records) == 1
    assert parser.fed == first[0].end + 16 + len(make_record(22, b"looks like tls"))


def test_a_wrong_version_byte_is_not_tls() -> None:
    (rec,) = Parser().feed(b"\x16\x02\x00\x00\x00")
    assert rec.name == "not-tls" and rec.content_type == 0x16


def test_unknown_values_are_named_by_number() -> None:
    assert type_name(99) == "type(99)"
    assert handshake_name(77) == "handshake(77)"
    assert alert_text(3, 200) == ("level(3)", "alert(200)")
    (rec,) = Parser().feed(handshake_record(message(77, b"")))
    assert rec.messages == ("handshake(77)",)


def test_hello_retry_request_is_told_from_a_server_hello() -> None:
    assert message_name(server_hello(0x0304, hrr=True)) == "HelloRetryRequest"
    assert message_name(server_hello(0x0304)) == "ServerHello"
    assert message_name(message(2, b"")) == "ServerHello"  # too short to be an HRR


def test_counts_by_name_for_holds() -> None:
    parser = Parser()
    parser.defer(handshake_record(message(1, b"")) + CCS + make_record(23, b"x" * 20))
    assert parser.count("records") == 3
    assert parser.count("handshake") == parser.count("ClientHello") == 1
    assert parser.count("application_data") == 1 and parser.count("alert") == 0
    assert set(COUNTABLE) >= {"records", *(t.name for t in ContentType), *MESSAGE_NAMES}


def _golden_events() -> Iterator[dict[str, object]]:
    for path in sorted(SCENARIOS.rglob("*.trace")):
        for line in path.read_text().splitlines():
            if line.startswith("{"):
                yield json.loads(line)


def test_the_enums_names_are_the_names_in_the_goldens() -> None:
    types = {t.name for t in ContentType}
    messages = set(MESSAGE_NAMES)
    levels = {level.name for level in AlertLevel}
    alerts = {a.name for a in AlertDescription}
    seen = set()
    for event in _golden_events():
        kind = event.get("event")
        if kind == "record":
            assert event["content_type"] in types | {"not-tls"}
            for label in event["messages"]:  # type: ignore[attr-defined]
                name = label.removesuffix(" (start)").removesuffix(" (end)") \
                    .removesuffix(" (continued)")
                if name.startswith("alert "):
                    _, level, desc = name.split()
                    assert level in levels and desc in alerts
                else:
                    assert name in messages | {"ChangeCipherSpec"}, label
                seen.add(name)
        elif kind == "message":
            assert event["content_type"] in types
            assert event["name"] in messages | {"ChangeCipherSpec"}
        elif kind == "alert":
            assert event["level"] in levels and event["description"] in alerts
    assert {"ClientHello", "ServerHello", "HelloRetryRequest"} <= seen


def test_enum_values_are_the_rfcs() -> None:
    assert (ContentType.handshake, HandshakeType.ClientHello, HandshakeType.Finished,
            AlertLevel.fatal, AlertDescription.unknown_ca) == (22, 1, 20, 2, 48)
    assert HRR_RANDOM.hex().startswith("cf21ad74") and len(HRR_RANDOM) == 32


def test_thousands_of_one_byte_feeds_and_a_64_mib_feed_stay_linear() -> None:
    # Four maximal application_data records a byte at a time, then a 64 MiB chunk: a
    # parser that re-copied what it holds on every feed would need minutes here.
    data = make_record(23, bytes(0xFFFF)) * 4
    parser = Parser()
    start = time.perf_counter()
    for i in range(len(data)):
        parser.feed(data[i:i + 1])
    big = make_record(23, bytes(0xFFFF)) * 1024  # 64 MiB and 5 KiB of headers
    assert len(parser.feed(big)) == 1024
    elapsed = time.perf_counter() - start
    assert len(parser.records) == 1028 and parser.partial == 0
    assert parser.records[-1].end == len(data) + len(big) == parser.fed
    assert elapsed < 4.0, f"{elapsed:.1f} s"


def test_a_large_handshake_message_over_many_records_is_reassembled_linearly() -> None:
    body = bytes(range(256)) * 1024  # a 256 KiB "Certificate"
    msg = message(11, body)
    stream = b"".join(handshake_record(msg[i:i + 1000]) for i in range(0, len(msg), 1000))
    parser = Parser()
    for i in range(0, len(stream), 3):
        parser.feed(stream[i:i + 3])
    (cert,) = parser.handshake
    assert cert.body == body and (cert.first, cert.last) == (0, len(parser.records) - 1)


APPDATA = make_record(ContentType.application_data, b"\x17" * 16000)


def _defer_in_chunks(streams: dict[str, bytes], size: int
                     ) -> dict[str, tuple[list[Record], list[Message]]]:
    # Both directions deferred in turns, server>client first, in chunks of ``size``.
    session = Session()
    parsers = {d: Parser(session) for d in ("server>client", "client>server")}
    longest = max(len(b) for b in streams.values())
    for at in range(0, longest, size):
        for direction, parser in parsers.items():
            parser.defer(streams[direction][at:at + size])
    return {d: (p.records, p.handshake) for d, p in parsers.items()}


@pytest.mark.parametrize("which", ["tls13", "tls12", "hrr"])
@pytest.mark.parametrize("size", [1, 777, 16384, 100_000])
def test_deferred_bytes_read_ahead_give_the_records_a_feed_gives(
        which: str, size: int, request: pytest.FixtureRequest) -> None:
    streams = {d: b + APPDATA * 10 for d, b in request.getfixturevalue(which).items()}
    assert _defer_in_chunks(streams, size) == parse(streams)


def test_a_long_deferred_stream_is_read_ahead_not_kept_whole() -> None:
    from biopair.tls.parser import DEFER_LIMIT

    parser = Parser()
    for _ in range(1000):  # 16 MB of application data, deferred a record at a time
        parser.defer(APPDATA)
    assert parser.fed >= 1000 * len(APPDATA) - DEFER_LIMIT
    assert len(parser.records) == 1000


def test_read_ahead_waits_where_the_version_is_not_known_yet() -> None:
    # The client's second ClientHello follows its CCS while the HRR that says TLS 1.3 is
    # still deferred on the other direction: reading ahead stops there, and the ask
    # settles it as before, however much follows.
    session = Session()
    server, client = Parser(session), Parser(session)
    server.defer(handshake_record(server_hello(0x0304, hrr=True)) + CCS)
    client.defer(handshake_record(message(1, b"a")) + CCS + handshake_record(message(1, b"b"))
                 + APPDATA * 20)
    assert session.tls13 is None and client.fed == len(handshake_record(message(1, b"a")) + CCS)
    assert client.records[2].plaintext_handshake
    assert client.messages == ["ClientHello", "ClientHello"]
    assert len(client.records) == 23
