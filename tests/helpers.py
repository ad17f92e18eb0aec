"""Shapes the tests repeat: a bad scenario file and its one-line error, a pair's
pyOpenSSL endpoint, an endpoint's state, the moves of a trace."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biopair import Pair, ScenarioError, load_scenario
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.engine.trace import MoveEvent, Trace


def bad_scenario(tmp_path: Path, text: str, key: str, message: str,
                 name: str = "bad.toml") -> ScenarioError:
    """Write ``text`` as a scenario file and check it is refused naming ``key``.

    Returns:
        The :class:`ScenarioError`, whose message contains ``message``.
    """
    __tracebackhide__ = True
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key, str(info.value)
    assert message in info.value.message, str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def pyopenssl(pair: Pair, name: str) -> PyOpenSSLEndpoint:
    """The pair's ``name`` endpoint, which the test expects to be a pyOpenSSL one."""
    endpoint = pair.endpoints[name]
    assert isinstance(endpoint, PyOpenSSLEndpoint), type(endpoint)
    return endpoint


def state(pair: Pair, name: str) -> dict[str, Any]:
    """The ``[result]`` state of the pair's ``name`` endpoint (which must be visible)."""
    seen = pair.endpoints[name].state()
    assert seen is not None, f"{name}'s state cannot be seen"
    return seen


def moves(trace: Trace, direction: str | None = None) -> list[MoveEvent]:
    """The trace's moves, on ``direction`` only if given."""
    return [e for e in trace.events if isinstance(e, MoveEvent)
            and (direction is None or e.direction == direction)]


@contextlib.contextmanager
def fails_after(seconds: float, why: str) -> Iterator[None]:
    """Raise TimeoutError(``why``) in the block if it runs for ``seconds`` (SIGALRM): a
    test that would block or run on for minutes fails instead."""
    def alarm(signum: int, frame: object) -> None:
        raise TimeoutError(why)

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
