"""Building a pair's parts from its settings: sockets, endpoints and links.

:func:`build` is the one place that decides which link kind joins two stacks: two
pyOpenSSL endpoints get a :class:`~biopair.transport.memory.MemoryLink` (or, with
``link = "socket"``, a :class:`~biopair.transport.socket.SocketLink` on a socketpair per
endpoint); any other pair of stacks a :class:`~biopair.transport.wire.WireLink` on the
endpoints' wire interface, a :class:`~biopair.transport.wire.PeerLink` from an external
peer.  Whatever fails half-way is released before the error propagates: no socket,
process or endpoint outlives a pair that could not be built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biopair.endpoints import registry
from biopair.endpoints.config import EndpointConfig
from biopair.endpoints.peers import PeerEndpoint
from biopair.endpoints.pyopenssl import Endpoint
from biopair.transport.biopair import DEFAULT_SIZE as BIO_PAIR_SIZE
from biopair.transport.biopair import BioPairLink
from biopair.transport.link import DIRECTIONS, Link, parse_direction, share_sessions
from biopair.transport.memory import MemoryLink
from biopair.transport.socket import SocketEnds, SocketLink
from biopair.transport.wire import PeerLink, WireLink

#: Link kinds a pair can ask for: unbounded memory BIOs, bounded AF_UNIX socketpairs
#: (genuine WANT_WRITE), or OpenSSL's bounded BIO pairs under libssl endpoints.
LINK_KINDS = ("memory", "socket", "bio-pair")
_ROLES = ("client", "server")


@dataclass(frozen=True)
class Parts:
    """What a pair is made of.

    Attributes:
        endpoints: the two endpoints, by role.
        links: one link per direction, in :data:`~biopair.transport.link.DIRECTIONS` order.
        link_kind: the trace's link name (``memory``, ``socket`` or ``tcp-peer``).
        sockets: each endpoint's socketpair on a socket link (else empty).
    """

    endpoints: dict[str, Any]
    links: dict[str, Link]
    link_kind: str
    sockets: dict[str, SocketEnds]


def mixed(endpoints: Mapping[str, Any]) -> bool:
    """True unless both endpoints are pyOpenSSL (then plain memory links suffice)."""
    return not all(isinstance(ep, Endpoint) for ep in endpoints.values())


def build(
    client: EndpointConfig | None,
    server: EndpointConfig | None,
    *,
    contexts: Mapping[str, Any],
    link: str,
    socket_buffer: int | None,
    trace_hooks: bool,
    bio_pair_size: int | None = None,
    send_cap: int | None = None,
) -> Parts:
    """Make the endpoints and the links between them.

    On ``link = "bio-pair"`` every libssl endpoint sits on a BIO pair of
    ``bio_pair_size`` bytes each way (default
    :data:`~biopair.transport.biopair.DEFAULT_SIZE`), any other stays on its memory BIOs,
    and each direction is a :class:`~biopair.transport.biopair.BioPairLink`.  With
    ``send_cap``, every endpoint whose stack declares ``capped_sends`` (wolfSSL,
    tlslite-ng) holds at most that many output bytes in memory until the link takes them;
    any other endpoint is unchanged.

    Returns:
        The :class:`Parts`.

    Raises:
        ValueError: for an unknown ``link``, a bio-pair link without a libssl endpoint,
            or a ``send_cap`` off a memory link or without an endpoint that takes one.
        ConfigError, PeerError: as :func:`biopair.endpoints.registry.make_endpoints`
            (after releasing whatever was made).
    """
    if link not in LINK_KINDS:
        raise ValueError(f"link must be one of {LINK_KINDS}, not {link!r}")
    if link == "bio-pair":
        client, server = _on_bio_pairs(client, server, bio_pair_size or BIO_PAIR_SIZE)
    if send_cap is not None:
        client, server = _capped(client, server, link, send_cap)
    sockets: dict[str, SocketEnds] = {}
    endpoints: dict[str, Any] = {}
    try:
        if link == "socket":
            for name in _ROLES:
                sockets[name] = (SocketEnds() if socket_buffer is None
                                 else SocketEnds(socket_buffer))
        endpoints = registry.make_endpoints(
            client or EndpointConfig(role="client"),
            server or EndpointConfig(role="server"),
            contexts,
            socks={name: ends.endpoint for name, ends in sockets.items()},
            trace_hooks=trace_hooks,
        )
        if link == "bio-pair":
            links = _bio_pair_links(endpoints, bio_pair_size or BIO_PAIR_SIZE)
            kind = link
        elif mixed(endpoints) and not sockets:
            links = _wire_links(endpoints)
            kind = "tcp-peer" if any(isinstance(e, PeerEndpoint)
                                     for e in endpoints.values()) else "memory"
        else:
            links = _pyopenssl_links(endpoints, sockets)
            kind = link
    except BaseException:
        release(endpoints, sockets)
        raise
    share_sessions(links.values())
    return Parts(endpoints, links, kind, sockets)


def release(endpoints: Mapping[str, Any], sockets: Mapping[str, SocketEnds]) -> None:
    """Close endpoints (killing peer processes) and sockets; safe to call twice."""
    for ep in endpoints.values():
        close = getattr(ep, "close", None)
        if close is not None:
            close()
    for ends in sockets.values():
        ends.close()


def _pyopenssl_links(endpoints: Mapping[str, Any],
                     sockets: Mapping[str, SocketEnds]) -> dict[str, Link]:
    links: dict[str, Link] = {}
    for direction in DIRECTIONS:
        sender, receiver = parse_direction(direction)
        # A socket link moves the sockets' bytes: any in-process stack on a socket works
        # (its Connection, where it has one, is what the trace hooks read).
        conns = (getattr(endpoints[sender], "conn", endpoints[sender]),
                 getattr(endpoints[receiver], "conn", endpoints[receiver]))
        if sockets:
            links[direction] = SocketLink(direction, *conns, source=sockets[sender],
                                          sink=sockets[receiver])
        else:
            links[direction] = MemoryLink(direction, *conns)
    return links


def _wire_links(endpoints: Mapping[str, Any]) -> dict[str, Link]:
    links: dict[str, Link] = {}
    for direction in DIRECTIONS:
        sender, receiver = parse_direction(direction)
        cls = PeerLink if isinstance(endpoints[sender], PeerEndpoint) else WireLink
        links[direction] = cls(direction, endpoints[sender], endpoints[receiver])
    return links


def _on_bio_pairs(client: EndpointConfig | None, server: EndpointConfig | None,
                  size: int) -> tuple[EndpointConfig, EndpointConfig]:
    cfgs = [dataclasses.replace(cfg, bio_pair_size=size) if cfg.stack == "libssl" else cfg
            for cfg in (client or EndpointConfig(role="client"),
                        server or EndpointConfig(role="server"))]
    if not any(cfg.stack == "libssl" for cfg in cfgs):
        raise ValueError('link = "bio-pair" needs a libssl endpoint (stack = "libssl")')
    return cfgs[0], cfgs[1]


def _capped(client: EndpointConfig | None, server: EndpointConfig | None, link: str,
            cap: int) -> tuple[EndpointConfig, EndpointConfig]:
    if cap < 1:
        raise ValueError("send_cap must be >= 1")
    if link != "memory":
        raise ValueError(f'send_cap caps in-memory sends: it needs link = "memory", not '
                         f'{link!r}')
    cfgs = [cfg or EndpointConfig(role=role) for cfg, role in ((client, "client"),
                                                               (server, "server"))]
    takes = [registry.capabilities(cfg.stack).capped_sends for cfg in cfgs]
    if not any(takes):
        raise ValueError("send_cap needs an endpoint whose sends can be capped (stack = "
                         "\"wolfssl\" or \"tlslite-ng\")")
    capped = [dataclasses.replace(cfg, send_cap=cap) if take else cfg
              for cfg, take in zip(cfgs, takes, strict=True)]
    return capped[0], capped[1]


def _bio_pair_links(endpoints: Mapping[str, Any], size: int) -> dict[str, Link]:
    links: dict[str, Link] = {}
    for direction in DIRECTIONS:
        sender, receiver = parse_direction(direction)
        links[direction] = BioPairLink(direction, endpoints[sender], endpoints[receiver], size)
    return links
