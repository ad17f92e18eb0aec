"""TLS stacks an endpoint can run on, and the links between endpoints of different stacks.

``stack`` in a scenario's ``[client]`` / ``[server]`` picks the kind of endpoint:

* ``pyopenssl`` (default): :class:`biopair.endpoint.Endpoint`, raw calls through
  pyOpenSSL's binding (the OpenSSL bundled in the cryptography wheel);
* ``stdlib``: :class:`biopair.stdlib.StdlibEndpoint`, Python's ``ssl`` module (the system
  OpenSSL);
* ``openssl-cli`` / ``gnutls-cli``: :class:`biopair.peers.PeerEndpoint`, a real TLS
  program in another process over loopback TCP.

Two pyOpenSSL endpoints keep the plain :class:`biopair.link.MemoryLink`.  Any other
combination uses a :class:`WireLink`, which does the same job on the *wire* interface
every endpoint kind offers (``wire_take``, ``wire_give``, ``wire_eof``,
``wire_pending``); towards a peer it is a :class:`PeerLink`, which can also wait for the
peer's asynchronous answer before the scheduler declares a DEADLOCK.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from OpenSSL import SSL

from biopair import _openssl
from biopair.endpoint import Endpoint, EndpointConfig
from biopair.link import DIRECTIONS, parse_direction
from biopair.peers import FIRST_BYTE_WAIT, PEER_STACKS, QUIET, PeerEndpoint
from biopair.stdlib import StdlibEndpoint

#: Every stack a scenario may name.
STACKS: tuple[str, ...] = ("pyopenssl", "stdlib", *PEER_STACKS)
_CHUNK = 1 << 16


class PyOpenSSLWire:
    """The wire interface of a pyOpenSSL memory-BIO endpoint."""

    def __init__(self, conn: SSL.Connection) -> None:
        self.conn = conn

    def wire_take(self, limit: int) -> bytes:
        """Bytes the connection wrote into its output BIO."""
        try:
            return bytes(self.conn.bio_read(limit))
        except SSL.WantReadError:
            return b""

    def wire_give(self, data: bytes) -> None:
        """Write into the connection's input BIO."""
        self.conn.bio_write(data)

    def wire_eof(self) -> None:
        """The input BIO reports EOF once drained."""
        self.conn.bio_shutdown()

    def wire_pending(self) -> int:
        """Bytes in the input BIO not yet read by OpenSSL."""
        return _openssl.input_pending(self.conn)


def wire_of(endpoint: Any) -> Any:
    """The object with the wire interface for an endpoint of any kind."""
    if isinstance(endpoint, Endpoint):
        return PyOpenSSLWire(endpoint.conn)
    return endpoint


class WireLink:
    """One direction between endpoints of any kinds; the same contract as MemoryLink.

    ``sender`` and ``receiver`` are the endpoints' ``conn`` objects (the scheduler uses
    them to know which links a call wrote to); the bytes go through their wires.
    """

    kind = "memory"

    def __init__(self, name: str, sender: Any, receiver: Any) -> None:
        self.name = name
        self.sender = sender.conn
        self.receiver = receiver.conn
        self._from = wire_of(sender)
        self._to = wire_of(receiver)
        self.queue = bytearray()
        self.pulled = 0
        self.delivered = 0
        self.paused = False
        self.eof = False
        self.closed = False
        self.discarded = 0

    def _take(self) -> int:
        total = 0
        while True:
            chunk = self._from.wire_take(_CHUNK)
            if chunk is None:  # the sender closed its side (a peer only)
                self.request_eof()
                break
            if not chunk:
                break
            total += len(chunk)
            if self.closed:
                self.discarded += len(chunk)
            else:
                self.queue += chunk
        self.pulled += total
        return total

    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count."""
        return self._take()

    def deliver(self, limit: int | None = None) -> int:
        """Hand up to ``limit`` queued bytes (all if None) to the receiver.

        Returns:
            The number of bytes delivered (0 while paused).
        """
        if self.paused:
            return 0
        n = len(self.queue) if limit is None else min(limit, len(self.queue))
        if n:
            self._to.wire_give(bytes(self.queue[:n]))
            del self.queue[:n]
            self.delivered += n
        if self.eof and not self.queue and not self.closed:
            self._to.wire_eof()
            self.closed = True
        return n

    def request_eof(self) -> None:
        """Close the link: the receiver sees EOF once the queued bytes are delivered."""
        self.eof = True
        if not self.queue and not self.paused:
            self.deliver(0)

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver (0 for a peer: unknown)."""
        return int(self._to.wire_pending())

    def fingerprint(self) -> tuple[int, ...]:
        """Everything that changes when this link makes progress."""
        return (self.pulled, self.delivered, self.receiver_pending(), int(self.closed))

    def close(self) -> None:
        """Nothing to release (endpoints close themselves)."""


class PeerLink(WireLink):
    """A link whose sender is an external peer: its bytes arrive asynchronously.

    ``pull`` never blocks while bytes are queued; with an empty queue (an explicit
    ``move`` from the peer) it waits like :meth:`wait_for_bytes`.
    """

    kind = "tcp-peer"
    waits = True

    def pull(self) -> int:
        """Take what the peer sent; with nothing queued, wait for its answer first."""
        if not self.queue and not self.eof:
            return self.wait_for_bytes()
        return self._take()

    def wait_for_bytes(self, first: float = FIRST_BYTE_WAIT, quiet: float = QUIET) -> int:
        """Wait up to ``first`` seconds for the peer to send, then until it is quiet.

        Returns:
            Bytes taken (0: the peer stayed silent, so a stall is a real DEADLOCK).
        """
        if self.eof:
            return self._take()
        peer = self._from
        total = 0
        timeout = first
        while peer.readable(timeout):
            before = self.eof
            got = self._take()
            total += got
            if self.eof and not before:
                total += 1  # an EOF from the peer is progress too
                break
            if not got:
                break
            timeout = quiet
        return total


def make_endpoint(cfg: EndpointConfig, context: Any = None) -> Any:
    """Build the endpoint for ``cfg.stack``.

    Raises:
        biopair.endpoint.ConfigError: for settings the stack refuses.
        biopair.peers.PeerError: when an external peer cannot be started.
    """
    if cfg.stack == "stdlib":
        return StdlibEndpoint(cfg)
    if cfg.stack in PEER_STACKS:
        return PeerEndpoint(cfg)
    return Endpoint(cfg, context=context)


def make_endpoints(client: EndpointConfig, server: EndpointConfig,
                   contexts: Mapping[str, Any]) -> dict[str, Any]:
    """Both endpoints; in-process ones first, so a refused setting starts no process.

    Raises:
        biopair.endpoint.ConfigError, biopair.peers.PeerError: as :func:`make_endpoint`.
    """
    cfgs = {"client": client, "server": server}
    order = sorted(cfgs, key=lambda name: cfgs[name].stack in PEER_STACKS)
    made: dict[str, Any] = {}
    try:
        for name in order:
            made[name] = make_endpoint(cfgs[name], contexts.get(name))
    except BaseException:
        for ep in made.values():
            close = getattr(ep, "close", None)
            if close is not None:
                close()
        raise
    return {"client": made["client"], "server": made["server"]}


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
