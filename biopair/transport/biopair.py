"""The bio-pair link: libssl endpoints on OpenSSL's own bounded BIO pairs.

With ``link = "bio-pair"`` and ``[schedule] bio_pair_size = N``, each libssl endpoint's SSL
sits on the inner half of ``BIO_new_bio_pair(N, N)``
(:class:`~biopair.endpoints.libssl.LibsslEndpoint`); a link moves bytes between the outer
halves through the endpoints' wire methods, so the other side may be any in-process stack
(a pyOpenSSL endpoint stays on its memory BIOs).

Bytes in flight are bounded at every stage, so a reader that stops reading stops its
writer, as a real transport would:

* the sender's pair holds at most N bytes its SSL wrote: beyond that SSL_write and
  SSL_do_handshake return -1 with SSL_ERROR_WANT_WRITE, OpenSSL's own;
* the link itself holds at most :attr:`BioPairLink.capacity` bytes (N): :meth:`pull`
  takes only what fits, and what it leaves stays in the sender's pair; after every
  delivery the link refills from the sender;
* the receiver's pair accepts only what it has room for (``wire_give`` returns the count
  accepted); the rest waits in the link.

A paused bio-pair link neither delivers nor pulls, so the sender's pair fills.  Nothing is
simulated: every WANT_WRITE is an SSL call's answer about a full BIO pair.
"""

from __future__ import annotations

from biopair.endpoints.libssl import LibsslEndpoint
from biopair.endpoints.protocol import Endpoint
from biopair.transport.wire import WireLink

#: The default ``bio_pair_size`` when a scenario names none (OpenSSL's own default for
#: BIO_new_bio_pair(…, 0, …) is 17 KiB; 4 KiB makes a 16 KiB write wait).
DEFAULT_SIZE = 4096


class BioPairLink(WireLink):
    """One direction of a pair whose libssl endpoints sit on BIO pairs.

    Attributes:
        capacity: the most bytes the link holds in :attr:`queue` (it pulls no more).
    """

    kind = "bio-pair"
    pulls_while_paused = False

    def __init__(self, name: str, sender: Endpoint, receiver: Endpoint, capacity: int) -> None:
        super().__init__(name, sender, receiver)
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity

    def _take(self) -> bytes:
        room = self.capacity - len(self.queue)
        chunks = []
        while room > 0:
            chunk = self._from.wire_take(room)
            if not chunk:
                break
            chunks.append(chunk)
            room -= len(chunk)
        return b"".join(chunks)

    def deliver(self, limit: int | None = None) -> int:
        """Hand up to ``limit`` queued bytes to the receiver's pair, then refill the
        queue from the sender's (the room a delivery frees is taken at once, so a sender
        that has finished its calls still gets its bytes out)."""
        given = super().deliver(limit)
        if given and not self.paused and not self.closed and not self.eof:
            self.pull()
        return given

    def sender_pending(self) -> int:
        """Bytes in the sender's pair (or write BIO) that the link has not taken."""
        sender = self._from
        return sender.wire_backlog() if isinstance(sender, LibsslEndpoint) else 0
