"""Fixtures of the conformance suite: every registered stack, in each role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from biopair.endpoints.protocol import Endpoint
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from tests.conformance.stacks import CASES, Case


@pytest.fixture(params=CASES, ids=lambda c: f"{c.stack}-{c.role}")
def case(request: pytest.FixtureRequest) -> Case:
    """One stack in one role; skips tests marked as not applying to it."""
    case: Case = request.param
    case.skip_unless_applies(request.node.originalname)
    return case


@pytest.fixture
def ends(case: Case) -> Iterator[tuple[Endpoint, PyOpenSSLEndpoint]]:
    """The endpoint under test and its pyOpenSSL peer, closed afterwards."""
    ep = case.make()
    peer = case.make_peer()
    try:
        yield ep, peer
    finally:
        ep.close()
        peer.close()
