"""The command line: passing, failing and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biopair.cli import main

HANDSHAKE = """
title = "handshake"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ 1", server = "WANT_READ 1" }
[result]
version = "TLSv1.3"
"""


def test_run_passes_and_summarises(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # one line, however long the temporary path
    (tmp_path / "hs.toml").write_text(HANDSHAKE)
    assert main(["run", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"PASS {tmp_path / 'hs.toml'}  handshake  (4 calls)" in out
    assert out.strip().endswith("1 passed, 0 failed")


def test_a_failed_expectation_shows_expected_actual_step_and_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hs.toml").write_text(HANDSHAKE.replace('server = "WANT_READ 1"',
                                                        'server = "1"'))
    assert main(["run", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "steps[1].expect.server (run client connect, server accept)" in out
    assert "expected: 1" in out
    assert "actual:   WANT_READ 1" in out
    assert "link: memory; deliver: all" in out
    assert "Call trace (4 calls):" in out
    assert "[pyOpenSSL: WantReadError()]" in out
    assert out.strip().endswith("0 passed, 1 failed")


def test_result_mismatch_names_the_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "hs.toml").write_text(HANDSHAKE.replace("TLSv1.3", "TLSv1.2"))
    assert main(["run", str(tmp_path / "hs.toml")]) == 1
    out = capsys.readouterr().out
    assert "result.version (client)" in out
    assert "expected: 'TLSv1.2'" in out and "actual:   'TLSv1.3'" in out


def test_json_lists_every_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hs.toml").write_text(HANDSHAKE)
    assert main(["run", "--json", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    # Every stack found, installed or not (wolfSSL, tlslite-ng, Twisted, trio: "not installed").
    assert set(doc["versions"]) == {"biopair", "pyOpenSSL", "cryptography", "OpenSSL",
                                    "libssl", "wolfSSL", "tlslite-ng", "Twisted", "trio"}
    (scenario,) = doc["scenarios"]
    assert scenario["file"] == str(tmp_path / "hs.toml")
    assert scenario["title"] == "handshake"
    assert scenario["passed"] is True
    assert [(c["endpoint"], c["op"], c["ret"], c["error"]) for c in scenario["calls"]] == [
        ("client", "connect", -1, "WANT_READ"),
        ("server", "accept", -1, "WANT_READ"),
        ("client", "connect", 1, "NONE"),
        ("server", "accept", 1, "NONE"),
    ]


def test_shutdown_zero_is_not_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "s.toml").write_text(HANDSHAKE + """
[[steps]]
call = "client shutdown"
expect = "0"
""")
    assert main(["run", "--json", str(tmp_path)]) == 0
    calls = json.loads(capsys.readouterr().out)["scenarios"][0]["calls"]
    assert calls[-1]["op"] == "shutdown"
    assert (calls[-1]["ret"], calls[-1]["error"]) == (0, None)
    assert calls[-1]["pyopenssl"] == "return False"


def test_version_prints_the_stack(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("biopair ") and "\nOpenSSL " in out
    # OpenSSL_version() names itself: the line is not "OpenSSL OpenSSL 4.0.3".
    assert "OpenSSL OpenSSL" not in out


# -- moved from test_cli_no_golden.py (same subject) --

def test_cli_no_golden_ignores_a_golden_trace_that_differs(tmp_path: Path) -> None:
    from biopair.cli import main

    scenario = tmp_path / "s.toml"
    scenario.write_text('title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n')
    (tmp_path / "s.trace").write_text("not the trace\n")
    assert main(["run", "-q", str(scenario)]) == 1  # compared: differs
    assert main(["run", "-q", "--no-golden", str(scenario)]) == 0
