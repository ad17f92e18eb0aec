"""Every memory-link scenario behaves the same on a socket link, except where it can't.

Faults, record stops, holds, EOF and runs share one implementation across link kinds; the
only difference a scenario may see is a genuine WANT_WRITE when a write does not fit the
socket's buffer.  The scenarios listed here exist to show exactly that difference.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from biopair import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parents[2]
#: Scenarios whose point is a write larger than a socket buffer on a memory link.
WRITES_THAT_BLOCK_ON_A_SOCKET = {
    "scenarios/socket/pause-memory.toml",
    "scenarios/manpage/write-full-without-partial-mode.toml",
    "scenarios/manpage/write-partial-16k.toml",
    "scenarios/write-retry/partial-write-cleared.toml",
    "scenarios/write-retry/partial-write-set.toml",
}
def _pyopenssl_on_memory(path: Path) -> bool:
    scenario = load_scenario(path)
    return scenario.link == "memory" and scenario.client.stack == scenario.server.stack == \
        "pyopenssl"


FILES = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "scenarios").rglob("*.toml")
    if _pyopenssl_on_memory(p)
)


@pytest.mark.parametrize("path", FILES)
def test_memory_scenario_on_a_socket_link(path: str) -> None:
    scenario = dataclasses.replace(load_scenario(ROOT / path), link="socket")
    verdict = run_scenario(scenario)
    if verdict.skipped:
        pytest.skip(verdict.skipped)
    if path in WRITES_THAT_BLOCK_ON_A_SOCKET:
        assert not verdict.passed
        assert any("WANT_WRITE" in f.actual for f in verdict.failures), verdict.report()
    else:
        assert verdict.passed, verdict.report()
        assert verdict.trace.link == "socket"
