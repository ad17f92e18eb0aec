"""The socket link: each endpoint on a non-blocking AF_UNIX socketpair (genuine WANT_WRITE)."""

from __future__ import annotations

import array
import fcntl
import socket
import termios

from OpenSSL import SSL

from biopair.transport.link import Link

#: Bytes read from a relay socket at a time.
_PULL_CHUNK = 1 << 16


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
