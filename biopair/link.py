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

import array
import fcntl
import socket
import termios
from collections.abc import Callable

from OpenSSL import SSL

from biopair import _openssl
from biopair.faults import Applied, Fault, FaultEngine
from biopair.records import Framer, StreamWatcher

#: Bytes read from a relay socket at a time.
_PULL_CHUNK = 1 << 16
#: The two directions, in the order the scheduler serves them.
DIRECTIONS: tuple[str, str] = ("client>server", "server>client")


def parse_direction(text: str) -> tuple[str, str]:
    """Split ``"client>server"`` into sender and receiver."""
    sender, _, receiver = text.partition(">")
    return sender, receiver


class Link:
    """One direction of bytes in flight; the transport is a subclass's.

    Everything that does not depend on how bytes leave the sender and reach the receiver
    lives here, so memory and socket links behave the same in steps, runs, faults,
    record-aware moves and holds.  A subclass provides :meth:`_take` (what the sender has
    written), :meth:`_give` (hand bytes over; the receiver may accept fewer),
    :meth:`_end` (signal EOF), :meth:`receiver_pending` and :meth:`sender_pending`.

    Attributes:
        name: ``"client>server"`` or ``"server>client"``.
        queue: bytes pulled from the sender and not yet delivered.
        pulled: total bytes taken from the sender.
        delivered: total bytes handed to the receiver.
        paused: while True, nothing is delivered (a socket link does not pull either).
        held: while True, nothing is delivered; the sender is still drained (a hold
            waits for what the sender writes).
        eof: an EOF was requested; it reaches the receiver once the queue is empty.
        closed: the receiver now sees EOF; later bytes are discarded.
        discarded: bytes the sender wrote after the link closed (or after a truncate/eof
            fault cut the stream).
        engine: the faults armed on this link and the sender's record bookkeeping
            (see :mod:`biopair.faults`).
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

    def __init__(self, name: str, sender: SSL.Connection, receiver: SSL.Connection) -> None:
        self.name = name
        self.sender = sender
        self.receiver = receiver
        self.queue = bytearray()
        self.pulled = 0
        self.delivered = 0
        self.paused = False
        self.held = False
        self.eof = False
        self.closed = False
        self.discarded = 0
        self.engine = FaultEngine()
        self._rx = Framer()
        self._rx_watcher = StreamWatcher()
        self._rx_backlog = bytearray()
        self.fault_log: list[Applied] = []
        self.on_pull: Callable[[bytes], None] | None = None

    # -- transport, provided by subclasses -----------------------------------------------
    def _take(self) -> bytes:
        raise NotImplementedError

    def _give(self, data: bytes) -> int:
        raise NotImplementedError

    def _end(self) -> bool:
        """Signal EOF to the receiver; False if it cannot be done yet."""
        raise NotImplementedError

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's OpenSSL."""
        raise NotImplementedError

    def sender_pending(self) -> int:
        """Bytes the sender wrote that the link has not taken yet."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the transport's resources; safe to call twice."""

    # -- shared behaviour ----------------------------------------------------------------
    def pull(self) -> int:
        """Take everything the sender has written so far; returns the byte count.

        The bytes pass through the link's :class:`~biopair.faults.FaultEngine` on their
        way into the queue.  A paused link whose transport can block its writer (a socket)
        takes nothing, so the writer's buffer fills.
        """
        if self.paused and not self.pulls_while_paused:
            return 0
        chunk = self._take()
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
        n = len(self.queue) if limit is None else min(limit, len(self.queue))
        given = 0
        if n:
            chunk = bytes(self.queue[:n])
            given = self._give(chunk)
            if given:
                self._rx_backlog += chunk[:given]  # parsed when asked: see rx, rx_watcher
                del self.queue[:given]
                self.delivered += given
        if self.eof and not self.queue and not self.closed and self._end():
            self.closed = True
        return given

    def request_eof(self) -> None:
        """Close the link: the receiver sees EOF once the queued bytes are delivered."""
        self.eof = True
        if not self.paused and not self.held:
            self.pull()
            if not self.queue:
                self.deliver(0)


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


