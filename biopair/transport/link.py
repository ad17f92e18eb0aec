"""Links: the bytes in flight in one direction between the two endpoints.

A link takes what its sender put on the wire (:meth:`Link.pull`), holds it, and hands it
to its receiver when the scheduler says so (:meth:`Link.deliver`).  On a memory link the
sender writes into an unbounded memory BIO, so OpenSSL never sees a full buffer and never
returns WANT_WRITE; pausing a memory link only starves the receiver.

On a socket link (:class:`SocketLink`) each endpoint's ``Connection`` sits on its own end of
a non-blocking AF_UNIX socketpair whose send buffer is as small as the kernel allows; the
scheduler relays bytes between the other ends.  A sender that is not drained fills its
buffer, ``send()`` fails with EAGAIN, and OpenSSL returns a genuine WANT_WRITE.  See
docs/socket-link.md.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any

from biopair.tls.framing import Framer
from biopair.tls.parser import Parser, Session
from biopair.transport.faults import Applied, Fault, FaultEngine
from biopair.transport.holds import Condition
from biopair.transport.ledger import Ledger

#: Delivered bytes the receiver's framer is fed in one go at the latest (it is fed when
#: asked, or once this many are waiting: a long stream is never kept whole).
_BACKLOG_LIMIT = 64 * 1024

#: The two directions, in the order the scheduler serves them.
DIRECTIONS: tuple[str, str] = ("client>server", "server>client")


def parse_direction(text: str) -> tuple[str, str]:
    """Split ``"client>server"`` into sender and receiver."""
    sender, _, receiver = text.partition(">")
    return sender, receiver


def share_sessions(links: Iterable[Link]) -> None:
    """Let the links of one pair learn the TLS version together.

    The version is read from the server's ServerHello but decides what is plaintext in
    both directions (after a HelloRetryRequest the client's second ClientHello follows
    its change_cipher_spec in the clear), so the sender views of both links share one
    :class:`~biopair.tls.parser.Session`, and so do their receiver views.
    """
    sent, received = Session(), Session()
    for link in links:
        sent.join(link.sent)
        received.join(link.rx_watcher)


class Link(abc.ABC):
    """One direction of bytes in flight: the link protocol every link kind implements.

    What a link promises (``tests/conformance/test_links.py`` proves it for every kind):

    * :meth:`pull` takes everything the sender wrote so far (through the armed faults)
      into :attr:`queue` and returns the sender bytes taken; the sender's byte ledger
      (:attr:`ledger`: bytes pulled and released, the records they form) is kept here,
      once;
    * :meth:`deliver` hands up to ``limit`` queued bytes to the receiver and returns how
      many it took; a paused or held link, or a closed one, hands over nothing;
    * :meth:`request_eof` asks for an EOF, which reaches the receiver (:attr:`closed`)
      once the queue is empty; bytes pulled after that are discarded;
    * :meth:`receiver_pending` / :meth:`sender_pending` count bytes on either side of the
      link not yet read by their stack;
    * :meth:`close` releases the transport, idempotently, leaving no file descriptor open.

    Everything that does not depend on how bytes leave the sender and reach the receiver
    lives here, so memory, socket and wire links behave the same in steps, runs, faults,
    record-aware moves and holds.  A subclass provides :meth:`_take` (what the sender has
    written), :meth:`_give` (hand bytes over; the receiver may accept fewer),
    :meth:`_end` (signal EOF), :meth:`receiver_pending` and :meth:`sender_pending`.

    Attributes:
        name: ``"client>server"`` or ``"server>client"``.
        queue: bytes pulled from the sender and not yet delivered.
        delivered: total bytes handed to the receiver.
        paused: while True, nothing is delivered (a socket link does not pull either).
        until: the hold condition while the link is held (see :attr:`held`), else None.
        eof: an EOF was requested; it reaches the receiver once the queue is empty.
        closed: the receiver now sees EOF; later bytes are discarded.
        discarded: bytes the sender wrote after the link closed (or after a truncate/eof
            fault cut the stream).
        ledger: the sender's byte ledger (:class:`~biopair.transport.ledger.Ledger`).
        engine: the faults armed on this link (see :mod:`biopair.transport.faults`); it
            edits bytes and keeps no count of its own.
        fault_log: faults that applied and have not yet been put in a trace.
        on_pull: called with every chunk queued (after faults, so what crosses the wire)
            by :meth:`pull`; the trace uses it to parse records and keep the bytes for
            pcapng export.
    """

    kind = "abstract"
    #: Whether a paused link still drains its sender (memory BIOs never block a writer).
    pulls_while_paused = True
    #: Whether the sender's bytes arrive on their own (an external peer), so every move
    #: must look for them first.
    waits = False

    def __init__(self, name: str, sender: Any, receiver: Any) -> None:
        self.name = name
        self.sender = sender
        self.receiver = receiver
        self.queue = bytearray()
        self.delivered = 0
        self.paused = False
        #: True while a hold condition (:attr:`until`) keeps the link from delivering (a
        #: plain attribute, kept by the setter of :attr:`until`: the schedule reads it
        #: for every move).
        self.held = False
        self._until: Condition | None = None
        self.eof = False
        self.closed = False
        self.discarded = 0
        self.ledger = Ledger()
        self.engine = FaultEngine(self.ledger)
        self._rx = Framer()
        self._rx_backlog = bytearray()
        self._rx_watcher = Parser()
        self.fault_log: list[Applied] = []
        self.on_pull: Callable[[bytes], None] | None = None
        # A transport may offer a C-level shortcut for giving (a memory link does: a partial
        # object over the BIO, no Python frame per move).  It must not refer back to the
        # link: a bound method here would make a reference cycle.
        self._giver: Callable[[bytes, int], int] | None = None
        #: A callable that says :meth:`receiver_pending` without a Python frame, if the
        #: transport has one (the pair asks before and after every SSL call).
        self.pending_counter: Callable[[], int] | None = None

    @property
    def until(self) -> Condition | None:
        """The hold condition while the link is held (see :attr:`held`), else None."""
        return self._until

    @until.setter
    def until(self, condition: Condition | None) -> None:
        self._until = condition
        self.held = condition is not None

    @property
    def pulled(self) -> int:
        """Total bytes taken from the sender (the ledger's count)."""
        return self.ledger.pulled

    @property
    def sent(self) -> Parser:
        """Records and plaintext handshake messages the sender wrote (the ledger's)."""
        return self.ledger.watcher

    def give_receiver(self, data: bytes) -> int:
        """Write ``data`` straight into the receiver's input (its BIO or socket), outside
        the stream: no ledger, fault, hold or parser of this link sees it (junk in the
        receiver's own buffer, not bytes from the sender).

        Returns:
            Bytes the receiver's input accepted.
        """
        return self._give(data)

    # -- transport, provided by subclasses -----------------------------------------------
    @abc.abstractmethod
    def _take(self) -> bytes:
        """Everything the sender wrote since the last take (b"": nothing)."""

    @abc.abstractmethod
    def _give(self, data: bytes) -> int:
        """Hand bytes to the receiver; returns how many it accepted."""

    @abc.abstractmethod
    def _end(self) -> bool:
        """Signal EOF to the receiver; False if it cannot be done yet."""

    @abc.abstractmethod
    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's stack."""

    @abc.abstractmethod
    def sender_pending(self) -> int:
        """Bytes the sender wrote that the link has not taken yet."""

    def close(self) -> None:  # noqa: B027 - most transports hold nothing to release
        """Release the transport's resources; safe to call twice."""

    # -- shared behaviour ----------------------------------------------------------------
    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count.

        The bytes pass through the link's :class:`~biopair.transport.faults.FaultEngine` on their
        way into the queue.  A paused link whose transport can block its writer (a socket)
        takes nothing, so the writer's buffer fills.
        """
        if self.paused and not self.pulls_while_paused:
            return 0
        chunk = self._take()
        if not chunk:
            return 0
        self._enqueue(*self.engine.process(chunk))
        return len(chunk)

    def _rx_sync(self) -> None:
        if self._rx_backlog:
            self._rx.feed(self._rx_backlog)
            self._rx_backlog.clear()

    @property
    def rx(self) -> Framer:
        """Where the receiver's stream stands relative to record boundaries."""
        self._rx_sync()
        return self._rx

    @property
    def rx_watcher(self) -> Parser:
        """Records and plaintext handshake messages handed to the receiver so far."""
        return self._rx_watcher

    def _enqueue(self, out: bytes, discarded: int, applied: list[Applied]) -> None:
        self.fault_log.extend(applied)
        if self.closed:
            self.discarded += len(out) + discarded
        else:
            self.queue += out
            self.discarded += discarded
            if out and self.on_pull is not None:
                self.on_pull(out)

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
            The number of bytes the receiver took (0 while paused or held; a socket may
            take fewer than offered).
        """
        if self.paused or self.held:
            return 0
        queue = self.queue
        queued = len(queue)
        n = queued if limit is None or limit > queued else limit
        given = 0
        if n:
            # The rest of the queue stays where it is (deleting a bytearray's front only
            # moves its start, and CPython compacts it when half is free: O(bytes moved)).
            chunk = bytes(queue) if n == queued else bytes(queue[:n])
            giver = self._giver
            given = giver(chunk, n) if giver is not None else self._give(chunk)
            if given < 0:  # pragma: no cover - a memory BIO only fails when out of memory
                raise MemoryError(f"{self.name}: the receiver refused {n} bytes ({given})")
            if given:
                # Framed and parsed when asked: see rx, rx_watcher.
                part = chunk if given == n else chunk[:given]
                backlog = self._rx_backlog
                backlog += part
                if len(backlog) >= _BACKLOG_LIMIT:
                    self._rx_sync()  # the framer's count is the same whenever it is fed
                self._rx_watcher.defer(part)
                del queue[:given]
                self.delivered += given
        if self.eof and not queue and not self.closed and self._end():
            self.closed = True
        return given

    def request_eof(self) -> None:
        """Close the link: the receiver sees EOF once the queued bytes are delivered."""
        self.eof = True
        if not self.paused and not self.held:
            self.pull()
            if not self.queue:
                self.deliver(0)


