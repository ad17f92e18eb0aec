"""biopair diff: first divergence, two-column view, exit codes 0/1/2."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from biopair.cli import main

EXAMPLES = Path(__file__).parents[2] / "docs" / "examples"


def _doc(calls: list[tuple[str, str, int | None, str | None]], openssl: str) -> dict[str, Any]:
    return {"versions": {"OpenSSL": openssl}, "scenarios": [{
        "file": "s.toml", "passed": True,
        "calls": [{"endpoint": e, "op": o, "ret": r, "error": err, "reasons": []}
                  for e, o, r, err in calls]}]}


def _save(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_same_runs_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc([("client", "connect", -1, "WANT_READ"), ("client", "connect", 1, "NONE")], "3")
    assert main(["diff", _save(tmp_path, "a", doc), _save(tmp_path, "b", doc)]) == 0
    assert "1 scenario takes the same turns, 0 diverge" in capsys.readouterr().out


def test_first_divergence_is_shown_with_context(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    common = [("client", "connect", -1, "WANT_READ")] * 5
    a = _doc([*common, ("client", "connect", -1, "SYSCALL")], "OpenSSL 3.1.4")
    b = _doc([*common, ("client", "connect", -1, "SSL"), ("client", "read", None, "SSL")],
             "OpenSSL 4.0.3")
    assert main(["diff", "--context", "2", _save(tmp_path, "a", a),
                 _save(tmp_path, "b", b)]) == 1
    out = capsys.readouterr().out
    assert "first divergence at call #5 (A made 6 calls, B 7)" in out
    assert "... 3 equal calls" in out
    assert "!= client connect -1 SYSCALL" in out
    assert "| client connect -1 SSL" in out
    assert "(no call)" in out and "client read ? SSL" in out  # hidden ret shown as ?
    assert "OpenSSL 3.1.4" in out and "OpenSSL 4.0.3" in out


def test_scenario_missing_on_one_side(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = _doc([("client", "connect", 1, "NONE")], "3")
    b: dict[str, Any] = {"versions": {}, "scenarios": []}
    assert main(["diff", _save(tmp_path, "a", a), _save(tmp_path, "b", b)]) == 1
    assert "only in A" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "message"), [
    ("not json", "not JSON"),
    ('{"x": 1}', "not a `biopair run --json` document"),
    ('{"scenarios": [{"file": "x"}]}', 'scenarios[1] has no "file" and "calls"'),
])
def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str,
                           message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = _save(tmp_path, "good", _doc([], "3"))
    assert main(["diff", str(bad), good]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", str(tmp_path / "nope.json"), str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_shipped_example_shows_the_openssl_40_divergence(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES.parent.parent)
    code = main(["diff", "docs/examples/run-ossl31.json", "docs/examples/run-ossl40.json"])
    out = capsys.readouterr().out
    assert code == 1
    assert "!= client connect -1 SYSCALL" in out and "| client connect -1 SSL" in out
    assert (EXAMPLES / "diff-ossl31-ossl40.txt").read_text().strip() == out.strip()


def test_diff_fits_80_columns_and_never_cuts_a_reason(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reason = "decryption failed or bad record mac"
    a = _doc([("client", "connect", -1, "WANT_READ"), ("client", "read", -1, "SSL")], "3")
    b = _doc([("client", "connect", -1, "WANT_READ"), ("client", "read", -1, "SYSCALL")],
             "4")
    a["scenarios"][0]["calls"][1]["reasons"] = [reason]
    assert main(["diff", _save(tmp_path, "a", a), _save(tmp_path, "b", b)]) == 1
    out = capsys.readouterr().out
    assert reason in out and "..." not in out.replace("... 1 equal call", "")
    assert max(len(line) for line in out.splitlines()[2:]) <= 79
    assert "versions" not in out or "OpenSSL OpenSSL" not in out
