"""The trace's records, messages, alerts and states, and their attribution to calls."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest

from biopair.endpoints._openssl import CAN_SET_GROUPS
from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair
from biopair.engine.trace import AlertEvent, Call, MessageEvent, RecordEvent, StateEvent
from biopair.scenario.conditions import choose
from biopair.tls.parser import Parser
from biopair.views import golden


def _client(**kw: object) -> EndpointConfig:
    return EndpointConfig(role="client", **kw)  # type: ignore[arg-type]


def _server(**kw: object) -> EndpointConfig:
    return EndpointConfig(role="server", **kw)  # type: ignore[arg-type]


def _records(pair: Pair, direction: str) -> list[RecordEvent]:
    return [e for e in pair.trace.events if isinstance(e, RecordEvent)
            and e.direction == direction]


def test_every_event_inside_a_call_names_that_call_and_precedes_it() -> None:
    with Pair() as pair:
        pair.handshake()
        seen: dict[int, Call] = {}
        for event in pair.trace.events:
            if isinstance(event, Call):
                seen[event.seq] = event
            elif isinstance(event, MessageEvent | StateEvent | AlertEvent):
                assert event.call is not None and event.call not in seen
        calls = {c.seq: c for c in pair.trace.calls}
        for event in pair.trace.events:
            if isinstance(event, MessageEvent | StateEvent):
                assert calls[event.call].endpoint == event.endpoint  # type: ignore[index]


def test_tls13_encrypted_messages_are_named_by_the_message_callback() -> None:
    with Pair() as pair:
        pair.handshake()
        pair.move("server>client")
        pair.call("client", "read")
        got = [(e.call, e.name) for e in pair.trace.events
               if isinstance(e, MessageEvent) and e.endpoint == "client" and not e.sent]
        finishing = next(c.seq for c in pair.trace.calls
                         if c.endpoint == "client" and c.ret == 1)
        names = [name for call, name in got if call == finishing]
        # The message callback of OpenSSL 3.1 and 3.2 (measured) does not report the
        # received middlebox ChangeCipherSpec; 3.4 and later do.
        _, chosen = choose({"openssl >= 3.4": ["ChangeCipherSpec"], "openssl == 3.2": [],
                            "openssl == 3.1": []})
        assert isinstance(chosen, list)
        ccs: list[str] = chosen
        assert names == ["ServerHello", *ccs, "EncryptedExtensions",
                         "Certificate", "CertificateVerify", "Finished"]
        read = pair.trace.calls[-1]
        assert [name for call, name in got if call == read.seq] == ["NewSessionTicket"] * 2
        # On the wire those are opaque application_data records.
        wire = _records(pair, "server>client")
        assert [r.label() for r in wire[:2]] == ["ServerHello", "ChangeCipherSpec"]
        assert all(r.encrypted and r.content_type == "application_data" for r in wire[2:])


def test_records_written_by_a_call_are_attributed_to_it() -> None:
    with Pair() as pair:
        first = pair.call("client", "connect")
        (hello,) = _records(pair, "client>server")
        assert hello.call == first.seq and hello.messages == ("ClientHello",)
        assert hello.size == first.sent


def test_tls12_finished_is_an_encrypted_handshake_record() -> None:
    with Pair(_client(version="1.2")) as pair:
        assert pair.handshake().terminal is None
        labels = [r.label() for r in _records(pair, "client>server")]
        assert labels == ["ClientHello", "ClientKeyExchange", "ChangeCipherSpec",
                          "handshake (encrypted)"]


@pytest.mark.skipif(not CAN_SET_GROUPS, reason="groups needs SSL_CTX_set1_curves_list, "
                                               "bound from cryptography 50")
def test_second_client_hello_after_hello_retry_request_is_read_as_plaintext() -> None:
    with Pair(_client(groups=("X25519", "P-256")), _server(groups=("P-256",))) as pair:
        assert pair.handshake().terminal is None
        assert _records(pair, "server>client")[0].label() == "HelloRetryRequest"
        labels = [r.label() for r in _records(pair, "client>server")]
        assert labels[:3] == ["ClientHello", "ChangeCipherSpec", "ClientHello"]


def test_alerts_have_level_and_description_on_both_sides() -> None:
    with Pair(_client(trust="other-ca")) as pair:
        pair.handshake()
        alerts = [(e.endpoint, e.sent, e.level, e.description) for e in pair.trace.events
                  if isinstance(e, AlertEvent)]
        assert alerts == [("client", True, "fatal", "unknown_ca"),
                          ("server", False, "fatal", "unknown_ca")]


def test_record_parser_keeps_state_across_arbitrary_splits() -> None:
    with Pair() as pair:
        pair.handshake()
        stream = bytes(pair.trace.wire["server>client"])
    whole = Parser().feed(stream)
    split = Parser()
    pieces = [split.feed(stream[i:i + 7]) for i in range(0, len(stream), 7)]
    assert [r for chunk in pieces for r in chunk] == whole
    # The offsets depend on the release's record sizes: each record starts where the
    # previous one (5-byte header + length) ended, and the parser saw all the stream.
    assert len(whole) == 8 and whole[0].offset == 0  # 6 handshake records, 2 tickets
    for prev, rec in itertools.pairwise(whole):
        assert rec.offset == prev.offset + 5 + prev.length
    assert whole[-1].offset + 5 + whole[-1].length == len(stream)


def test_a_handshake_message_spread_over_records_is_reassembled() -> None:
    message = b"\x0b\x00\x00\x0a" + bytes(10)  # a 14-byte Certificate
    stream = b"\x16\x03\x03\x00\x06" + message[:6] + b"\x16\x03\x03\x00\x08" + message[6:]
    records = Parser().feed(stream)
    assert [r.messages for r in records] == [("Certificate (start)",),
                                             ("Certificate (end)",)]


def test_bytes_that_are_not_tls_are_reported_once() -> None:
    records = Parser().feed(b"GET / HTTP/1.1\r\n\r\n")
    assert [(r.name, r.offset) for r in records] == [("not-tls", 0)]


def test_keylog_lines_are_collected_but_never_serialised() -> None:
    with Pair() as pair:
        pair.handshake()
        labels = sorted({line.split()[0] for line in pair.trace.keylog})
        assert labels == ["CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                          "EXPORTER_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                          "SERVER_TRAFFIC_SECRET_0"]
        text = golden.render(pair.trace, "x.toml")
        assert all(line.split()[-1] not in text for line in pair.trace.keylog)


def test_unrecorded_pairs_keep_only_calls() -> None:
    with Pair(record=False) as pair:
        pair.handshake()
        assert pair.trace.events == pair.trace.calls and not pair.trace.keylog


_DUMP = """
import sys
from biopair.views import golden
from biopair.engine.pair import Pair
with Pair(deliver=sys.argv[1]) as pair:
    pair.handshake(); pair.move("server>client"); pair.call("client", "read")
    sys.stdout.write(golden.render(pair.trace, "x.toml"))
"""


def test_traces_are_identical_across_processes() -> None:
    # Separate interpreters: different addresses, hash seeds and key material.
    runs = [subprocess.run([sys.executable, "-c", _DUMP, deliver], capture_output=True,
                           text=True, check=True).stdout
            for deliver in ("all", "all", "bytewise", "bytewise")]
    assert runs[0] == runs[1] and runs[2] == runs[3]
    assert '"repeat"' in runs[2]
