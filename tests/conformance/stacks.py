"""The stacks the conformance suite runs against, and how to build each one's endpoint.

One :class:`Case` per (stack, role): the endpoint under test in that role, facing a
pyOpenSSL peer in the other.  A new stack needs nothing here beyond being registered in
:mod:`biopair.endpoints.registry`; what the suite cannot check for it goes in
:data:`NOT_APPLICABLE` with the reason (a documented skip, never a silent pass).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pytest

from biopair.endpoints import peers, registry
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.protocol import Capabilities, Endpoint
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.endpoints.wrappers import stacks as wrapper_stacks
from biopair.engine.pair import Pair

ROLES = ("client", "server")
_EXTERNAL = "an external program cannot be called; the suite drives it through a Pair"

#: Tests that do not apply to a stack, by stack and test name, with the reason.
NOT_APPLICABLE: dict[str, dict[str, str]] = {
    stack: {
        "test_declared_ops_return_raw_results": "an external program declares no ops",
        "test_connect_before_bytes_wants_read_and_sends_client_hello": _EXTERNAL,
        "test_application_data_both_ways": _EXTERNAL,
        "test_close_notify": _EXTERNAL,
        "test_eof_without_close_notify": _EXTERNAL,
        "test_wire_round_trip": _EXTERNAL,
    }
    for stack in peers.PEER_STACKS
}
_APP_SIDE = ("a wrapper endpoint takes application ops (handshake, send, recv, close), not "
             "SSL calls; tests/endpoints/test_wrappers.py runs the same exchanges through them")
NOT_APPLICABLE.update({
    stack: {test: _APP_SIDE for test in (
        "test_state_keys_are_declared_results",
        "test_connect_before_bytes_wants_read_and_sends_client_hello",
        "test_wire_round_trip", "test_bytewise_handshake", "test_application_data_both_ways",
        "test_close_notify", "test_eof_without_close_notify")}
    for stack in wrapper_stacks.CAPABILITIES
})


@dataclass(frozen=True)
class Case:
    """One stack in one role."""

    stack: str
    role: str

    @property
    def capabilities(self) -> Capabilities:
        """The stack's declaration."""
        return registry.capabilities(self.stack)

    @property
    def other(self) -> str:
        """The peer's role."""
        return "server" if self.role == "client" else "client"

    def config(self) -> EndpointConfig:
        """The endpoint's settings: the defaults, on this stack."""
        return EndpointConfig(role=self.role, stack=self.stack)

    def skip_unless_applies(self, test: str) -> None:
        """Skip ``test`` with its documented reason if it does not apply to this stack."""
        reason = NOT_APPLICABLE.get(self.stack, {}).get(test)
        if reason is not None:
            pytest.skip(f"{self.stack}: {reason}")

    def require_program(self) -> None:
        """Skip (fail under CI=true) when an external stack's program or an in-process
        stack's library is missing, naming the package."""
        why = registry.missing(self.stack)
        if why is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{self.stack}: {why}")
            pytest.skip(f"{self.stack}: {why}")
        if not self.capabilities.external:
            return
        program = peers.program_for(self.stack, self.role)
        if shutil.which(program) is None:
            message = f"{program} is not installed ({self.capabilities.package})"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)

    def make(self) -> Endpoint:
        """The endpoint under test (an external stack's program is started)."""
        self.require_program()
        return registry.make_endpoint(self.config(), trace_hooks=False)

    def pair(self, deliver: str = "all") -> Pair:
        """A Pair with this stack in its role and pyOpenSSL in the other."""
        self.require_program()
        cfgs = {self.role: self.config(), self.other: EndpointConfig(role=self.other)}
        return Pair(cfgs["client"], cfgs["server"], deliver=deliver)

    def make_peer(self) -> PyOpenSSLEndpoint:
        """The pyOpenSSL endpoint in the other role."""
        return PyOpenSSLEndpoint(EndpointConfig(role=self.other), trace_hooks=False)


CASES: tuple[Case, ...] = tuple(Case(stack, role) for stack in registry.STACKS
                                for role in ROLES)
