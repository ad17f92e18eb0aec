"""`biopair run --json` output validates against docs/run-json.schema.json.

The whole library's document is about 29 MB and takes half a minute to validate; a
handful of representative scenarios that between them produce every event kind the
schema names (each validated on its own) proves the same thing in about a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from biopair import cli

ROOT = Path(__file__).parents[2]
SCHEMA = json.loads((ROOT / "docs" / "run-json.schema.json").read_text())

FAILING = """
title = "everything: handshake, data, alerts, close, a failing expectation"
[client]
trust = "other-ca"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ 1" }
"""
#: One scenario per feature that puts its own events or fields in the document.
REPRESENTATIVE = (
    "faults/tickets-held-until-application-data.toml",  # hold, release
    "faults/eof-mid-handshake.toml",  # fault, eof, closed, alert
    "harness/deadlock-paused.toml",  # pause, resume, DEADLOCK
    "harness/limit.toml",  # LIMIT
    "manpage/shutdown-bidirectional.toml",
    "stacks/stdlib-client-untrusted-pyopenssl-server.toml",  # hidden return values
    "socket/eof.toml",  # the socket link
    "versions/call-again-after-fatal-error.toml",  # version conditions
)


def _schema_event_kinds() -> set[str]:
    kinds: set[str] = set()
    for variant in SCHEMA["$defs"]["event"]["oneOf"]:
        parts = variant.get("allOf", [variant])
        event = next(p["properties"]["event"] for p in parts if "event" in p.get("properties", {}))
        kinds.update(event.get("enum", [event.get("const")]))
    return kinds


def _run(capsys: pytest.CaptureFixture[str], *paths: str | Path) -> dict[str, Any]:
    cli.main(["run", "--json", "--no-golden", *map(str, paths)])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return doc


def test_representative_scenarios_validate_and_cover_every_event_kind(
        capsys: pytest.CaptureFixture[str]) -> None:
    paths = [ROOT / "scenarios" / name for name in REPRESENTATIVE]
    assert all(p.exists() for p in paths), "a representative scenario was renamed"
    doc = _run(capsys, *paths)
    jsonschema.validate(doc, SCHEMA)
    seen = {e["event"] for s in doc["scenarios"] for e in s["events"]}
    assert seen == _schema_event_kinds()
    assert any(c["ret"] is None for s in doc["scenarios"] for c in s["calls"])


def test_a_failing_scenario_validates(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "fails.toml"
    bad.write_text(FAILING)
    doc = _run(capsys, bad)
    jsonschema.validate(doc, SCHEMA)
    assert doc["scenarios"][0]["failures"]


def test_schema_rejects_an_unknown_event() -> None:
    doc = {"versions": {}, "scenarios": [{"file": "f", "title": "t", "passed": True,
                                          "link": "memory", "failures": [], "calls": [],
                                          "states": {},
                                          "events": [{"event": "teleport", "step": 0}]}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
