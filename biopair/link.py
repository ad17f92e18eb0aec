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

    def __init__(self) -> None:
        self.endpoint, self.relay = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            for sock in (self.endpoint, self.relay):
                sock.setblocking(False)
            self.endpoint.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SMALLEST_BUFFER)
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


class SocketLink:
    """One direction between two endpoints on socket links.

    The sender's ``Connection`` writes into its own end of a socketpair with the smallest
    send buffer the kernel allows; :meth:`pull` reads those bytes from the relay's end of
    that pair (freeing the sender's buffer) and :meth:`deliver` writes them into the relay's
    end of the receiver's pair.  A paused socket link stops pulling as well as delivering,
    so the sender's buffer fills and OpenSSL itself answers WANT_WRITE; an EOF is
    ``shutdown(SHUT_WR)`` of the relay's end toward the receiver.

    Attributes:
        name: ``"client>server"`` or ``"server>client"``.
        queue: bytes pulled from the sender and not yet delivered.
        pulled: total bytes taken from the sender.
        delivered: total bytes handed to the receiver.
        paused: while True, nothing is pulled or delivered.
        eof: an EOF was requested; it reaches the receiver once the queue is empty.
        closed: the receiver's socket now reports EOF; later bytes are discarded.
        discarded: bytes the sender wrote after the link closed.
        blocked: deliveries the receiver's side refused for want of buffer space.
    """

    kind = "socket"

    def __init__(
        self,
        name: str,
        sender: SSL.Connection,
        receiver: SSL.Connection,
        source: SocketEnds,
        sink: SocketEnds,
    ) -> None:
        self.name = name
        self.sender = sender
        self.receiver = receiver
        self.source = source
        self.sink = sink
        self.queue = bytearray()
        self.pulled = 0
        self.delivered = 0
        self.paused = False
        self.eof = False
        self.closed = False
        self.discarded = 0
        self.blocked = 0

    def pull(self) -> int:
        """Read everything the sender has written so far (nothing while paused).

        Returns:
            The byte count taken from the sender's socket.
        """
        if self.paused:
            return 0
        total = 0
        while True:
            try:
                chunk = self.source.relay.recv(_PULL_CHUNK)
            except (BlockingIOError, InterruptedError):
                break
            if not chunk:
                break
            total += len(chunk)
            if self.closed:
                self.discarded += len(chunk)
            else:
                self.queue += chunk
        self.pulled += total
        return total

    def deliver(self, limit: int | None = None) -> int:
        """Send up to ``limit`` queued bytes (all if None) toward the receiver.

        Returns:
            The number of bytes the receiver's side accepted (0 while paused).
        """
        if self.paused:
            return 0
        n = len(self.queue) if limit is None else min(limit, len(self.queue))
        sent = 0
        if n:
            try:
                sent = self.sink.relay.send(bytes(self.queue[:n]))
            except (BlockingIOError, InterruptedError):
                sent = 0
            if sent < n:
                self.blocked += 1
            del self.queue[:sent]
            self.delivered += sent
        if self.eof and not self.queue and not self.closed and not unread(self.source.relay):
            self.sink.relay.shutdown(socket.SHUT_WR)
            self.closed = True
        return sent

    def request_eof(self) -> None:
        """Close the link: the receiver sees EOF once the queued bytes are delivered."""
        self.eof = True
        if not self.paused:
            self.pull()
            if not self.queue:
                self.deliver(0)

    def receiver_pending(self) -> int:
        """Bytes delivered but not yet read by the receiver's OpenSSL (FIONREAD)."""
        return unread(self.sink.endpoint)

    def sender_pending(self) -> int:
        """Bytes the sender wrote that the relay has not pulled yet (FIONREAD)."""
        return unread(self.source.relay)

    def fingerprint(self) -> tuple[int, ...]:
        """Everything that changes when this link makes progress."""
        return (self.pulled, self.delivered, self.receiver_pending(), int(self.closed),
                self.sender_pending())

    def close(self) -> None:
        """Close the sender's socketpair (each pair is closed by the link it feeds)."""
        self.source.close()
