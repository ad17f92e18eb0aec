"""The sender's byte ledger on one link: what it wrote, counted and parsed once.

A link numbers the bytes its sender writes (the *stream offset* of a byte is how many bytes
the sender wrote before it) and knows which TLS records they form.  Faults address bytes by
those numbers, hold conditions count the records and messages, the run's verdict reports
them: all of them read this one ledger, which only the link (through its fault engine)
writes.
"""

from __future__ import annotations

from biopair.tls.parser import Parser


class Ledger:
    """The stream one sender wrote on one link.

    Attributes:
        pulled: bytes taken from the sender so far (the next byte's stream offset).
        released: sender bytes already edited into the link's queue (``pulled`` minus the
            bytes a fault holds back until the record it names is complete).
        watcher: the :class:`~biopair.tls.parser.Parser` of what the sender wrote
            (records and plaintext handshake messages).
    """

    __slots__ = ("pulled", "released", "watcher")

    def __init__(self) -> None:
        self.pulled = 0
        self.released = 0
        self.watcher = Parser()

    def note(self, data: bytes) -> None:
        """Count bytes taken from the sender; the parser reads them when asked (parsing
        costs a feed per pull, and most runs never ask)."""
        self.pulled += len(data)
        self.watcher.defer(data)
