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
        self._read, self._unpack = _openssl.output_reader(sender)
        self._giver = _openssl.input_writer(receiver)
        self.pending_counter = _openssl.input_counter(receiver)

    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count.

        :meth:`Link.pull` with one BIO_read() for the common case (nothing written, or
        less than a buffer's worth), made straight from here: the pair pulls after
        every SSL call.  A memory BIO never blocks its writer, so a paused memory link
        pulls too.
        """
        n = self._read()
        if n <= 0:
            return 0
        chunk = self._unpack(n)
        if n == _openssl.READ_BUF_SIZE:
            chunk = chunk + _openssl.take_output(self.sender)
        self._enqueue(*self.engine.process(chunk))
        return len(chunk)

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
