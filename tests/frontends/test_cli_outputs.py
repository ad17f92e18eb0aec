"""``biopair run --pcap/--keylog`` and ``biopair index``: output paths are checked before
any scenario runs, written atomically, never through a link; secrets are 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from biopair import cli
from biopair.scenario import runner
from tests.helpers import fails_after

SCENARIO = """
title = "a handshake"
tags = ["handshake"]
about = "A handshake."
[[steps]]
run = ["client connect", "server accept"]
"""


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Counts the scenarios the CLI runs (none may run when an output path is bad)."""
    ran: list[object] = []
    real = runner.run_scenario

    def counting(scenario: object, **kwargs: object) -> runner.Verdict:
        ran.append(scenario)
        return real(scenario, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runner, "run_scenario", counting)
    return ran


@pytest.fixture(autouse=True)
def no_hang() -> Iterator[None]:
    """Fail, instead of hanging the suite, if a test blocks for 3 s (a FIFO opened)."""
    with fails_after(3.0, "blocked for 3 s"):
        yield


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "hs.toml"
    path.write_text(SCENARIO)
    return path


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _bad_destination(tmp_path: Path, kind: str) -> tuple[Path, str]:
    if kind == "missing directory":
        return tmp_path / "no-such-dir" / "out", "does not exist"
    if kind == "directory":
        (tmp_path / "adir").mkdir()
        return tmp_path / "adir", "is a directory, not a regular file"
    if kind == "proc":
        return Path("/proc/version"), "cannot create a file in /proc"
    if kind == "fifo":
        os.mkfifo(tmp_path / "fifo")
        return tmp_path / "fifo", "is a FIFO, not a regular file"
    if kind == "not a directory":
        (tmp_path / "file").write_text("")
        return tmp_path / "file" / "out", "is not a directory"
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (tmp_path / "link").symlink_to(victim)
    return tmp_path / "link", "is a symbolic link, which biopair never follows"


KINDS = ["missing directory", "directory", "proc", "fifo", "not a directory", "symlink"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("option", ["--pcap", "--keylog"])
def test_a_bad_output_path_is_one_line_before_any_run(
        tmp_path: Path, scenario: Path, capsys: pytest.CaptureFixture[str],
        runs: list[object], option: str, kind: str) -> None:
    if kind == "proc" and not Path("/proc/version").exists():
        pytest.skip("no /proc on this system")
    target, problem = _bad_destination(tmp_path, kind)
    assert cli.main(["run", option, str(target), str(scenario)]) == 2
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert line.startswith(f"biopair: {option} {target}"), line
    assert problem in line, line
    assert runs == [] and out == ""
    if kind == "symlink":
        assert (tmp_path / "victim").read_text() == "precious\n"


def test_pcap_and_keylog_may_not_name_the_same_file(
        tmp_path: Path, scenario: Path, capsys: pytest.CaptureFixture[str],
        runs: list[object]) -> None:
    out = tmp_path / "out"
    assert cli.main(["run", "--pcap", str(out), "--keylog", str(out), str(scenario)]) == 2
    assert "name the same file" in _one_line(capsys.readouterr().err)
    assert runs == []


def test_the_key_log_and_the_capture_are_private(tmp_path: Path, scenario: Path) -> None:
    keys, capture = tmp_path / "keys.txt", tmp_path / "out.pcapng"
    old = os.umask(0o022)
    try:
        assert cli.main(["run", "-q", "--keylog", str(keys), "--pcap", str(capture),
                         str(scenario)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert stat.S_IMODE(capture.stat().st_mode) == 0o600
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keys.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_an_existing_output_file_is_replaced_not_rewritten(tmp_path: Path,
                                                           scenario: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("old\n")
    keys.chmod(0o644)
    other = tmp_path / "hard-link"
    os.link(keys, other)
    assert cli.main(["run", "-q", "--keylog", str(keys), str(scenario)]) == 0
    assert "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in keys.read_text()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert other.read_text() == "old\n"  # a new file was renamed in: the old inode kept


def test_no_key_log_is_written_unless_asked(tmp_path: Path, scenario: Path) -> None:
    before = set(tmp_path.iterdir())
    assert cli.main(["run", "-q", str(scenario)]) == 0
    assert set(tmp_path.iterdir()) == before


def test_index_does_not_write_through_a_linked_readme(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "scenarios"
    (root / "tls").mkdir(parents=True)
    (root / "tls" / "hs.toml").write_text(SCENARIO)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    (root / "README.md").symlink_to(victim)
    assert cli.main(["index", str(root)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"{root / 'README.md'}: is a symbolic link"), line
    assert victim.read_text() == "precious\n"
    (root / "README.md").unlink()
    assert cli.main(["index", str(root)]) == 0
    readme = root / "README.md"
    assert "#### a handshake" in readme.read_text()
    assert sorted(p.name for p in root.iterdir()) == ["README.md", "tls"]
