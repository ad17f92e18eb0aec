"""`biopair run --no-golden`: golden traces record one environment; this leaves them out."""

from __future__ import annotations

from pathlib import Path


def test_cli_no_golden_ignores_a_golden_trace_that_differs(tmp_path: Path) -> None:
    from biopair.cli import main

    scenario = tmp_path / "s.toml"
    scenario.write_text('title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n')
    (tmp_path / "s.trace").write_text("not the trace\n")
    assert main(["run", "-q", str(scenario)]) == 1  # compared: differs
    assert main(["run", "-q", "--no-golden", str(scenario)]) == 0
