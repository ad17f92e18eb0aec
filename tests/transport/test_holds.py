"""Hold conditions judge a narrow view of the two sides, never a Pair."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from biopair.transport.holds import parse_condition


@dataclass
class Counted:
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> int:
        return self.counts.get(what, 0)


@dataclass
class View:
    """A SidesView made by hand: what each side sent and received, and its state."""

    sent_by: dict[str, Counted] = field(default_factory=dict)
    received_by: dict[str, Counted] = field(default_factory=dict)
    states: dict[str, str | None] = field(default_factory=dict)

    def sent(self, endpoint: str) -> Counted:
        return self.sent_by.get(endpoint, Counted())

    def received(self, endpoint: str) -> Counted:
        return self.received_by.get(endpoint, Counted())

    def state_string(self, endpoint: str) -> str | None:
        return self.states.get(endpoint)


@pytest.mark.parametrize(("text", "view", "expected"), [
    ("server received 2 ClientHello", View(received_by={"server": Counted({"ClientHello": 2})}),
     True),
    ("server received 2 ClientHello", View(received_by={"server": Counted({"ClientHello": 1})}),
     False),
    ("client sent records", View(sent_by={"client": Counted({"records": 1})}), True),
    ("client sent records", View(received_by={"client": Counted({"records": 9})}), False),
    ("client handshake-done",
     View(states={"client": "SSL negotiation finished successfully"}), True),
    ("client state finished", View(states={"client": "SSL negotiation finished"}), True),
    ("client state finished", View(states={"client": None}), False),  # no state string
])
def test_a_condition_reads_only_the_view(text: str, view: View, expected: bool) -> None:
    assert parse_condition(text).holds(view) is expected
