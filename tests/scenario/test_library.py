"""The shipped scenario library: its index is current and every scenario teaches and asserts.

The scenarios themselves run as pytest items (biopair's plugin collects ``scenarios/``);
these tests check the library's shape, which a passing run cannot.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.scenario.loader import CallStep, RunStep, find_scenarios, load_scenario
from biopair.views import index

ROOT = Path(__file__).resolve().parents[2] / "scenarios"
FILES = find_scenarios([ROOT])


def test_index_is_current() -> None:
    readme = ROOT / "README.md"
    assert readme.read_text() == index.render(ROOT), (
        "scenarios/README.md is stale: run biopair index scenarios"
    )


def test_index_check_reports_a_stale_index(tmp_path: Path) -> None:
    lib = tmp_path / "scenarios" / "tls"
    lib.mkdir(parents=True)
    (lib / "one.toml").write_text(
        'title = "One"\nabout = "Shows one thing."\ntags = ["handshake"]\n'
        '[[steps]]\nrun = ["client connect", "server accept"]\n'
    )
    root = tmp_path / "scenarios"
    assert index.main([str(root), "--check"]) == 1
    assert index.main([str(root)]) == 0
    assert index.main([str(root), "--check"]) == 0
    text = (root / "README.md").read_text()
    assert "#### One" in text and "`biopair run scenarios/tls/one.toml`" in text
    (lib / "one.toml").write_text((lib / "one.toml").read_text().replace("One", "Two"))
    assert index.main([str(root), "--check"]) == 1


@pytest.mark.parametrize("path", FILES, ids=[f.relative_to(ROOT).as_posix() for f in FILES])
def test_scenario_teaches_and_asserts(path: Path) -> None:
    scenario = load_scenario(path)
    assert len(scenario.about.split()) >= 15, "about must explain what the scenario shows"
    assert scenario.tags, "tags place the scenario in the index"
    asserted = [s for s in scenario.steps
                if (isinstance(s, CallStep) and s.expect is not None)
                or (isinstance(s, RunStep) and s.expect)]
    assert asserted, "a scenario must assert outcome sequences, not just complete"
    if path.parent.name == "manpage":
        assert "(3)" in scenario.about, "name the man page the behaviour comes from"
