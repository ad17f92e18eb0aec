"""pyOpenSSL #176 through biopair: Connection.sendall() on a real socket raises a bare
WantWriteError after some records went out; the application's retry re-sends them and
the transport oracle reports the duplicated bytes."""

from __future__ import annotations

from pathlib import Path

from biopair.scenario.conditions import choose
from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import run_scenario

STACK = "python:biopair.endpoints.wrappers.sendall:make"


def _scenario(tmp_path: Path, size: int, reads: int) -> Path:
    # The server reads one 16 KiB record per call: ``reads`` calls after the send's.
    path = tmp_path / "sendall.toml"
    path.write_text(
        f'title = "pyOpenSSL #176"\n[client]\nstack = "{STACK}"\n'
        '[[steps]]\nrun = ["client handshake", "server accept"]\n'
        f'[[steps]]\nrun = ["client send {size}", "server read"]\n'
        + '[[steps]]\nrun = ["server read"]\n' * reads)
    return path


def test_a_sendall_that_fits_the_socket_buffer_delivers_once(tmp_path: Path) -> None:
    verdict = run_scenario(load_scenario(_scenario(tmp_path, 40_000, 2)))
    assert verdict.passed, verdict.report()


def test_a_retried_sendall_duplicates_records_and_the_oracle_says_so(tmp_path: Path) -> None:
    verdict = run_scenario(load_scenario(_scenario(tmp_path, 70_000, 5)))
    assert not verdict.passed
    # The retry starts again from the first byte, a moved buffer for SSL_write: pyOpenSSL
    # >= 25.2 sets ACCEPT_MOVING_WRITE_BUFFER and the retry re-sends (#176); before, OpenSSL
    # refuses it with "bad write retry" and nothing is sent twice (measured on 23.2, 24.1
    # and 25.0 against 25.3 and 26.4).
    _, moving = choose({"pyopenssl >= 25.2": True, "pyopenssl < 25.2": False})
    if not moving:
        (send,) = [c for c in verdict.trace.calls if c.op == "send"]
        assert send.error == "SSL" and "bad write retry" in send.reasons[0], verdict.report()
        assert not any(f.key.startswith("oracle.") for f in verdict.failures)
        return
    oracle = [f for f in verdict.failures if f.key == "oracle.client->server"]
    assert oracle, verdict.report()
    assert "differing from byte" in oracle[0].actual, oracle[0]