#: What the endpoint's end asks for: the kernel raises it to its minimum send buffer.
_SMALLEST_BUFFER = 1
#: What the relay's end toward a receiver asks for (the kernel caps it at wmem_max).
_RELAY_SNDBUF = 1 << 22


class SocketEnds:
    """One endpoint's non-blocking AF_UNIX socketpair.

    Attributes:
        endpoint: the end the endpoint's ``Connection`` reads and writes (smallest send
            buffer the kernel allows, so a writer that is not drained soon gets EAGAIN
            and OpenSSL answers WANT_WRITE).
        relay: the scheduler's end: it reads what the endpoint wrote and writes what the
            endpoint is to read (a large send buffer, so deliveries do not stall).
    """

    def __init__(self, sndbuf: int = _SMALLEST_BUFFER) -> None:
        """Make the pair; ``sndbuf`` is what the endpoint's end asks for as SO_SNDBUF (the
        kernel doubles it and raises it to its minimum: 1 gives 4,608 bytes here)."""
        self.endpoint, self.relay = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            for sock in (self.endpoint, self.relay):
                sock.setblocking(False)
            self.endpoint.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
            # On AF_UNIX stream sockets bytes in flight are charged to the *sender's*
            # buffer; SO_RCVBUF does not limit them.  Set anyway, so the endpoint's end
            # is as small as the kernel allows in both directions.
            self.endpoint.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALLEST_BUFFER)
            self.relay.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _RELAY_SNDBUF)
        except BaseException:
            self.close()
            raise

    def sndbuf(self) -> int:
        """The endpoint's send buffer as the kernel set it (SO_SNDBUF)."""
        return int(self.endpoint.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))

    def close(self) -> None:
        """Close both ends; safe to call twice."""
        self.endpoint.close()
        self.relay.close()


def unread(sock: socket.socket) -> int:
    """Bytes waiting in a socket's receive queue (FIONREAD); 0 once it is closed."""
    if sock.fileno() < 0:
        return 0
    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.FIONREAD, buf, True)
    return int(buf[0])


class SocketLink(Link):
    """One direction between two endpoints on socket links.

    The sender's ``Connection`` writes into its own end of a socketpair with the smallest
    send buffer the kernel allows; :meth:`pull` reads those bytes from the relay's end of
    that pair (freeing the sender's buffer) and :meth:`deliver` writes them into the relay's
    end of the receiver's pair.  A paused socket link stops pulling as well as delivering,
    so the sender's buffer fills and OpenSSL itself answers WANT_WRITE; an EOF is
    ``shutdown(SHUT_WR)`` of the relay's end toward the receiver.

    Attributes:
        source: the sender's socketpair; sink: the receiver's.
        blocked: deliveries the receiver's side refused for want of buffer space.
    """

    kind = "socket"
    pulls_while_paused = False

    def __init__(
        self,
        name: str,
        sender: SSL.Connection,
        receiver: SSL.Connection,
        source: SocketEnds,
        sink: SocketEnds,
    ) -> None:
        super().__init__(name, sender, receiver)
        self.source = source
        self.sink = sink
        self.blocked = 0

    def _take(self) -> bytes:
        chunks = []
        while True:
            try:
                chunk = self.source.relay.recv(_PULL_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def _give(self, data: bytes) -> int:
        try:
            sent = self.sink.relay.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        if sent < len(data):
            self.blocked += 1
        return sent

    def _end(self) -> bool:
        # Bytes the sender wrote before the EOF must go first.
        if unread(self.source.relay):
            return False
        self.sink.relay.shutdown(socket.SHUT_WR)
        return True

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's OpenSSL (FIONREAD)."""
        return unread(self.sink.endpoint)

    def sender_pending(self) -> int:
        """Bytes the sender wrote that the relay has not pulled yet (FIONREAD)."""
        return unread(self.source.relay)

    def close(self) -> None:
        """Close the sender's socketpair (each pair is closed by the link it feeds)."""
        self.source.close()
