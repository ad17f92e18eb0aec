"""biopair.views.files: atomic writes that never follow a link, reads of regular files
only, and the checks a front end makes before any work."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from biopair.views import files
from biopair.views.files import FileRefused


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_modes_public_honours_the_umask_secret_is_0600(tmp_path: Path, umask: None) -> None:
    files.write_atomic(tmp_path / "public", "text\n")
    files.write_atomic(tmp_path / "secret", b"key\n", secret=True)
    assert stat.S_IMODE((tmp_path / "public").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    os.umask(0o077)
    files.write_atomic(tmp_path / "private", "text\n")
    assert stat.S_IMODE((tmp_path / "private").stat().st_mode) == 0o600
    assert (tmp_path / "public").read_text() == "text\n"
    assert _leftovers(tmp_path) == []


def test_a_crash_mid_write_keeps_the_old_file_and_leaves_no_temp_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "golden"
    target.write_text("old\n")

    def crash(fd: int) -> None:
        raise KeyboardInterrupt  # Ctrl-C between the write and the rename

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(target, "new\n" * 1000)
    assert target.read_text() == "old\n"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("dangling", [False, True])
def test_a_link_at_the_destination_is_refused_not_followed(tmp_path: Path,
                                                           dangling: bool) -> None:
    victim = tmp_path / "victim"
    if not dangling:
        victim.write_text("precious\n")
    link = tmp_path / "out"
    link.symlink_to(victim)
    checks: list[Callable[[], None]] = [lambda: files.write_atomic(link, "x"),
                                        lambda: files.write_atomic(link, "x", secret=True)]
    for check in checks:
        with pytest.raises(FileRefused, match="is a symbolic link, which biopair never "
                                              "follows"):
            check()
    assert files.check_destination(link) == (f"{link}: is a symbolic link, which biopair "
                                             f"never follows (remove it)")
    assert link.is_symlink()
    assert victim.exists() is not dangling
    if not dangling:
        assert victim.read_text() == "precious\n"


def test_a_link_planted_during_the_write_is_replaced_not_followed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    target = tmp_path / "out"
    real = os.fsync

    def plant(fd: int) -> None:
        real(fd)
        if not target.is_symlink():
            target.symlink_to(victim)  # after the check, before the rename

    monkeypatch.setattr(os, "fsync", plant)
    files.write_atomic(target, "mine\n")
    assert not target.is_symlink() and target.read_text() == "mine\n"
    assert victim.read_text() == "precious\n"


def test_check_destination_names_each_problem_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "file").write_text("")
    assert files.check_destination(tmp_path / "new") is None
    assert files.check_destination(tmp_path / "file") is None
    assert files.check_destination(tmp_path / "dir", what="--pcap ") == (
        f"--pcap {tmp_path / 'dir'}: is a directory, not a regular file")
    assert files.check_destination(tmp_path / "fifo") == (
        f"{tmp_path / 'fifo'}: is a FIFO, not a regular file")
    assert files.check_destination(tmp_path / "missing" / "out") == (
        f"{tmp_path / 'missing' / 'out'}: directory {tmp_path / 'missing'} does not exist")
    assert files.check_destination(tmp_path / "file" / "out") == (
        f"{tmp_path / 'file' / 'out'}: {tmp_path / 'file'} is not a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "fifo", "file"]
    if Path("/proc/version").exists():
        assert files.check_destination("/proc/version") == (
            "/proc/version: cannot create a file in /proc: the filesystem refuses new files")
    if Path("/dev/null").exists():
        assert files.check_destination("/dev/null") == (
            "/dev/null: is a character device, not a regular file")


def test_read_regular_reads_only_regular_files(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo")  # opening it for reading would block without O_NONBLOCK
    assert files.read_regular(tmp_path / "file") == b"data"
    assert files.read_regular(tmp_path / "missing") is None
    for name, problem in (("link", "is a symbolic link"), ("dir", "is a directory"),
                          ("fifo", "is a FIFO, not a regular file")):
        with pytest.raises(FileRefused, match=problem):
            files.read_regular(tmp_path / name)
    with pytest.raises(FileRefused, match="is 4 bytes, over the 3-byte limit"):
        files.read_regular(tmp_path / "file", limit=3)
    assert files.read_regular(tmp_path / "file", limit=4) == b"data"
