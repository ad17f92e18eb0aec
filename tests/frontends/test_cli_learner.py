"""``biopair run`` and ``biopair version`` as a learner reads them (issue 16): every
failed expectation, 80 columns, plurals, bad-input files in ``--json``, help that points
to the docs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biopair import cli

HANDSHAKE = """
title = "a handshake whose title is long enough that the PASS line cannot fit in eighty columns"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ 1", server = "WANT_READ 1" }
[[steps]]
call = "client write 5"
expect = "5"
[result]
version = "TLSv1.3"
"""


def _wrong(text: str) -> str:
    return (text.replace('client = "WANT_READ 1"', 'client = "1"')
            .replace('expect = "5"', 'expect = "4"')
            .replace('version = "TLSv1.3"', 'version = "TLSv1.2"'))


def test_a_failing_scenario_reports_every_failed_expectation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hs.toml").write_text(_wrong(HANDSHAKE))
    assert cli.main(["run", "--no-golden", str(tmp_path / "hs.toml")]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "steps[1].expect.client (run client connect, server accept)" in out
    # The write and the [result] are judged too, marked as after the divergence.
    assert "steps[2].expect (call client write; after the run diverged)" in out
    assert "result.version (client) (after the steps; after the run diverged)" in out


def test_json_lists_every_failure_and_marks_the_diverged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hs.toml").write_text(_wrong(HANDSHAKE))
    cli.main(["run", "--json", "--no-golden", str(tmp_path / "hs.toml")])
    failures = json.loads(capsys.readouterr().out)["scenarios"][0]["failures"]
    assert [f["diverged"] for f in failures] == [False, True, True, True]


def test_json_includes_bad_input_files(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.toml").write_text('title = "t"\n[client]\nverison = 1\n')
    assert cli.main(["run", "--json", str(tmp_path / "bad.toml"),
                     str(tmp_path / "none.toml")]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert {"file": str(tmp_path / "bad.toml"), "key": "client.verison",
            "message": "unknown key (did you mean 'version'?)"} in doc["errors"]
    assert {"file": str(tmp_path / "bad.toml"), "key": "steps",
            "message": "missing (a scenario needs at least one [[steps]])"} in doc["errors"]
    assert {"file": str(tmp_path / "none.toml"), "key": "",
            "message": "no such file or directory"} in doc["errors"]


def test_json_shortens_a_huge_pyopenssl_repr(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "big.toml").write_text(
        'title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
        '[[steps]]\ncall = "server write 16384"\n[[steps]]\nmove = "server>client"\n'
        '[[steps]]\ncall = "client read 16384"\n')
    cli.main(["run", "--json", "--no-golden", str(tmp_path / "big.toml")])
    call = json.loads(capsys.readouterr().out)["scenarios"][0]["calls"][-1]
    assert len(call["data"]) == 16384  # the payload itself stays whole
    assert len(call["pyopenssl"]) < 200 and call["pyopenssl"].endswith(" chars)")


@pytest.mark.parametrize("columns", [None, "60", "120"])
def test_run_lines_and_failure_reports_fit_the_width(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        columns: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    width = int(columns) - 1 if columns else 79
    Path("ok.toml").write_text(HANDSHAKE)
    Path("wrong.toml").write_text(_wrong(HANDSHAKE).replace("title = \"a", "title = \"b"))
    cli.main(["run", "--no-golden", "ok.toml", "wrong.toml"])
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= width
    assert "PASS ok.toml" in out and "(5 calls)" in out


def test_plurals_and_the_version_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.toml").write_text(
        'title = "t"\n[[steps]]\ncall = "client connect"\nexpect = "WANT_READ"\n')
    (tmp_path / "bad.toml").write_text("title = 1\n")
    cli.main(["run", "--no-golden", str(tmp_path)])
    out = capsys.readouterr().out
    assert "(1 call)" in out and out.strip().endswith("1 passed, 0 failed, 1 error")
    cli.main(["version"])
    assert "OpenSSL OpenSSL" not in capsys.readouterr().out


def test_help_points_to_the_docs_and_says_the_sweep_link_default(
        capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "docs/scenario-format.md" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["sweep", "--help"])
    assert "else server>client" in " ".join(capsys.readouterr().out.split())
