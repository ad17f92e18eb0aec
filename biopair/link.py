"""Links: the bytes in flight in one direction between the two endpoints.

A link takes what its sender put on the wire (:meth:`Link.pull`), holds it, and hands it
to its receiver when the scheduler says so (:meth:`Link.deliver`).  On a memory link the
sender writes into an unbounded memory BIO, so OpenSSL never sees a full buffer and never
returns WANT_WRITE; pausing a memory link only starves the receiver.
"""

from __future__ import annotations

from OpenSSL import SSL

from biopair import _openssl
from biopair.faults import Applied, Fault, FaultEngine
from biopair.records import Framer, StreamWatcher

#: The two directions, in the order the scheduler serves them.
DIRECTIONS: tuple[str, str] = ("client>server", "server>client")


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
        discarded: bytes the sender wrote after the link closed (or after a truncate/eof
            fault cut the stream).
        engine: the faults armed on this link and the sender's record bookkeeping
            (see :mod:`biopair.faults`).
        rx: where the receiver's stream stands relative to record boundaries.
        rx_watcher: records and plaintext handshake messages handed to the receiver.
        fault_log: faults that applied and have not yet been put in a trace.
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
        self.engine = FaultEngine()
        self._rx = Framer()
        self._rx_watcher = StreamWatcher()
        self._rx_backlog = bytearray()
        self.fault_log: list[Applied] = []

    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count.

        The bytes pass through the link's :class:`~biopair.faults.FaultEngine` on their
        way into the queue.
        """
        chunk = _openssl.take_output(self.sender)
        if not chunk:
            return 0
        self.pulled += len(chunk)
        self._enqueue(*self.engine.process(chunk))
        return len(chunk)

    def _rx_sync(self) -> None:
        if self._rx_backlog:
            self._rx.feed(self._rx_backlog)
            self._rx_watcher.feed(self._rx_backlog)
            self._rx_backlog.clear()

    @property
    def rx(self) -> Framer:
        """Where the receiver's stream stands relative to record boundaries."""
        self._rx_sync()
        return self._rx

    @property
    def rx_watcher(self) -> StreamWatcher:
        """Records and plaintext handshake messages handed to the receiver so far."""
        self._rx_sync()
        return self._rx_watcher

    def _enqueue(self, out: bytes, discarded: int, applied: list[Applied]) -> None:
        self.fault_log.extend(applied)
        if self.closed:
            self.discarded += len(out) + discarded
        else:
            self.queue += out
            self.discarded += discarded

    def arm(self, fault: Fault) -> Fault:
        """Arm a fault on this link; one whose place is the current offset applies now.

        Returns:
            The armed fault (an unaddressed inject/eof/truncate pinned to the offset).

        Raises:
            FaultError: when the bytes it names have already passed.
        """
        self.pull()
        fault = self.engine.arm(fault)
        self._enqueue(*self.engine.process(b""))
        return fault

    def deliver(self, limit: int | None = None) -> int:
        """Hand up to ``limit`` queued bytes (all if None) to the receiver.

        Returns:
            The number of bytes delivered (0 while paused).
        """
        if self.paused:
            return 0
        n = len(self.queue) if limit is None else min(limit, len(self.queue))
        if n:
            chunk = bytes(self.queue[:n])
            _openssl.give_input(self.receiver, chunk)
            self._rx_backlog += chunk  # parsed when asked: see rx and rx_watcher
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

    def close(self) -> None:
        """Release resources (nothing to do for memory BIOs)."""
