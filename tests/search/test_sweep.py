"""Sweeps: every record of the server's TLS 1.3 stream under each fault, and the CLI.

The parametrized tests run one fault position each, so pytest-xdist spreads them; they
cover records (9 positions per kind) and a stride of the server's bytes, well under a
minute on 2 cores.  ``biopair sweep`` runs the full byte sweep (docs/faults.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.cli import main
from biopair.scenario.loader import SweepSpec, load_scenario
from biopair.search.sweep import positions, ranges, run_point, sweep

SCENARIO = str(Path(__file__).parents[2] / "scenarios/faults/sweep-tls13-server-flight.toml")
RECORDS = 9  # ServerHello, CCS, 4 encrypted handshake records, 2 tickets, "ping"


def test_the_swept_stream_has_the_expected_records() -> None:
    spec = SweepSpec(unit="records")
    assert positions(load_scenario(SCENARIO), spec) == list(range(RECORDS))


@pytest.mark.parametrize("kind", ["corrupt", "drop", "duplicate", "truncate", "eof"])
@pytest.mark.parametrize("record", range(RECORDS))
def test_record_faults_never_hang(kind: str, record: int) -> None:
    result = run_point(SCENARIO, SweepSpec(fault=kind, unit="records"), record)
    assert result.error is None and not result.hang
    if kind == "corrupt" and record != 1:
        # A flipped last byte is a flipped AEAD tag (or ServerHello byte): a MAC failure.
        assert "bad record mac" in result.klass, result.klass
    if kind == "eof":
        assert 'SSL "unexpected eof while reading"' in result.klass


@pytest.mark.parametrize("offset", range(0, 2535, 97))
def test_strided_byte_corruption_never_hangs(offset: int) -> None:
    result = run_point(SCENARIO, SweepSpec(), offset)
    assert result.error is None and not result.hang, result


def test_sweep_report_groups_classes_and_passes() -> None:
    report = sweep(load_scenario(SCENARIO), SweepSpec(fault="eof", unit="records"))
    assert report.passed
    assert sum(len(v) for v in report.classes().values()) == RECORDS
    text = report.summary()
    assert "hangs: 0, harness exceptions: 0, forbidden: 0" in text and text.endswith("PASS")


def test_a_forbidden_class_fails_the_sweep() -> None:
    spec = SweepSpec(fault="truncate", unit="records", forbid=("DEADLOCK",))
    report = sweep(load_scenario(SCENARIO), spec)
    assert not report.passed and report.forbidden


def test_ranges_compresses_runs() -> None:
    assert ranges([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"
    assert ranges([1, 3, 5, 9], step=2) == "1-5, 9"
    assert ranges(list(range(20)), step=2, limit=3) == "0, 1, 2, ... (17 more)"


def test_cli_sweep_with_workers(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sweep", SCENARIO, "--records", "--fault", "corrupt", "--jobs", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    flat = " ".join(out.split())  # wrapped to 80 columns
    assert "corrupt xor ff on server>client, records 0..8 (9 runs, 2 jobs" in flat
    assert 'client read SSL "decryption failed or bad record mac"' in flat
    assert max(len(line) for line in out.splitlines()) <= 79


def test_a_handshake_that_never_finished_is_not_ok() -> None:
    # The stream cut before the ServerHello stalls the handshake: this class once read
    # "client ok until read WANT_READ | server ok until write WANT_READ | DEADLOCK".
    result = run_point(SCENARIO, SweepSpec(fault="truncate", unit="records"), 0)
    assert result.klass == ("client handshake unfinished, last read WANT_READ | server "
                            "handshake unfinished, last write WANT_READ | DEADLOCK")


def test_cli_sweep_exits_1_on_a_forbidden_result(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    text = Path(SCENARIO).read_text().replace('forbid = ["LIMIT"]', 'forbid = ["DEADLOCK"]')
    path = tmp_path / "s.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--records", "--fault", "truncate", "--jobs", "1"]) == 1
    assert capsys.readouterr().out.rstrip().endswith("FAIL")


@pytest.mark.parametrize("args", [["--xor", "00"], ["--xor", "xyz"], ["--stride", "0"],
                                  ["--fault", "split"]])
def test_cli_sweep_bad_options_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        code = main(["sweep", SCENARIO, *args])
        raise SystemExit(code)
    assert info.value.code == 2


def test_a_corrupted_sni_does_not_crash_the_harness() -> None:
    # Regression: the client>server byte sweep flipped SNI bytes (offsets 1539-1549) and
    # Endpoint.state() failed to decode the server's view of the name.
    result = run_point(SCENARIO, SweepSpec(link="client>server"), 1540)
    assert result.error is None, result.error
