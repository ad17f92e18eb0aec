"""The memory link: one direction between two memory-BIO connections."""

from __future__ import annotations

from OpenSSL import SSL

from biopair.endpoints import _openssl
from biopair.transport.link import Link


class MemoryLink(Link):
    """One direction between two memory-BIO connections: an unbounded BIO, never full."""

    kind = "memory"

    def __init__(self, name: str, sender: SSL.Connection, receiver: SSL.Connection) -> None:
        super().__init__(name, sender, receiver)
        # The hooks of the hot path, as C-level callables (see Link.__init__).
        self._taker = _openssl.output_taker(sender)
        self._giver = _openssl.input_writer(receiver)
        self.pending_counter = _openssl.input_counter(receiver)

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
