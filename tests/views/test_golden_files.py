"""Golden files are data: a planted link or a strange file next to a scenario is refused
in one line before the scenario runs, never followed, never shown, and never hangs."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from biopair import cli
from biopair.scenario import runner
from biopair.views import golden
from tests.helpers import fails_after

SCENARIO = """
title = "a handshake"
[[steps]]
run = ["client connect", "server accept"]
"""
STALE = f"# {golden.FORMAT}: hs.toml\n{{\"event\":\"not this run\"}}\n"


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Counts the scenarios the CLI runs (they must not run when a file is refused)."""
    ran: list[Path] = []
    real = runner.run_scenario

    def counting(scenario: object, **kwargs: object) -> runner.Verdict:
        ran.append(Path(scenario.path))  # type: ignore[attr-defined]
        return real(scenario, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "run_scenario", counting)
    return ran


@pytest.fixture
def no_hang() -> Iterator[None]:
    """Fail, instead of hanging the suite, if the test blocks for 3 s (a FIFO opened)."""
    with fails_after(3.0, "blocked for 3 s"):
        yield


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "hs.toml"
    path.write_text(SCENARIO)
    return path


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_plain_run_does_not_write_through_a_planted_obtained_link(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Path]) -> None:
    path = _scenario(tmp_path)
    path.with_suffix(".trace").write_text(STALE)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "hs.trace.obtained").symlink_to(victim)
    assert cli.main(["run", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{tmp_path / 'hs.trace.obtained'}: is a symbolic link" in line
    assert victim.read_text() == "precious\n"
    assert (tmp_path / "hs.trace.obtained").is_symlink()
    assert runs == []


def test_update_does_not_write_through_a_symlinked_golden(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Path]) -> None:
    path = _scenario(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    path.with_suffix(".trace").symlink_to(victim)
    assert cli.main(["run", "--update", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"{tmp_path / 'hs.trace'}: is a symbolic link" in line
    assert victim.read_text() == "precious\n"
    assert path.with_suffix(".trace").is_symlink()
    assert runs == []


def test_the_golden_diff_never_shows_a_symlinked_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Path]) -> None:
    path = _scenario(tmp_path)
    secret = tmp_path / "secret"
    secret.write_text("SECRET-TOKEN-1234\n")
    path.with_suffix(".trace").symlink_to(secret)
    assert cli.main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "SECRET-TOKEN" not in out + err
    assert f"{tmp_path / 'hs.trace'}: is a symbolic link" in _one_line(err)
    assert not (tmp_path / "hs.trace.obtained").exists()
    assert runs == []


@pytest.mark.parametrize("kind", ["directory", "fifo"])
@pytest.mark.parametrize("name", ["hs.trace", "hs.trace.obtained"])
def test_a_golden_that_is_not_a_regular_file_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Path],
        no_hang: None, kind: str, name: str) -> None:
    path = _scenario(tmp_path)
    if name.endswith(".obtained"):
        path.with_suffix(".trace").write_text(STALE)
    target = tmp_path / name
    if kind == "directory":
        target.mkdir()
    else:
        os.mkfifo(target)
    assert cli.main(["run", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"{target}: is a {'directory' if kind == 'directory' else 'FIFO'}")
    assert runs == []


def test_a_refused_golden_stops_only_its_own_scenario(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], runs: list[Path]) -> None:
    bad = _scenario(tmp_path)
    (tmp_path / "hs.trace").mkdir()
    good = tmp_path / "ok.toml"
    good.write_text(SCENARIO)
    assert cli.main(["run", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert _one_line(err).startswith(f"{bad.with_suffix('.trace')}: is a directory")
    assert runs == [good]
    assert "1 passed, 0 failed, 1 error" in out


def test_no_golden_does_not_look_at_golden_files(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _scenario(tmp_path)
    (tmp_path / "hs.trace").mkdir()
    assert cli.main(["run", "--no-golden", str(path)]) == 0


def test_a_mismatch_replaces_an_old_obtained_file(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    path.with_suffix(".trace").write_text(STALE)
    stale = tmp_path / "hs.trace.obtained"
    stale.write_text("old\n")
    old = stale.stat().st_ino
    assert cli.main(["run", "-q", str(path)]) == 1
    assert stale.read_text().startswith(f"# {golden.FORMAT}: hs.toml\n")
    assert stale.stat().st_ino != old  # renamed into place, not rewritten in place
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_update_that_fails_mid_write_leaves_the_old_golden_intact(tmp_path: Path) -> None:
    resource = pytest.importorskip("resource")
    path = _scenario(tmp_path)
    trace = path.with_suffix(".trace")
    trace.write_text(STALE)
    big = f"# {golden.FORMAT}: hs.toml\n" + '{"event":"x"}\n' * 10_000
    # The file-size limit makes the write fail part-way (EFBIG), as a full disk would.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
    try:
        with pytest.raises(Exception) as caught:
            golden.check(path, big, update=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old_handler)
    assert caught.type.__name__ == "FileRefused"
    assert str(caught.value).startswith(f"{trace}: cannot be written: file too large")
    assert trace.read_text() == STALE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hs.toml", "hs.trace"]


def test_the_plugin_refuses_a_planted_obtained_link(pytester: pytest.Pytester) -> None:
    path = pytester.path / "scenarios" / "hs.toml"
    path.parent.mkdir()
    path.write_text(SCENARIO)
    path.with_suffix(".trace").write_text(STALE)
    victim = pytester.path / "victim"
    victim.write_text("precious\n")
    path.with_suffix(".trace.obtained").symlink_to(victim)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*hs.trace.obtained: is a symbolic link, which biopair "
                                 "never follows (remove it)"])
    assert "Traceback" not in result.stdout.str()
    assert victim.read_text() == "precious\n"


def test_a_concurrent_reader_never_sees_a_partial_golden(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    trace = path.with_suffix(".trace")
    texts = [f"# {golden.FORMAT}: hs.toml\n" + f'{{"event":"{c}"}}\n' * 20_000
             for c in "ab"]
    trace.write_text(texts[0])
    seen: set[int] = set()
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            seen.add(len(trace.read_text()))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(60):
            golden.check(path, texts[i % 2 == 0], update=True)
    finally:
        done.set()
        thread.join()
    assert seen <= {len(t) for t in texts}, sorted(seen)[:5]
