"""Links between endpoints of any stack, on the wire interface every endpoint offers."""

from __future__ import annotations

import time
from typing import Any, cast

from biopair.endpoints.peers import FIRST_BYTE_WAIT, QUIET, START_TIMEOUT, PeerEndpoint
from biopair.endpoints.protocol import Endpoint
from biopair.transport.link import Link

_CHUNK = 1 << 16


class WireLink(Link):
    """One direction between endpoints of any kinds, on their wire interfaces.

    Everything else (queue, faults, record stops, holds, EOF, the trace's view of the
    bytes) is the shared :class:`~biopair.transport.link.Link` behaviour.  ``sender`` and
    ``receiver`` are the endpoints themselves; the bytes go through their wire methods
    (:class:`~biopair.endpoints.protocol.Endpoint`).
    """

    kind = "memory"

    def __init__(self, name: str, sender: Endpoint, receiver: Endpoint) -> None:
        # Link's sender and receiver are the Connections that memory and socket links move
        # bytes on; a wire link moves them through the endpoints, which stand in for them.
        super().__init__(name, cast(Any, sender), cast(Any, receiver))
        self._from = sender
        self._to = receiver
        self._sender_closed = False
        # A sender standing for a framework on a socket (asyncio-starttls) keeps what it
        # wrote in its own buffer while the network is paused, as a full socket does.
        if getattr(sender, "blocks_when_paused", False):
            self.pulls_while_paused = False

    def _take(self) -> bytes:
        chunks = []
        while True:
            chunk = self._from.wire_take(_CHUNK)
            if chunk is None:  # the sender closed its side (a peer only)
                self._sender_closed = True
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def pull(self) -> int:
        """Take everything the sender has written so far; a peer's close becomes an EOF."""
        taken = super().pull()
        if self._sender_closed and not self.eof:
            self.eof = True
            if not self.queue and not self.paused and not self.held:
                self.deliver(0)
        return taken

    def _give(self, data: bytes) -> int:
        return self._to.wire_give(data)

    def _end(self) -> bool:
        self._to.wire_eof()
        return True

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver (0 for a peer: unknown)."""
        return self._to.wire_pending()

    def sender_pending(self) -> int:
        """Bytes the sender wrote that the link has not taken (unknown: 0)."""
        return 0


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
        return super().pull()

    def wait_for_bytes(self, first: float = FIRST_BYTE_WAIT, quiet: float = QUIET) -> int:
        """Wait up to ``first`` seconds for the peer to send, then until it is quiet.

        Returns:
            Bytes taken, plus one for an EOF (0: the peer stayed silent, so a stall is a
            real DEADLOCK).
        """
        if self.eof:
            return WireLink.pull(self)
        peer = self._from
        assert isinstance(peer, PeerEndpoint)  # builder.make_links: a PeerLink's sender
        total = 0
        timeout = first
        # A peer that never falls quiet for ``quiet`` seconds must not keep the scheduler
        # here: the whole wait is bounded too.
        deadline = time.monotonic() + first + START_TIMEOUT
        while time.monotonic() < deadline and peer.readable(timeout):
            before = self.eof
            got = WireLink.pull(self)
            total += got
            if self.eof and not before:
                total += 1  # an EOF from the peer is progress too
                break
            if not got:
                break
            timeout = quiet
        return total
