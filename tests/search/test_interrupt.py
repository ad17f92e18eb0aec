"""Ctrl-C and SIGTERM: `biopair run` and `biopair sweep` stop within 2 s, exit 130/143,
print what completed, and leave no process or temporary folder behind.

Each test starts the real command in its own process group (a terminal sends Ctrl-C to the
whole group) with TMPDIR pointed at a fresh directory, waits until it is working, sends
the signal, and then looks at the process table and the temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from biopair.search import interrupt

ROOT = Path(__file__).parents[2]
SWEEP = str(ROOT / "scenarios/faults/sweep-tls13-server-flight.toml")
EXPLORE = str(ROOT / "scenarios/explore/tls13-handshake-want-sequences.toml")
PEER_SWEEP = str(ROOT / "scenarios/peers/openssl-s_server-bytewise-clienthello.toml")
EXIT_WITHIN = 2.0  # seconds from the signal to the command's exit

SIGNALS = [signal.SIGINT, signal.SIGTERM]
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl CLI")


def _processes() -> list[tuple[int, int, str]]:
    """(pid, process group, cwd) of every process we can see."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            pgrp = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        out.append((int(entry.name), pgrp, cwd))
    return out


def _ours(group: int, tmp: Path) -> list[int]:
    # The command's group (itself, its workers) and anything working in its TMPDIR (a peer
    # runs in its own session, in a biopair-peer-* folder there).
    return [pid for pid, pgrp, cwd in _processes()
            if pgrp == group or cwd.startswith(str(tmp))]


def _start(args: list[str], tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    env.pop("CI", None)
    return subprocess.Popen([sys.executable, "-m", "biopair.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for(what: Callable[[], bool], proc: subprocess.Popen[str], limit: float = 4.0
              ) -> None:
    deadline = time.monotonic() + limit
    while not what():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the command never started working"
        time.sleep(0.01)


def _interrupt(proc: subprocess.Popen[str], signum: int, tmp: Path
               ) -> tuple[int, float, str, str]:
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C: the whole group
    else:
        os.kill(proc.pid, signum)  # as `kill PID`: the main process only
    sent = time.monotonic()
    try:
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    took = time.monotonic() - sent
    deadline = time.monotonic() + 1.0
    while _ours(proc.pid, tmp) and time.monotonic() < deadline:
        time.sleep(0.01)  # a reaped worker's exit may take a moment to show
    return proc.returncode, took, out, err


def _left(proc: subprocess.Popen[str], tmp: Path) -> tuple[list[int], list[str]]:
    return _ours(proc.pid, tmp), sorted(p.name for p in tmp.iterdir())


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: interrupt.signal_name(s))
def test_sweep_with_workers_stops_cleanly(tmp_path: Path, signum: int) -> None:
    proc = _start(["sweep", SWEEP, "--jobs", "2"], tmp_path)
    # Working: both workers forked (the main process plus two in its group).
    _wait_for(lambda: sum(g == proc.pid for _, g, _ in _processes()) >= 3, proc)
    time.sleep(0.3)
    code, took, out, err = _interrupt(proc, signum, tmp_path)
    name = interrupt.signal_name(signum)
    assert code == 128 + signum, (out, err)
    assert took < EXIT_WITHIN, took
    assert "Traceback" not in err and err == "", err
    assert f"INTERRUPTED by {name} after " in out, out
    # The classes found so far: a count line per class ("  2 runs  client ..."; a class
    # too long for its line wraps after the count).
    assert re.search(r"^ +[0-9]+ runs?\b", out, re.MULTILINE), out
    assert _left(proc, tmp_path) == ([], [])


@needs_openssl
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: interrupt.signal_name(s))
def test_explore_with_workers_stops_cleanly(tmp_path: Path, signum: int) -> None:
    # A long random search on two workers (its schedules drawn as they are handed out):
    # the signal ends it with what it found so far, and no worker is left.
    proc = _start(["explore", EXPLORE, "--time", "60", "--jobs", "2"], tmp_path)
    _wait_for(lambda: sum(g == proc.pid for _, g, _ in _processes()) >= 3, proc)
    time.sleep(0.5)
    code, took, out, err = _interrupt(proc, signum, tmp_path)
    assert code == 128 + signum, (out, err)
    assert took < EXIT_WITHIN, took
    assert "Traceback" not in err and err == "", err
    assert "interrupted" in out and "behaviour class" in out, out
    assert re.search(r"ran [1-9][0-9]* schedules", out), out
    assert _left(proc, tmp_path) == ([], [])


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: interrupt.signal_name(s))
def test_sweep_of_a_peer_scenario_kills_the_peers(tmp_path: Path, signum: int) -> None:
    proc = _start(["sweep", PEER_SWEEP, "--records", "--jobs", "2"], tmp_path)

    def peers_running() -> bool:
        return any(p.name.startswith("biopair-peer-") for p in tmp_path.iterdir())

    _wait_for(peers_running, proc)
    code, took, out, err = _interrupt(proc, signum, tmp_path)
    assert code == 128 + signum, (out, err)
    assert took < EXIT_WITHIN, took
    assert "Traceback" not in err, err
    assert "INTERRUPTED by" in out, out
    assert _left(proc, tmp_path) == ([], [])


