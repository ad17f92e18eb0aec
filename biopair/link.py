"""Links: the bytes in flight in one direction between the two endpoints.

A link takes what its sender put on the wire (:meth:`Link.pull`), holds it, and hands it
to its receiver when the scheduler says so (:meth:`Link.deliver`).  On a memory link the
sender writes into an unbounded memory BIO, so OpenSSL never sees a full buffer and never
returns WANT_WRITE; pausing a memory link only starves the receiver.
"""

from __future__ import annotations

from collections.abc import Callable

from OpenSSL import SSL

from biopair import _openssl

#: The two directions, in the order the scheduler serves them.
DIRECTIONS: tuple[str, str] = ("client>server", "server>client")
_PULL_CHUNK = 1 << 16


def parse_direction(text: str) -> tuple[str, str]:
    """Split ``"client>server"`` into sender and receiver."""
    sender, _, receiver = text.partition(">")
    return sender, receiver


class MemoryLink:
    """One direction between two memory-BIO connections.

    Attributes:
        name: ``"client>server"`` or ``"server>client"``.
        queue: bytes pulled from the sender and not yet delivered.
        pulled: total bytes taken from the sender.
        delivered: total bytes handed to the receiver.
        paused: while True, nothing is delivered.
        eof: an EOF was requested; it reaches the receiver once the queue is empty.
        closed: the receiver's BIO now reports EOF; later bytes are discarded.
        discarded: bytes the sender wrote after the link closed.
        on_pull: called with every chunk queued (not discarded) by :meth:`pull`; the
            trace uses it to parse records and keep the bytes for pcapng export.
    """

    kind = "memory"

    def __init__(self, name: str, sender: SSL.Connection, receiver: SSL.Connection) -> None:
        self.name = name
        self.sender = sender
        self.receiver = receiver
        self.queue = bytearray()
        self.pulled = 0
        self.delivered = 0
        self.paused = False
        self.eof = False
        self.closed = False
        self.discarded = 0
        self.on_pull: Callable[[bytes], None] | None = None

    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count."""
        total = 0
        while True:
            try:
                chunk = self.sender.bio_read(_PULL_CHUNK)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            total += len(chunk)
            if self.closed:
                self.discarded += len(chunk)
            else:
                self.queue += chunk
                if self.on_pull is not None:
                    self.on_pull(chunk)
        self.pulled += total
        return total

    def deliver(self, limit: int | None = None) -> int:
        """Hand up to ``limit`` queued bytes (all if None) to the receiver.

        Returns:
            The number of bytes delivered (0 while paused).
        """
        if self.paused:
            return 0
        n = len(self.queue) if limit is None else min(limit, len(self.queue))
        if n:
            self.receiver.bio_write(bytes(self.queue[:n]))
            del self.queue[:n]
            self.delivered += n
        if self.eof and not self.queue and not self.closed:
            self.receiver.bio_shutdown()
            self.closed = True
        return n

    def request_eof(self) -> None:
        """Close the link: the receiver sees EOF once the queued bytes are delivered."""
        self.eof = True
        if not self.queue and not self.paused:
            self.deliver(0)

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's OpenSSL."""
        return _openssl.input_pending(self.receiver)

    def fingerprint(self) -> tuple[int, ...]:
        """Everything that changes when this link makes progress."""
        return (self.pulled, self.delivered, self.receiver_pending(), int(self.closed))

    def close(self) -> None:
        """Release resources (nothing to do for memory BIOs)."""
