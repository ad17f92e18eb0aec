"""The README's commands are the ones CI runs, and the docs name what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from biopair.endpoints.config import OPS
from biopair.scenario import loader as scenario

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_readme_has_two_setup_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert len(commands) == 2
    assert "biopair run scenarios/" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci


def test_scenario_format_doc_names_every_key_and_op() -> None:
    doc = (ROOT / "docs" / "scenario-format.md").read_text()
    keys = (*scenario._ENDPOINT_KEYS, *scenario._SCHEDULE_KEYS, *scenario._STEP_KEYS,
            *scenario._RESULT_KEYS, *OPS)
    missing = [k for k in keys if f"`{k}`" not in doc]
    assert not missing, f"docs/scenario-format.md does not document {missing}"


def test_readme_scenario_example_is_true(tmp_path: Path) -> None:
    from biopair import load_scenario, run_scenario

    text = (ROOT / "README.md").read_text()
    example = re.search(r"```toml\n(.+?)\n```", text, re.S)
    assert example is not None
    path = tmp_path / "readme.toml"
    path.write_text(example.group(1))
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()


def test_readme_python_example_runs() -> None:
    text = (ROOT / "README.md").read_text()
    example = re.search(r"```python\n(from biopair import.+?)\n```", text, re.S)
    assert example is not None
    exec(compile(example.group(1), "README.md", "exec"), {})
