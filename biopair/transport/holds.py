"""Holds: a link that delivers nothing until a condition visible on the wire is true."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from biopair.tls.vocab import MESSAGE_NAMES, ContentType

if TYPE_CHECKING:  # pragma: no cover
    from biopair.engine.pair import Pair

#: What a condition can say about an endpoint.
VERBS = ("sent", "received", "handshake-done", "state")
_DONE = "SSL negotiation finished successfully"


@dataclass(frozen=True)
class Condition:
    """Something visible without decrypting: see :func:`parse_condition`.

    Attributes:
        endpoint: ``client`` or ``server``.
        verb: one of :data:`VERBS`.
        what: a record type, ``records``, a handshake message name, or state text.
        count: how many (for sent/received).
    """

    endpoint: str
    verb: str
    what: str = ""
    count: int = 1

    def text(self) -> str:
        """The condition as written in a scenario."""
        if self.verb in ("sent", "received"):
            n = f"{self.count} " if self.count != 1 else ""
            return f"{self.endpoint} {self.verb} {n}{self.what}"
        if self.verb == "state":
            return f"{self.endpoint} state {self.what}"
        return f"{self.endpoint} handshake-done"

    def holds(self, pair: Pair) -> bool:
        """Is the condition true of the pair now?"""
        if self.verb in ("handshake-done", "state"):
            state = pair.endpoints[self.endpoint].state_string()
            if state is None:  # a stack that shows no state string: never true
                return False
            return state == _DONE if self.verb == "handshake-done" else self.what in state
        other = "server" if self.endpoint == "client" else "client"
        if self.verb == "sent":
            watcher = pair.links[f"{self.endpoint}>{other}"].engine.watcher
        else:
            watcher = pair.links[f"{other}>{self.endpoint}"].rx_watcher
        return bool(watcher.count(self.what) >= self.count)


#: Names a sent/received condition may count.
COUNTABLE = ("records", *(t.name for t in ContentType), *MESSAGE_NAMES)


def parse_condition(text: str) -> Condition:
    """Parse a hold condition.

    Grammar (one of)::

        ENDPOINT sent [N] WHAT        # the endpoint wrote it (as pulled from its BIO)
        ENDPOINT received [N] WHAT    # it was handed to the endpoint's BIO
        ENDPOINT handshake-done       # SSL_state_string_long says the handshake finished
        ENDPOINT state TEXT           # SSL_state_string_long contains TEXT

    WHAT is ``records`` (any record), a content type (``handshake``, ``alert``,
    ``change_cipher_spec``, ``application_data``) counted in records, or a plaintext
    handshake message name (``ClientHello``, ``ServerHello``, ``HelloRetryRequest``, and in
    TLS 1.2 ``Certificate``, ``ServerKeyExchange``, ``ServerHelloDone``,
    ``ClientKeyExchange``, ...).  Encrypted messages (TLS 1.3 Finished, tickets) cannot be
    named; count their ``application_data`` records instead.

    Returns:
        The :class:`Condition`.

    Raises:
        ValueError: with a message saying what is wrong.
    """
    words = text.split()
    if len(words) < 2 or words[0] not in ("client", "server"):
        raise ValueError(f"expected \"ENDPOINT sent|received [N] WHAT\", \"ENDPOINT "
                         f"handshake-done\" or \"ENDPOINT state TEXT\", got {text!r}")
    endpoint, verb, rest = words[0], words[1], words[2:]
    if verb not in VERBS:
        raise ValueError(f"unknown condition verb {verb!r}; expected one of {', '.join(VERBS)}")
    if verb == "handshake-done":
        if rest:
            raise ValueError(f"handshake-done takes nothing after it: {text!r}")
        return Condition(endpoint, verb)
    if verb == "state":
        if not rest:
            raise ValueError("state needs the text to look for in SSL_state_string_long")
        return Condition(endpoint, verb, " ".join(rest))
    count = 1
    if rest and rest[0].isdigit():
        count = int(rest[0])
        rest = rest[1:]
        if count < 1:
            raise ValueError(f"a count must be >= 1: {text!r}")
    if len(rest) != 1 or rest[0] not in COUNTABLE:
        raise ValueError(f"{verb} needs one of records, a content type or a plaintext "
                         f"handshake message name ({', '.join(COUNTABLE)}), got {text!r}")
    return Condition(endpoint, verb, rest[0], count)
