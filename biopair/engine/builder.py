"""Building a pair's parts: the links between its endpoints."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biopair.endpoints.peers import PeerEndpoint
from biopair.endpoints.pyopenssl import Endpoint
from biopair.transport.link import DIRECTIONS, parse_direction
from biopair.transport.wire import PeerLink, WireLink


def mixed(endpoints: Mapping[str, Any]) -> bool:
    """True unless both endpoints are pyOpenSSL (then plain memory links suffice)."""
    return not all(isinstance(ep, Endpoint) for ep in endpoints.values())


def make_links(endpoints: Mapping[str, Any]) -> dict[str, WireLink]:
    """A link per direction for a pair with at least one non-pyOpenSSL endpoint."""
    links: dict[str, WireLink] = {}
    for direction in DIRECTIONS:
        sender, receiver = parse_direction(direction)
        cls = PeerLink if isinstance(endpoints[sender], PeerEndpoint) else WireLink
        links[direction] = cls(direction, endpoints[sender], endpoints[receiver])
    return links


def link_kind(endpoints: Mapping[str, Any]) -> str:
    """The trace's link name: ``memory``, or ``tcp-peer`` when a peer takes part."""
    return "tcp-peer" if any(isinstance(e, PeerEndpoint) for e in endpoints.values()) \
        else "memory"
