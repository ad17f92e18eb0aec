"""The bytewise handshake across every pair of in-process stacks, TLS 1.2 and 1.3: one
template scenario (``scenarios/stacks/bytewise-handshake-any-pair-tls1*.toml``) loaded with
each stack on each side, as ``biopair run --stacks`` does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from biopair.endpoints import registry
from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import run_scenario

STACKS = Path(__file__).parents[2] / "scenarios" / "stacks"
#: Every TLS stack that runs in this process (external programs' call counts follow
#: timing; framework wrappers take application ops, not connect/accept: see
#: tests/test_wrappers*.py).
IN_PROCESS = tuple(s for s in registry.STACKS if not registry.capabilities(s).external
                   and "connect" in registry.capabilities(s).ops)
#: The one pair that does not complete, measured: tlslite-ng 0.8.2 refuses libwolfssl
#: 5.5.4's TLS 1.3-only ClientHello (see wolfssl-client-tlslite-server-tls13-group-refused).
REFUSED = {("1.3", "wolfssl", "tlslite-ng"): "key exchange group forbidden in TLS 1.3"}

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_every_in_process_stack_is_in_the_matrix() -> None:
    assert set(IN_PROCESS) == {"pyopenssl", "stdlib", "libssl", "wolfssl", "tlslite-ng"}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("server", IN_PROCESS)
@pytest.mark.parametrize("client", IN_PROCESS)
def test_bytewise_handshake_on_a_pair_of_stacks(client: str, server: str,
                                                version: str) -> None:
    for stack in (client, server):
        why = registry.missing(stack)
        if why is not None:  # in CI every stack is installed: a missing one is an error
            (pytest.fail if os.environ.get("CI") == "true" else pytest.skip)(why)
    path = STACKS / f"bytewise-handshake-any-pair-tls{version.replace('.', '')}.toml"
    verdict = run_scenario(load_scenario(path, {"client": client, "server": server}))
    refused = REFUSED.get((version, client, server))
    if refused is None:
        assert verdict.passed, verdict.report()
        assert verdict.states["client"]["version"] == f"TLSv{version}"
        # Bytewise: many calls on each side, each a want until the last.
        for role in ("client", "server"):
            calls = [c for c in verdict.trace.calls if c.endpoint == role]
            assert len(calls) > 100 and all(c.wants for c in calls[:-1])
    else:
        assert not verdict.passed
        assert any(refused in r for c in verdict.trace.calls for r in c.reasons)
