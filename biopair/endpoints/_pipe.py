"""The bytes under a stack that does its own I/O through callbacks (wolfSSL, tlslite-ng).

A :class:`Pipe` is what such a stack reads from and writes to.  It is one of two things:

* **in memory** (``link = "memory"``): two byte queues the links move through the
  endpoint's wire methods; the input says "would block" when it is empty and "end of
  input" once :meth:`Pipe.eof` was called and it is drained.  The output is unbounded by
  default, as a memory BIO is; ``send_cap = N`` bounds it to N bytes not yet taken by the
  link, so a stack that writes more is told "would block" (a genuine WANT_WRITE: the stack
  is refused, nothing is made up);
* **a socket** (``link = "socket"``): the endpoint's end of a non-blocking AF_UNIX
  socketpair, as pyOpenSSL uses it (:mod:`biopair.transport.socket`); the kernel takes what
  fits in its buffer and says EAGAIN for the rest, and the socket link moves the bytes, so
  the wire methods take and give nothing.

The pipe holds no reference to its endpoint, so an endpoint and its pipe form no cycle.
"""

from __future__ import annotations

import socket


class Pipe:
    """One endpoint's input and output.

    Args:
        sock: the endpoint's end of a socketpair (None: in memory).
        send_cap: in memory, the most output bytes held until the link takes them (None:
            unbounded).

    Raises:
        ValueError: for a ``send_cap`` below 1.
    """

    def __init__(self, sock: socket.socket | None = None, send_cap: int | None = None) -> None:
        if send_cap is not None and send_cap < 1:
            raise ValueError("send_cap must be >= 1")
        self.sock = sock
        self.send_cap = send_cap
        self.incoming = bytearray()
        self.outgoing = bytearray()
        self.at_eof = False
        #: "would block" answers given to the stack's sends (the WANT_WRITE cause).
        self.send_refusals = 0

    # -- the stack's side -------------------------------------------------------------------
    def recv(self, size: int) -> bytes | None:
        """Up to ``size`` input bytes; ``b""`` at the end of input; None: would block."""
        if self.sock is not None:
            try:
                return self.sock.recv(size)
            except (BlockingIOError, InterruptedError):
                return None
        if not self.incoming:
            return b"" if self.at_eof else None
        data = bytes(self.incoming[:size])
        del self.incoming[:size]
        return data

    def send(self, data: bytes | memoryview) -> int:
        """Take what fits of ``data``; returns the count (0: would block)."""
        if self.sock is not None:
            try:
                return self.sock.send(data)
            except (BlockingIOError, InterruptedError):
                self.send_refusals += 1
                return 0
        room = len(data) if self.send_cap is None else self.send_cap - len(self.outgoing)
        if room <= 0:
            self.send_refusals += 1
            return 0
        taken = data[:room]
        self.outgoing += taken
        return len(taken)

    # -- the link's side (memory only; a socket link moves a socket's bytes itself) ---------
    def take(self, limit: int) -> bytes:
        """Up to ``limit`` output bytes, removed (b"": none, or on a socket)."""
        data = bytes(self.outgoing[:limit])
        del self.outgoing[:limit]
        return data

    def give(self, data: bytes) -> int:
        """Append to the input; returns the count taken (0 on a socket)."""
        if self.sock is not None:
            return 0
        self.incoming += data
        return len(data)

    def eof(self) -> None:
        """End the input once what was given is read."""
        self.at_eof = True

    def pending(self) -> int:
        """Input bytes given and not yet read (0 on a socket: the link counts those)."""
        return len(self.incoming)


class PipeWire:
    """The endpoint protocol's wire methods for a stack whose I/O goes through a
    :class:`Pipe` (``self.pipe``): wolfSSL's callbacks, tlslite-ng's socket stand-in.
    On a socket link the link moves the socket's bytes itself and these are not used."""

    pipe: Pipe

    def wire_take(self, limit: int) -> bytes:
        """Up to ``limit`` bytes the stack sent (b"": none)."""
        return self.pipe.take(limit)

    def wire_give(self, data: bytes) -> int:
        """Bytes for the stack to receive; all are taken in memory."""
        return self.pipe.give(data)

    def wire_eof(self) -> None:
        """The stack's input reports its end once what was given is read."""
        self.pipe.eof()

    def wire_pending(self) -> int:
        """Bytes given and not yet read by the stack."""
        return self.pipe.pending()
