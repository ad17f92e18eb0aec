"""explain tells events in the order they happened, and says what OpenSSL really returned."""

from __future__ import annotations

from pathlib import Path

from biopair import load_scenario, run_scenario
from biopair.views import explain

ROOT = Path(__file__).resolve().parent.parent


def test_a_fault_armed_before_the_first_call_is_told_before_it() -> None:
    path = ROOT / "scenarios" / "faults" / "close-notify-before-server-flight.toml"
    text = explain.explain(run_scenario(load_scenario(path)))
    assert text.index("Step 1: inject server>client") < text.index("Call #0:")
    # The client's SSL_do_handshake returns -1 here (not the 0 of an SSL_read): the
    # narrative must quote the real return value.
    assert "returned -1 and SSL_get_error() said SSL_ERROR_ZERO_RETURN" in \
        " ".join(text.split())
    assert "has nothing yet; the next record (alert warning close_notify, 7 B)" in \
        " ".join(text.split())
