"""The endpoint protocol: what a TLS stack provides to the scheduler, written down once.

Every stack biopair drives -- pyOpenSSL on memory BIOs or a socket, Python's ``ssl``
module, an external program over TCP, and later others -- implements :class:`Endpoint`
and declares what it supports in a :class:`Capabilities` value.  The scenario loader reads
the declaration to refuse, at load time and with one line, an op, setting or result the
stack cannot honour; the shared conformance suite (``tests/conformance/``) runs against
every stack to prove the rest.

Three things cross this boundary and nothing else:

* **calls**: :meth:`Endpoint.call` makes one op and returns a :class:`RawResult`: the raw
  return value, the SSL_get_error() name and the error queue, exactly as the stack said
  them (``ret = None`` where the stack hides the value; never a guess);
* **bytes**: the endpoint's *wire* -- what it wrote for the peer
  (:meth:`Endpoint.wire_take`) and what it is given to read (:meth:`Endpoint.wire_give`,
  :meth:`Endpoint.wire_eof`); links move bytes only through these (a pyOpenSSL endpoint
  on a memory BIO or a socket also offers a faster path that its own link kinds use);
* **state queries**: :meth:`Endpoint.state` for ``[result]`` checks and ``check`` steps
  (with SSL_pending and, where the stack has them, SSL_has_pending, SSL_in_init and
  SSL_SESSION_is_resumable), :meth:`Endpoint.state_string` for hold conditions,
  :meth:`Endpoint.export_keys` for ``keys_match``; and one change of the live
  connection, :meth:`Endpoint.change_modes`.

This module imports nothing from biopair: it is the floor the stacks stand on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

#: A write's payload: bytes, or a read-only ``memoryview`` over an earlier payload.  After
#: a partial write (SSL_MODE_ENABLE_PARTIAL_WRITE) the run loop passes the unwritten rest
#: as a view of the same payload, never a copy, so writing N bytes costs O(N) however many
#: calls it takes; a stack may write straight from the view (the pyOpenSSL and libssl
#: endpoints pass a pointer into the C buffer they already hold) or copy it.
WriteData = bytes | memoryview


class RawResult(NamedTuple):
    """What the stack itself said about one call.

    A NamedTuple rather than a frozen dataclass: a bytewise handshake makes thousands of
    these, and a frozen dataclass costs three times as much to build.

    Attributes:
        ret: the C return value (None: hidden by the stack, as Python's ``ssl`` hides it).
        error: the SSL_get_error() name (``NONE``, ``WANT_READ``, ...), or None where it
            must not be asked (after SSL_shutdown() returned 0 or 1, and for
            SSL_renegotiate() and SSL_verify_client_post_handshake(), which are not I/O
            calls).
        reasons: reason strings of the error queue, oldest first.
        errno: the C errno right after the call (0 unless a socket failed).
        data: bytes a read or peek returned.
        pyopenssl: what the binding's public method would have raised or returned (for
            pyOpenSSL its exception or value; for other stacks their own).
    """

    ret: int | None
    error: str | None
    reasons: tuple[str, ...]
    errno: int
    data: bytes
    pyopenssl: str


@dataclass(frozen=True)
class Capabilities:
    """What a stack supports, declared once and read by the scenario loader.

    Attributes:
        stack: the name scenarios use (``pyopenssl``, ``stdlib``, ``openssl-cli``, ...).
        ops: scenario ops it can make (empty for a stack that cannot be called, such as an
            external program).
        settings: :class:`~biopair.endpoints.config.EndpointConfig` keys it honours (the
            scenario's endpoint-table keys); any other key is refused at load.
        results: ``[result]`` keys it can report; a check of any other key is refused at
            load.
        links: link kinds it can sit on (``memory``, ``socket``, ``tcp-peer``).
        versions: protocol versions it can pin (``1.2``, ``1.3``, ...).
        raw_returns: False when the stack hides the C return value of failed calls
            (then outcomes carry ``ret = None``, matched by ``HIDDEN``).
        external: True for a program in another process (its call counts follow timing).
        package: what to install when the stack is missing (``Debian: gnutls-bin``).
        capped_sends: True for a callback-I/O stack whose in-memory sends
            ``[schedule] send_cap`` can bound (its send callback is told "would block"
            beyond the cap: a genuine WANT_WRITE on a memory link).
    """

    stack: str
    ops: frozenset[str]
    settings: frozenset[str]
    results: frozenset[str]
    links: frozenset[str] = frozenset({"memory"})
    versions: frozenset[str] = frozenset({"1.0", "1.1", "1.2", "1.3"})
    raw_returns: bool = True
    external: bool = False
    package: str = ""
    capped_sends: bool = False


@runtime_checkable
class Endpoint(Protocol):
    """One side of a pair, on some TLS stack.

    Attributes:
        name: ``client`` or ``server`` (the role).
        stack: the stack's name, as in :attr:`Capabilities.stack`.
        capabilities: what the stack supports.
        write_data: the payload of the endpoint's pending write (what a retried or
            continued write passes again); ``b""`` before any write.
    """

    name: str
    stack: str
    capabilities: Capabilities

    @property
    def write_data(self) -> WriteData:
        """The payload of the current write buffer."""
        ...

    def call(self, op: str, *, size: int | None = None, data: WriteData | None = None,
             buffer: str = "auto") -> RawResult:
        """Make one op (``connect``, ``read``, ``write``, ...) and say what the stack said.

        Args:
            op: a scenario op the stack declares in :attr:`Capabilities.ops`.
            size: bytes to read (reads) or the size of a generated payload (writes).
            data: the payload of a write (bytes, or a view of :attr:`write_data`: the rest
                of a partial write); None retries the pending write buffer.
            buffer: for writes, ``auto``/``same``/``copy`` (see the scenario format).

        Returns:
            The :class:`RawResult`; never raises for anything the stack reports.
        """
        ...

    def wire_take(self, limit: int) -> bytes | None:
        """Up to ``limit`` bytes the endpoint wrote for its peer (``b""``: none yet;
        None: the endpoint closed its sending side)."""
        ...

    def wire_give(self, data: bytes) -> int:
        """Hand bytes to the endpoint's input; returns how many it accepted."""
        ...

    def wire_eof(self) -> None:
        """Make the endpoint's input report EOF once what was given is read."""
        ...

    def wire_pending(self) -> int:
        """Bytes given to the endpoint and not yet read by its stack (0 where unknown)."""
        ...

    def state(self) -> dict[str, Any] | None:
        """What the connection settled, by ``[result]`` key (None: cannot be seen)."""
        ...

    def state_string(self) -> str | None:
        """SSL_state_string_long() or the stack's equivalent (None: cannot be seen)."""
        ...

    def session(self) -> Any:
        """The session to offer for resumption in a later pair (None: none)."""
        ...

    def export_keys(self, label: bytes, length: int) -> bytes | None:
        """RFC 5705 keying material (SSL_export_keying_material, no context), or None
        where the stack has no exporter or the handshake has not finished.  Compared
        between the two ends, never reported (it is a secret)."""
        ...

    def change_modes(self, set_modes: tuple[str, ...], clear_modes: tuple[str, ...],
                     set_options: tuple[str, ...]) -> None:
        """Change SSL_MODE_* and SSL_OP_* bits of the live connection: ``clear_modes``
        first, then ``set_modes``, then ``set_options`` (SSL_clear_mode, SSL_set_mode,
        SSL_set_options).  Only stacks that declare ``modes`` take it.

        Raises:
            ValueError: on a stack that cannot change modes (the loader refuses those).
        """
        ...

    def close(self) -> None:
        """Release what the endpoint holds (processes, files, sockets); idempotent."""
        ...
