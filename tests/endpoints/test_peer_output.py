"""An external peer that prints what it receives never stalls on its own output.

openssl s_client -quiet writes every byte it receives to stdout. If nobody read that
pipe, s_client would stop reading its socket once the pipe and the TCP buffers filled
(~4.3 MB here) and the harness would blame the peer; its output goes to a file instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biopair import load_scenario, run_scenario
from tests.helpers import moves

WRITES = 320  # 5 MiB: more than a pipe plus both TCP buffers hold (it stalled at ~4.3 MB)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_s_client_takes_5_mib_without_stalling(tmp_path: Path) -> None:
    steps = "".join('[[steps]]\ncall = "server write"\nsize = 16384\nexpect = "16384"\n'
                    '[[steps]]\nmove = "server>client"\n' for _ in range(WRITES))
    path = tmp_path / "flood.toml"
    path.write_text('title = "flood"\n[client]\nstack = "openssl-cli"\n'
                    '[[steps]]\nrun = ["server accept"]\nexpect = { server = "WANT_READ* 1" }\n'
                    + steps)
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()
    moved = sum(e.nbytes for e in moves(verdict.trace, "server>client"))
    assert moved > WRITES * 16384
