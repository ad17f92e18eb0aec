"""`biopair run --json` output validates against docs/run-json.schema.json."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from biopair import cli

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads((ROOT / "docs" / "run-json.schema.json").read_text())

SCENARIO = """
title = "everything: handshake, data, alerts, close, a failing expectation"
[client]
trust = "other-ca"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ 1" }
"""


def _run(capsys: pytest.CaptureFixture[str], *paths: str) -> dict[str, object]:
    cli.main(["run", "--json", *paths])
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_shipped_scenarios_and_a_failing_one_validate(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "fails.toml"
    bad.write_text(SCENARIO)
    doc = _run(capsys, str(ROOT / "scenarios"), str(bad))
    jsonschema.validate(doc, SCHEMA)
    kinds = {e["event"] for s in doc["scenarios"] for e in s["events"]}  # type: ignore[attr-defined]
    assert {"call", "move", "record", "message", "alert", "state", "run-end"} <= kinds


def test_schema_rejects_an_unknown_event() -> None:
    doc = {"versions": {}, "scenarios": [{"file": "f", "title": "t", "passed": True,
                                          "link": "memory", "failures": [], "calls": [],
                                          "states": {},
                                          "events": [{"event": "teleport", "step": 0}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
