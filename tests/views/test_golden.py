"""Golden traces: the whole create -> pass -> change -> fail -> update -> pass cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair import cli
from biopair.views import golden

SCENARIO = """
title = "a handshake"
[[steps]]
run = ["client connect", "server accept"]
"""
CHANGED = SCENARIO + """
[[steps]]
call = "client write"
data = "one more record"
"""


def _scenario(pytester: pytest.Pytester, text: str = SCENARIO) -> Path:
    path = pytester.path / "scenarios" / "hs.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def test_golden_cycle(pytester: pytest.Pytester) -> None:
    path = _scenario(pytester)
    trace = path.with_suffix(".trace")
    # Without a golden file the scenario is not compared (opt-in per file) ...
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not trace.exists()
    # ... unless --biopair-golden requires one, which says how to create it.
    result = pytester.runpytest("--biopair-golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hs.trace: no golden trace; create or update it with "
                                 "`pytest --biopair-update*"])
    # create
    pytester.runpytest("--biopair-update").assert_outcomes(passed=1)
    assert trace.read_text().startswith(f"# {golden.FORMAT}: hs.toml\n")
    # pass
    pytester.runpytest("--biopair-golden").assert_outcomes(passed=1)
    # change -> fail with a unified diff and an .obtained file
    path.write_text(CHANGED)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hs.trace: trace differs from the golden trace*",
                                 "+++ *hs.trace.obtained",
                                 '+{"call":4,*"event":"record"*', '+{*"op":"write"*',
                                 "*--biopair-update*"])
    assert path.with_suffix(".trace.obtained").exists()
    # update -> pass, and the stale .obtained is gone
    pytester.runpytest("--biopair-update").assert_outcomes(passed=1)
    pytester.runpytest().assert_outcomes(passed=1)
    assert not path.with_suffix(".trace.obtained").exists()


def test_version_lines_are_not_compared(pytester: pytest.Pytester) -> None:
    path = _scenario(pytester)
    pytester.runpytest("--biopair-update").assert_outcomes(passed=1)
    trace = path.with_suffix(".trace")
    text = trace.read_text().replace("# OpenSSL: ", "# OpenSSL: 0.9.8 was ")
    trace.write_text(text)
    pytester.runpytest().assert_outcomes(passed=1)
    # ... but a real difference mentions the version change as a likely cause.
    trace.write_text(text.replace('"length":', '"length":1', 1))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*versions changed since the golden was written: OpenSSL*"])


def test_ecdsa_scenarios_get_no_golden(pytester: pytest.Pytester) -> None:
    path = _scenario(pytester, SCENARIO + '[server]\ncert = "ecdsa-p256"\n')
    result = pytester.runpytest("--biopair-update", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*ECDSA signatures vary in length*"])
    assert not path.with_suffix(".trace").exists()


def test_cli_update_then_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenarios" / "hs.toml"
    path.parent.mkdir()
    path.write_text(SCENARIO)
    assert cli.main(["run", "--golden", str(path)]) == 1
    assert "no golden trace" in capsys.readouterr().out
    assert cli.main(["run", "--update", str(path)]) == 0
    assert "golden trace created" in capsys.readouterr().out
    assert cli.main(["run", str(path)]) == 0
    path.write_text(CHANGED)
    assert cli.main(["run", "-q", str(path)]) == 1
    assert "trace differs from the golden trace" in capsys.readouterr().out


def test_unstable_rerun_is_not_written(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    result = golden.check(path, "# h\n{\"a\":1}\n", update=True, rerun="# h\n{\"a\":2}\n")
    assert result.status == "unstable" and "two runs gave different traces" in result.message
    assert not golden.golden_path(path).exists()