def _peer_run_files(tmp: Path) -> Path:
    scenarios = tmp / "scenarios"
    scenarios.mkdir()
    (scenarios / "a.toml").write_text(
        'title = "in-process handshake"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
        '[result]\nversion = "TLSv1.3"\n')
    # The client reads before anything was written: biopair waits (up to 2 s) for the
    # silent s_server, which is where the signal finds it.
    (scenarios / "b.toml").write_text(
        'title = "a silent peer"\n[server]\nstack = "openssl-cli"\n'
        '[[steps]]\nrun = ["client connect"]\n[[steps]]\nrun = ["client read"]\n')
    (scenarios / "c.toml").write_text(
        'title = "never reached"\n[[steps]]\nrun = ["client connect"]\n')
    return scenarios


@needs_openssl
@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: interrupt.signal_name(s))
def test_run_with_an_external_peer_stops_cleanly(tmp_path: Path, signum: int) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    scenarios = _peer_run_files(tmp_path)
    proc = _start(["run", str(scenarios), "--no-golden"], tmp)

    def peer_waiting() -> bool:
        return any(cwd.startswith(str(tmp)) for _, _, cwd in _processes())

    _wait_for(peer_waiting, proc)
    time.sleep(0.2)  # the handshake is done; biopair is waiting for the silent peer
    code, took, out, err = _interrupt(proc, signum, tmp)
    name = interrupt.signal_name(signum)
    assert code == 128 + signum, (out, err)
    assert took < EXIT_WITHIN, took
    assert "Traceback" not in err and err == "", err
    assert "PASS " in out and "a.toml" in out
    assert out.rstrip().endswith(f"1 passed, 0 failed; interrupted by {name} after 1 of 3 "
                                 f"files"), out
    assert _left(proc, tmp) == ([], [])


def test_signal_names_and_exit_codes() -> None:
    assert interrupt.exit_code(signal.SIGINT) == 130
    assert interrupt.exit_code(signal.SIGTERM) == 143
    assert interrupt.signal_name(signal.SIGTERM) == "SIGTERM"
    assert interrupt.Interrupted(signal.SIGINT).exit_code == 130


def test_a_signal_inside_a_tls_call_waits_for_plain_python() -> None:
    # The handler is asked while a frame of OpenSSL's binding is on the stack (as in a
    # cffi callback): it must not raise there, and must raise once that frame is gone.
    code = compile("handler(signal.SIGINT, sys._getframe())", "<OpenSSL callback>", "exec")
    with interrupt.guard() as g:
        try:
            exec(code, {"__name__": "OpenSSL.SSL", "handler": g._on_signal,
                        "signal": signal, "sys": sys})
        except interrupt.Interrupted:
            pytest.fail("raised inside a TLS library frame")
        assert g.interrupted
        with pytest.raises(interrupt.Interrupted):
            time.sleep(1)  # the retry timer fires in plain Python and raises here
