"""asyncio-starttls: a plain asyncio connection upgraded with loop.start_tls(), and
CPython #109051 (start_tls on a transport paused for writing) reproduced on it."""

from __future__ import annotations

from pathlib import Path

from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair, RunEntry
from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import run_scenario

SCENARIO = (Path(__file__).parents[2] / "scenarios" / "wrappers"
            / "cpython-109051-start-tls-paused.toml")


def _pair() -> Pair:
    return Pair(EndpointConfig(role="client", stack="asyncio-starttls"),
                EndpointConfig(role="server", stack="asyncio-starttls"), record=False)


def _upgrade(pair: Pair, plain: int) -> None:
    # The client writes ``plain`` bytes while the network is paused, starts TLS, and the
    # server reads exactly the plaintext before it starts TLS too.
    pair.pause("client>server")
    assert pair.call("client", "send", size=plain).ret == plain
    assert pair.call("client", "start_tls").ret == 1
    pair.resume("client>server")
    pair.move("client>server", plain)
    assert pair.call("server", "recv", size=plain).ret == plain
    assert pair.call("server", "start_tls").ret == 1
    run = pair.run([("client", "handshake"), ("server", "handshake")])
    assert run.terminal is None, run


def test_an_upgrade_below_the_high_water_mark_carries_data_both_ways() -> None:
    with _pair() as pair:
        _upgrade(pair, 1000)
        run = pair.run([RunEntry("client", "send", data=b"after tls"),
                        RunEntry("server", "recv")])
        assert run.terminal is None, run
        assert bytes(pair.server.received)[-9:] == b"after tls"  # type: ignore[attr-defined]
        assert pair.client.loop_errors == []  # type: ignore[attr-defined]


def test_an_upgrade_while_paused_for_writing_never_resumes_the_application() -> None:
    # CPython #109051: the drained transport calls resume_writing() on the SSLProtocol,
    # its assertion fails, and the application stays paused.
    with _pair() as pair:
        _upgrade(pair, 70_000)
        client = pair.client
        assert any("resume_writing() failed: AssertionError" in e
                   for e in client.loop_errors), client.loop_errors  # type: ignore[attr-defined]
        run = pair.run([RunEntry("client", "send", data=b"x" * 10),
                        RunEntry("server", "recv")])
        assert run.terminal == "STRANDED", run
        assert run.end is not None
        assert any("paused for writing until resume_writing" in r for r in run.end.reasons)


def test_the_shipped_reproduction_passes() -> None:
    verdict = run_scenario(load_scenario(SCENARIO))
    assert verdict.passed, verdict.report
