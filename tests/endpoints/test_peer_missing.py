"""A scenario whose external TLS program is not installed is skipped, saying what to install.

In CI (CI=true), which installs the programs, the peer's own error surfaces instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "scenarios" / "peers" / "gnutls-serv-bytewise-clienthello.toml"


def _run(env_ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PATH"] = "/nonexistent"  # no gnutls-serv, no openssl
    if env_ci is not None:
        env["CI"] = env_ci
    return subprocess.run([sys.executable, "-m", "biopair.cli", "run", str(PEER)],
                          capture_output=True, text=True, env=env, timeout=60)


def test_missing_peer_program_skips_with_the_package_to_install() -> None:
    out = _run(None)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SKIP" in out.stdout
    # the SKIP line is wrapped to 80 columns
    assert "server.stack = 'gnutls-cli' needs gnutls-serv, which is not installed " \
           "(Debian: apt-get install gnutls-bin)" in " ".join(out.stdout.split())
    assert out.stdout.strip().endswith("0 passed, 0 failed, 1 skipped")


def test_in_ci_a_missing_peer_program_is_an_error() -> None:
    out = _run("true")
    assert out.returncode == 2
    assert "gnutls-serv is not installed" in out.stderr
    assert "Traceback" not in out.stderr
