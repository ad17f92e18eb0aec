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


def test_index_of_a_users_folder_has_no_boilerplate_of_this_repository(
        tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    one = 'title = "One"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
    (mine / "a.toml").write_text(one)
    (mine / "sub" / "b.toml").write_text(one)
    assert index.main([str(mine)]) == 0
    text = (mine / "README.md").read_text()
    assert "(coming)" not in text and "test suite fails" not in text
    assert "OpenSSL 4.0 (pyOpenSSL's bundled build)" not in text
    assert text.startswith("# Scenarios in `mine/`")
    # A file at the top is not a directory, and one scenario is not "1 scenarios".
    assert "`mine/a.toml/`" not in text and "1 scenarios" not in text
    assert "-- `mine/`, 1 scenario" in text and "-- `mine/sub/`, 1 scenario" in text
    assert "`biopair run mine/a.toml`" in text and "`biopair run mine/sub/b.toml`" in text
