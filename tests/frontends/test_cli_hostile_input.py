"""The command line under hostile input: one escaped line and exit 2 per bad file, the
other files still run and the summary is printed; sweep options and positions checked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from biopair.cli import main
from biopair.scenario import runner
from biopair.scenario.loader import Scenario, SweepSpec, load_scenario
from biopair.search.sweep import positions

GOOD = 'title = "good"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
SWEEP = str(Path(__file__).parents[2] / "scenarios/faults/sweep-tls13-server-flight.toml")


def test_a_fifo_is_one_line_not_a_hang(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    assert main(["run", str(fifo)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a regular file (a FIFO)" in err


def test_dev_zero_is_one_line_not_memory_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "/dev/zero"]) == 2
    assert "not a regular file (a character device)" in capsys.readouterr().err


def test_an_error_line_escapes_a_key_with_newline_and_ansi_escape(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "k.toml").write_text('title = "t"\n"x\\n\\u001b[31my" = 1\n' + GOOD[15:])
    assert main(["run", str(tmp_path / "k.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "x\\ny\\x1b" not in err and "x\\n\\x1b[31my: unknown key" in err


def test_a_bad_file_in_a_directory_does_not_stop_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.toml").write_text(GOOD)
    (tmp_path / "b.toml").write_text('title = "t"\n[client]\nverify_host = "a b"\n'
                                     + GOOD[15:])
    (tmp_path / "c.toml").write_text(GOOD)
    assert main(["run", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out.count("PASS") == 2
    assert out.rstrip().endswith("2 passed, 0 failed, 1 error")
    assert err.count("\n") == 1 and "b.toml: client.verify_host:" in err


def test_a_harness_bug_in_one_file_does_not_stop_the_others(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.toml").write_text(GOOD.replace("good", name))
    real = runner.run_scenario

    def flaky(scenario: Scenario, **kw: object) -> runner.Verdict:
        if scenario.title == "b":
            raise RuntimeError("a bug")
        return real(scenario, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "run_scenario", flaky)
    assert main(["run", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out.count("PASS") == 2 and "2 passed, 0 failed, 1 error" in out
    assert "b.toml: internal error" in err and "RuntimeError: a bug" in err


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "1e300", "x"])
def test_sweep_timeout_must_be_finite_and_positive(
        value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", SWEEP, "--timeout", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--timeout" in err


@pytest.mark.parametrize("value", ["-1", "100000"])
def test_sweep_jobs_has_a_range(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", SWEEP, "--jobs", value])
    assert info.value.code == 2


def test_sweep_stop_is_clamped_to_the_stream(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(Path(SWEEP).read_text().replace("[sweep]", f"[sweep]\nstop = {2**40}"))
    scenario = load_scenario(path)
    assert scenario.sweep is not None and scenario.sweep.stop == 2**40
    assert positions(scenario, SweepSpec(unit="records", stop=2**40)) == list(range(9))
    assert len(positions(scenario, scenario.sweep)) < 10_000
