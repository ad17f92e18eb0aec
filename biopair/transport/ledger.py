"""The sender's byte ledger on one link: what it wrote, counted and parsed once.

A link numbers the bytes its sender writes (the *stream offset* of a byte is how many bytes
the sender wrote before it) and knows which TLS records they form.  Faults address bytes by
those numbers, hold conditions count the records and messages, the run's verdict reports
them: all of them read this one ledger, which only the link writes.
"""

from __future__ import annotations

from biopair.tls.records import StreamWatcher


class Ledger:
    """The stream one sender wrote on one link.

    Attributes:
        pulled: bytes taken from the sender so far (the next byte's stream offset).
        released: sender bytes already edited into the link's queue (``pulled`` minus the
            bytes a fault holds back until the record it names is complete).
    """

    __slots__ = ("_backlog", "_watcher", "pulled", "released")

    def __init__(self) -> None:
        self.pulled = 0
        self.released = 0
        self._watcher = StreamWatcher()
        # Bytes not yet shown to the watcher: parsing costs a feed per pull, so it waits
        # until someone asks (most runs never do).
        self._backlog = bytearray()

    def note(self, data: bytes) -> None:
        """Count bytes taken from the sender, to be parsed when someone asks."""
        self.pulled += len(data)
        self._backlog += data

    @property
    def watcher(self) -> StreamWatcher:
        """The records and plaintext handshake messages the sender wrote so far."""
        if self._backlog:
            self._watcher.feed(self._backlog)
            self._backlog.clear()
        return self._watcher
