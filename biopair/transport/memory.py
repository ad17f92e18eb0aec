"""The memory link: one direction between two memory-BIO connections."""

from __future__ import annotations

from biopair.endpoints import _openssl
from biopair.transport.link import Link


class MemoryLink(Link):
    """One direction between two memory-BIO connections: an unbounded BIO, never full."""

    kind = "memory"

    def _take(self) -> bytes:
        return _openssl.take_output(self.sender)

    def _give(self, data: bytes) -> int:
        _openssl.give_input(self.receiver, data)
        return len(data)

    def _end(self) -> bool:
        self.receiver.bio_shutdown()
        return True

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's OpenSSL."""
        return _openssl.input_pending(self.receiver)

    def sender_pending(self) -> int:
        """Bytes the sender wrote that the link has not taken (always 0: pulls drain all)."""
        return 0
