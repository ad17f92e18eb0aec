"""Fault machinery on synthetic streams, and OpenSSL's real reaction to each fault kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair
from biopair.engine.trace import FaultEvent
from biopair.outcome import summarize
from biopair.scenario.conditions import choose
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.tls.framing import make_record, split_records
from biopair.transport.faults import Fault, FaultEngine, FaultError
from biopair.transport.holds import parse_condition

STREAM = make_record(22, b"hello") + make_record(23, b"world!") + make_record(21, b"\x01\x00")


def run_engine(faults: list[Fault], pieces: list[bytes]) -> tuple[bytes, FaultEngine]:
    engine = FaultEngine()
    out = b""
    for f in faults:
        engine.arm(f)
        out += engine.process(b"")[0]
    for piece in pieces:
        out += engine.process(piece)[0]
    return out, engine


def test_no_fault_passes_bytes_through() -> None:
    assert run_engine([], [STREAM[:3], STREAM[3:]])[0] == STREAM


def test_corrupt_xors_at_offset_even_across_pieces() -> None:
    out, _ = run_engine([Fault("corrupt", "x", offset=6, xor=b"\x01\x02")],
                        [STREAM[:7], STREAM[7:]])
    assert out[6:8] == bytes([STREAM[6] ^ 1, STREAM[7] ^ 2]) and out[8:] == STREAM[8:]


def test_drop_and_duplicate_whole_records() -> None:
    out, _ = run_engine([Fault("drop", "x", record=1)], [STREAM])
    assert out == make_record(22, b"hello") + make_record(21, b"\x01\x00")
    out, _ = run_engine([Fault("duplicate", "x", record=0)], [STREAM])
    assert out == make_record(22, b"hello") + STREAM


def test_record_fault_waits_for_its_record() -> None:
    # Record 1 is incomplete in the first piece: bytes from its start are held back.
    engine = FaultEngine()
    engine.arm(Fault("corrupt", "x", record=1, at=-1, xor=b"\x80"))
    first = engine.process(STREAM[:12])[0]
    assert first == STREAM[:10]
    rest = engine.process(STREAM[12:])[0]
    assert first + rest == STREAM[:20] + bytes([STREAM[20] ^ 0x80]) + STREAM[21:]


def test_inject_now_and_truncate_and_eof() -> None:
    engine = FaultEngine()
    engine.process(STREAM[:10])
    engine.arm(Fault("inject", "x", data=b"\xaa"))
    assert engine.process(b"")[0] == b"\xaa"
    out, engine = run_engine([Fault("truncate", "x", offset=12)], [STREAM])
    assert out == STREAM[:12] and engine.cut and not engine.eof
    assert engine.process(b"more")[1] == 4  # discarded after the cut
    out, engine = run_engine([Fault("eof", "x", record=2)], [STREAM])
    assert out == STREAM[:21] and engine.eof


def test_split_and_coalesce_reframe_plaintext_handshake_records() -> None:
    two = make_record(22, b"ab") + make_record(22, b"cd")
    out, _ = run_engine([Fault("coalesce", "x", record=0, count=2)], [two])
    assert out == make_record(22, b"abcd")
    out, _ = run_engine([Fault("split", "x", record=0, size=1)], [make_record(22, b"abc")])
    assert [body for _, body in split_records(out)[0]] == [b"a", b"b", b"c"]


def test_split_refuses_an_encrypted_record() -> None:
    _, engine = run_engine([], [])
    engine.arm(Fault("split", "x", record=1))
    out, _, applied = engine.process(make_record(20, b"\x01") + make_record(22, b"enc"))
    assert applied[0].detail.startswith("not applied") and "plaintext" in applied[0].detail
    assert out == make_record(20, b"\x01") + make_record(22, b"enc")


def test_arming_a_fault_on_bytes_already_sent_is_an_error() -> None:
    engine = FaultEngine()
    engine.process(STREAM)
    with pytest.raises(FaultError, match="already passed"):
        engine.arm(Fault("corrupt", "x", offset=3))
    with pytest.raises(FaultError, match="already passed"):
        engine.arm(Fault("drop", "x", record=0))


@pytest.mark.parametrize(
    ("text", "error"),
    [("client sent", "needs one of"), ("bob sent ServerHello", "ENDPOINT"),
     ("server ate ServerHello", "unknown condition verb"), ("server sent 0 records", ">= 1"),
     ("server handshake-done now", "nothing after")],
)
def test_bad_conditions(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_condition(text)


def test_condition_text_round_trips() -> None:
    for text in ("server sent 2 application_data", "client received ServerHello",
                 "server handshake-done", "client state SSL negotiation"):
        assert parse_condition(text).text() == text


# -- what OpenSSL really does -------------------------------------------------------------
def handshake_with(fault: Fault, client: EndpointConfig | None = None) -> tuple[dict[str, str],
                                                                                Pair]:
    pair = Pair(client)
    pair.fault(fault)
    result = pair.handshake()
    return {k: summarize(v) for k, v in result.outcomes.items()}, pair


def test_openssl_rejects_a_duplicated_serverhello() -> None:
    # The second ServerHello arrives in plaintext once the client expects encrypted records.
    outcomes, pair = handshake_with(Fault("duplicate", "server>client", record=0))
    # The alert's reason string names the protocol differently per release.
    _, alert = choose({"openssl >= 4.0": "tls alert unexpected message",
                       "openssl >= 3.2": "ssl/tls alert unexpected message",
                       "openssl == 3.1": "sslv3 alert unexpected message"})
    assert outcomes == {"client": 'WANT_READ SSL "bad record type"',
                        "server": f'WANT_READ SSL "{alert}"'}
    assert any(isinstance(e, FaultEvent) and e.kind == "duplicate" for e in pair.trace.events)


def test_a_truncated_flight_is_a_deadlock_not_a_hang() -> None:
    outcomes, _ = handshake_with(Fault("truncate", "server>client", offset=500))
    assert outcomes == {"client": "WANT_READ{3} DEADLOCK", "server": "WANT_READ{3} DEADLOCK"}


def test_dropping_the_tls13_middlebox_ccs_is_harmless() -> None:
    outcomes, _ = handshake_with(Fault("drop", "server>client", record=1))
    assert outcomes == {"client": "WANT_READ 1", "server": "WANT_READ 1"}


def test_a_coalesced_tls12_server_flight_is_accepted() -> None:
    outcomes, pair = handshake_with(Fault("coalesce", "server>client", record=0, count=4),
                                    EndpointConfig(role="client", version="1.2"))
    assert outcomes == {"client": "WANT_READ{2} 1", "server": "WANT_READ 1"}
    assert pair.links["server>client"].rx_watcher.messages[:4] == [
        "ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone"]


def test_corrupting_a_clienthello_byte_fails_the_server() -> None:
    outcomes, _ = handshake_with(Fault("corrupt", "client>server", offset=0))
    # OpenSSL 4.0 rejects the record as an unexpected message; 3.x fail it on its length
    # (the reason string changed in 3.5) and send record_overflow.  Measured on each.
    _, expected = choose({
        "openssl >= 4.0": ('WANT_READ SSL "tls alert unexpected message"',
                           'SSL "unexpected message"'),
        "openssl == 3.5": ('WANT_READ SSL "tlsv1 alert record overflow"',
                           'SSL "data length too long"'),
        "openssl >= 3.1 and openssl < 3.5": ('WANT_READ SSL "tlsv1 alert record overflow"',
                                             'SSL "packet length too long"')})
    assert (outcomes["client"], outcomes["server"]) == expected


def test_a_fault_too_late_fails_the_scenario(tmp_path: Path) -> None:
    from biopair.scenario.runner import run_scenario

    path = tmp_path / "late.toml"
    path.write_text('title = "t"\n[[steps]]\ncall = "client connect"\n'
                    '[[steps]]\ncorrupt = "client>server"\noffset = 0\n')
    verdict = run_scenario(load_scenario(path))
    assert [f.key for f in verdict.failures] == ["steps[2].corrupt"]
    assert "already passed" in verdict.failures[0].actual


# -- scenario validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("step", "key", "message"),
    [
        ('corrupt = "server>client"\noffset = -1', "steps[1].offset", ">= 0"),
        ('corrupt = "server>client"', "steps[1]", "needs offset"),
        ('corrupt = "server>client"\noffset = 1\nrecord = 2', "steps[1].offset", "not both"),
        ('corrupt = "server>client"\noffset = 1\nxor = "zz"', "steps[1].xor", "not hex"),
        ('corrupt = "server>client"\noffset = 1\nxor = "00"', "steps[1].xor", "all zero"),
        ('inject = "server>client"', "steps[1].hex", "missing"),
        ('inject = "server>client"\nhex = ""', "steps[1].hex", "at least one byte"),
        ('drop = "server>client"\nat = 3', "steps[1].at", "give record too"),
        ('drop = "client<server"\nrecord = 1', "steps[1].drop", "not one of"),
        ('split = "server>client"\noffset = 3', "steps[1].offset", "does not apply"),
        ('split = "server>client"\nsize = 0', "steps[1].size", ">= 1"),
        ('coalesce = "server>client"\nrecord = 0\ncount = 1', "steps[1].count", "at least 2"),
        ('hold = "server>client"', "steps[1].until", "missing"),
        ('hold = "server>client"\nuntil = "server sent Foo"', "steps[1].until", "needs one"),
        ('move = "server>client"\nbytes = "headers"', "steps[1].bytes", "not one of"),
        ('eof = "server>client"\nlength = 3', "steps[1].length", "does not apply"),
    ],
)
def test_bad_fault_steps_name_the_key(tmp_path: Path, step: str, key: str,
                                      message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'title = "t"\n[[steps]]\n{step}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message


@pytest.mark.parametrize(
    ("table", "key"),
    [('fault = "split"', "sweep.fault"), ('unit = "bits"', "sweep.unit"),
     ("start = 5\nstop = 5", "sweep.stop"), ("stride = 0", "sweep.stride"),
     ("forbid = 3", "sweep.forbid"), ("speed = 1", "sweep.speed")],
)
def test_bad_sweep_tables(tmp_path: Path, table: str, key: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'title = "t"\n[[steps]]\ncall = "client connect"\n[sweep]\n{table}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
