"""Progress bars (issue 16): drawn on a terminal only, never with NO_COLOR or --quiet."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

SWEEP = str(Path(__file__).parents[2] / "scenarios" / "faults" /
            "sweep-tls13-server-flight.toml")


def _stderr_on_a_terminal(*extra: str, env: dict[str, str] | None = None) -> str:
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "biopair.cli", "sweep", SWEEP, "--records", "--jobs", "1",
             *extra], stdout=subprocess.PIPE, stderr=follower, timeout=60,
            env={**os.environ, **(env or {})})
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert proc.returncode == 0
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)


def test_a_sweep_on_a_terminal_shows_progress() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    text = _stderr_on_a_terminal(env={"TERM": "xterm"} | env)
    if "NO_COLOR" in os.environ:
        pytest.skip("NO_COLOR is set in this environment")
    assert "/9 [" in text and "run/s" in text


@pytest.mark.parametrize(("extra", "env"), [(("--quiet",), {}), ((), {"NO_COLOR": "1"})])
def test_no_progress_with_quiet_or_no_color(extra: tuple[str, ...],
                                            env: dict[str, str]) -> None:
    assert _stderr_on_a_terminal(*extra, env=env) == ""


def test_no_progress_when_stderr_is_not_a_terminal() -> None:
    proc = subprocess.run([sys.executable, "-m", "biopair.cli", "sweep", SWEEP, "--records",
                           "--jobs", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == ""
