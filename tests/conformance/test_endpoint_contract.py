"""What every stack's endpoint must be: the protocol, its declaration, its life cycle.

These tests know no stack by name; a new stack passes them by being registered (see
``stacks.py`` for the few documented exceptions).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from biopair.endpoints import registry
from biopair.endpoints.config import OPS, READ_OPS, RESULTS, ROLE_OPS, WRITE_OPS
from biopair.endpoints.peers import PeerEndpoint
from biopair.endpoints.protocol import Endpoint, RawResult
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.endpoints.stdlib import StdlibEndpoint
from tests.conformance.drive import handshake
from tests.conformance.stacks import Case


def as_endpoints(a: PyOpenSSLEndpoint, b: StdlibEndpoint, c: PeerEndpoint) -> list[Endpoint]:
    """Type-checked by mypy: each endpoint class is assignable to the protocol.

    (``registry.make_endpoint``'s ``-> Endpoint`` checks the same for every registered
    stack when mypy runs on the package.)
    """
    return [a, b, c]


def check_raw_result(result: object, raw_returns: bool) -> None:
    """A RawResult whose fields have the protocol's types."""
    assert isinstance(result, RawResult), result
    assert result.ret is None or isinstance(result.ret, int)
    if raw_returns:
        assert result.ret is not None, result
    assert result.error is None or isinstance(result.error, str)
    assert isinstance(result.reasons, tuple)
    assert all(isinstance(r, str) for r in result.reasons)
    assert isinstance(result.errno, int)
    assert isinstance(result.data, bytes)
    assert isinstance(result.pyopenssl, str)


def test_satisfies_the_protocol(case: Case, ends: tuple[Endpoint, PyOpenSSLEndpoint]) -> None:
    ep, _ = ends
    assert isinstance(ep, Endpoint)
    assert ep.name == case.role
    assert ep.stack == case.stack
    assert ep.capabilities is registry.capabilities(case.stack)
    assert ep.capabilities.stack == case.stack
    assert ep.write_data == b""
    assert not hasattr(ep, "last")


def test_capabilities_are_consistent(case: Case) -> None:
    caps = case.capabilities
    assert caps.stack in registry.STACKS
    assert caps.ops <= set(OPS)
    assert caps.results <= set(RESULTS)
    assert "stack" in caps.settings
    assert caps.versions
    assert caps.links
    if caps.external:
        assert not caps.ops and not caps.results, "an external program cannot be called"
        assert caps.package, "say what to install"


def test_declared_ops_return_raw_results(case: Case) -> None:
    caps = case.capabilities
    ops = [op for op in sorted(caps.ops) if ROLE_OPS.get(op, case.role) == case.role]
    assert ops
    for op in ops:
        ep = case.make()  # fresh: each op on a connection nobody has used
        try:
            size = 16 if op in (*READ_OPS, *WRITE_OPS) else None
            check_raw_result(ep.call(op, size=size), caps.raw_returns)
        finally:
            ep.close()


def test_state_keys_are_declared_results(case: Case) -> None:
    case.require_program()
    caps = case.capabilities
    if caps.external:
        with case.pair() as pair:
            assert pair.endpoints[case.role].state() is None
            assert pair.endpoints[case.role].state_string() is None
        return
    ep, peer = case.make(), case.make_peer()
    try:
        client, server = (ep, peer) if case.role == "client" else (peer, ep)
        handshake(client, server, max_bytes=None)
        state = ep.state()
        assert state is not None
        # keys_match is a pair's check (export_keys on both ends), not a state key.
        assert set(state) == caps.results - {"keys_match"}
        if "keys_match" in caps.results:
            keys = ep.export_keys(b"EXPORTER-biopair", 32)
            assert keys is not None and len(keys) == 32
        else:
            assert ep.export_keys(b"EXPORTER-biopair", 32) is None
        assert state["version"] == "TLSv1.3" if "version" in state else True
        text = ep.state_string()
        assert text is None or isinstance(text, str)
    finally:
        ep.close()
        peer.close()


def _children() -> set[int]:
    mine = str(os.getpid())
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == mine and fields[0] != "Z":
                out.add(int(entry.name))
    return out


def test_close_twice_leaves_nothing(case: Case, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    case.require_program()
    # A private temporary directory: other xdist workers make biopair-* folders in the
    # shared one at the same time, which must not count as this endpoint's leftovers.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    fds = set(os.listdir("/proc/self/fd"))
    children = _children()
    ep = case.make()
    ep.close()
    ep.close()
    assert set(os.listdir("/proc/self/fd")) <= fds
    assert _children() <= children
    assert list(tmp_path.iterdir()) == []
