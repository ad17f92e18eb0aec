"""The one TLS parser: records and plaintext handshake messages in one direction's bytes.

Theory of operation
-------------------
A :class:`Parser` reads the byte stream one side wrote (or was given), in order, in
chunks of any size: :meth:`Parser.feed` parses at once and returns the records the chunk
completed; :meth:`Parser.defer` only queues the bytes, and they are parsed when someone
asks (:attr:`Parser.records`, :meth:`Parser.count`, :meth:`Parser.sync`).  Every reader of
the wire uses it: the trace (records as events), the fault engine (what the sender wrote,
so a fault can name record N), a link's receiver view (what a side was given) and hold
conditions (counts by name).

A record is a 5-byte header (content type, legacy version, length) and ``length`` bytes.
The first header that is not TLS (an unknown content type, or a version byte that is not
3) is reported once as a ``not-tls`` :class:`Record`; the rest of the stream is counted but
not interpreted.  Nothing here decrypts, so a record is *encrypted* or *plaintext* by the
protocol's rules, not by looking inside:

* ``application_data`` is always protected;
* ``change_cipher_spec`` and ``heartbeat`` are never taken for protected;
* ``alert`` and ``handshake`` are plaintext until this direction's change_cipher_spec in
  TLS 1.2.  In TLS 1.3 the CCS is a middlebox-compatibility dummy (RFC 8446 D.4) and
  marks nothing: every protected record is an ``application_data`` record, so every
  ``handshake`` record is plaintext.  That is how the second ClientHello after a
  HelloRetryRequest, which follows the client's CCS, stays plaintext, and in practice
  only ClientHello, ServerHello and HelloRetryRequest travel in ``handshake`` records.

Whether TLS 1.3 was chosen is read from the first ServerHello or HelloRetryRequest's
supported_versions extension, in the server>client stream, and used by the client>server
stream too: both parsers of a connection share one :class:`Session`.  A parser that meets
an alert or handshake record after its own CCS while the version is still unknown first
makes the session parse what its other parsers have queued (:meth:`Session.settle`): the
fault engine and the receiver view feed their parsers lazily, and the server's
HelloRetryRequest, which the client read before it wrote its CCS, may still be queued on
the other direction.  If the version is still unknown then, TLS 1.2's rule applies.

Plaintext handshake records carry handshake messages (4-byte header: type, 3-byte
length); a message may span records and a record may hold several, so that stream is
reassembled into :class:`Message` values.  Each record also carries the trace's labels
for what starts or ends in it (``ClientHello``, ``Certificate (start)``, ``(continued)``,
``(end)``, ``alert fatal handshake_failure``, ``ChangeCipherSpec``).

Costs: every byte is copied into the parser's buffer once and every record is cut out of
it once (a record's body only when it is plaintext), so thousands of 1-byte feeds or one
64 MiB feed are linear.  Only lengths and names are kept besides plaintext handshake
messages: no key shares of encrypted data, no ciphertext.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass

from biopair.tls.vocab import (
    CHANGE_CIPHER_SPEC,
    HEADER_LEN,
    MESSAGE_HEADER_LEN,
    SUPPORTED_VERSIONS,
    TLS13,
    ContentType,
    HandshakeType,
    alert_text,
    handshake_name,
    message_name,
    type_name,
)

#: The content type a trace gives the report of bytes that are not TLS.
NOT_TLS = "not-tls"

_KNOWN_TYPES = frozenset(ContentType)
_CCS = ContentType.change_cipher_spec
_ALERT = ContentType.alert
_HANDSHAKE = ContentType.handshake
_APPDATA = ContentType.application_data
_SERVER_HELLO = HandshakeType.ServerHello
#: Records after which the rules for the next records may differ (a CCS; a plaintext
#: handshake record may hold a ServerHello).
_DECIDING = frozenset((_CCS, _HANDSHAKE))

#: Deferred bytes a parser holds before it reads ahead (see :meth:`Parser.defer`).
DEFER_LIMIT = 64 * 1024


class RecordView:
    """Derived facts of a record, for any class with ``offset``, ``content_type`` (a
    name), ``length``, ``messages`` and ``encrypted`` (a trace's ``RecordEvent``)."""

    offset: int
    content_type: str
    length: int
    messages: tuple[str, ...]
    encrypted: bool

    @property
    def size(self) -> int:
        """Header plus payload."""
        return self.length + HEADER_LEN

    @property
    def end(self) -> int:
        """Stream offset just past the record."""
        return self.offset + self.size

    def label(self) -> str:
        """Short text: ``ClientHello``, ``application_data (encrypted)``, ..."""
        if self.messages:
            return ", ".join(self.messages)
        if self.encrypted:
            return f"{self.content_type} (encrypted)"
        return self.content_type


@dataclass(frozen=True)
class Record:
    """One TLS record as it appeared in a stream.

    Attributes:
        index: its number in the stream (0-based; the not-tls report takes the next).
        offset: stream offset of its first header byte.
        content_type: the header's type byte (a :class:`~biopair.tls.vocab.ContentType`
            when known).
        version: the header's 2-byte legacy version.
        length: the body length the header announces (the record is ``length + 5``
            bytes); for the not-tls report, the bytes after the first 5 that were at
            hand when it was found.
        encrypted: True when the payload is protected (see the module's rules).
        messages: the trace's labels for what starts or ends in it; empty when
            encrypted.
        tls: False for the one report of bytes that are not TLS.
    """

    index: int
    offset: int
    content_type: int
    version: int
    length: int
    encrypted: bool = False
    messages: tuple[str, ...] = ()
    tls: bool = True

    @property
    def end(self) -> int:
        """Stream offset just past the record's body."""
        return self.offset + HEADER_LEN + self.length

    @property
    def name(self) -> str:
        """The content type's name (``handshake``, ``type(N)``), or ``not-tls``."""
        return type_name(self.content_type) if self.tls else NOT_TLS

    @property
    def plaintext_handshake(self) -> bool:
        """A handshake record whose messages can be read (and re-framed)."""
        return self.tls and self.content_type == _HANDSHAKE and not self.encrypted


@dataclass(frozen=True)
class Message:
    """One plaintext handshake message, reassembled.

    Attributes:
        name: its name (``ClientHello``, ``HelloRetryRequest``, ``handshake(N)``).
        msg_type: the type byte.
        body: the message without its 4-byte header.
        first: index of the record its header starts in.
        last: index of the record it ends in.
    """

    name: str
    msg_type: int
    body: bytes
    first: int
    last: int


def parse_header(data: bytes | bytearray, index: int = 0, offset: int = 0) -> Record:
    """Parse a 5-byte record header (anything after it is ignored).

    Returns:
        The :class:`Record` it announces.

    Raises:
        ValueError: when fewer than 5 bytes are given.
    """
    if len(data) < HEADER_LEN:
        raise ValueError(f"a record header is {HEADER_LEN} bytes, got {len(data)}")
    return Record(index, offset, data[0], int.from_bytes(data[1:3]), int.from_bytes(data[3:5]))


def record_size(header: bytes | bytearray) -> int:
    """Header plus body bytes of the record whose (at least 5-byte) header is given."""
    return HEADER_LEN + int.from_bytes(header[3:HEADER_LEN])


class Session:
    """What the parsers of one connection's two directions learn together.

    Attributes:
        tls13: None until a ServerHello or HelloRetryRequest was parsed; then whether
            TLS 1.3 was chosen.
    """

    def __init__(self, parsers: Iterable[Parser] = ()) -> None:
        self.tls13: bool | None = None
        # Weak: each parser refers to its session, and a strong reference back would make
        # a reference cycle that only the cyclic GC could free (a Pair must not leave any).
        self._parsers: list[weakref.ref[Parser]] = []
        for parser in parsers:
            self.join(parser)

    def join(self, parser: Parser) -> None:
        """Make ``parser`` one of this session's (before it has seen a byte)."""
        if parser.session is not self:
            old = parser.session
            old._parsers = [ref for ref in old._parsers if ref() is not parser]
            parser.session = self
        if not any(ref() is parser for ref in self._parsers):
            self._parsers.append(weakref.ref(parser))

    def learn(self, tls13: bool) -> None:
        """Note a ServerHello's choice; once TLS 1.3 is seen, it stays chosen."""
        self.tls13 = bool(self.tls13) or tls13

    def settle(self, asking: Parser) -> None:
        """Parse what the other parsers have queued, so the version is as known as it
        can be before ``asking`` decides about a record."""
        for ref in self._parsers:
            parser = ref()
            if parser is not None and parser is not asking:
                parser.sync()


class Parser:
    """Records and plaintext handshake messages of one direction's stream, across feeds.

    Attributes:
        session: shared with the other direction's parser (see :class:`Session`).
        fed: bytes parsed so far (deferred bytes not counted until parsed).
        not_tls: the report of bytes that are not TLS, once found.
        ccs_seen: a change_cipher_spec record has passed.
    """

    def __init__(self, session: Session | None = None) -> None:
        self.session = session if session is not None else Session()
        self.session.join(self)
        self.fed = 0
        self.not_tls: Record | None = None
        self.ccs_seen = False
        self._records: list[Record] = []
        self._messages: list[Message] = []
        self._names: list[str] = []
        self._counts: dict[str, int] = {}
        self._buf = bytearray()  # the incomplete record at the end of what was parsed
        self._base = 0  # stream offset of _buf[0]
        self._hs = bytearray()  # the incomplete plaintext handshake message
        self._hs_first = 0  # record index its header started in
        self._deferred = bytearray()
        self._busy = False  # inside a parse: Session.settle must not re-enter it

    # -- feeding -------------------------------------------------------------------------
    def feed(self, data: bytes | bytearray) -> list[Record]:
        """Parse the next bytes of the stream (after any deferred ones).

        Returns:
            The records these bytes (and the deferred ones) completed, and the not-tls
            report if it was found now.
        """
        out = self.sync()
        if self._busy:  # settle() reached us mid-parse: keep the order, parse later
            self._deferred += data
            return out
        out += self._parse(data)
        return out

    def defer(self, data: bytes | bytearray) -> None:
        """Queue bytes to be parsed when something is asked of the parser.

        Once :data:`DEFER_LIMIT` bytes are queued, the parser reads ahead through the
        records whose reading cannot depend on when it is done (see :meth:`_read_ahead`),
        so the queue holds at most about that much plus the records after a decision
        that must wait: a long stream costs the same per byte as a short one and is not
        kept whole.
        """
        deferred = self._deferred
        deferred += data
        if len(deferred) >= DEFER_LIMIT and not self._busy:
            self._read_ahead()

    def sync(self) -> list[Record]:
        """Parse the deferred bytes.

        Returns:
            The records they completed.
        """
        if not self._deferred or self._busy:
            return []
        data, self._deferred = self._deferred, bytearray()
        return self._parse(data)

    def _read_ahead(self) -> None:
        # Parse the deferred bytes up to the first record whose reading would ask the
        # session (an alert or handshake record after this direction's CCS) while the
        # version is still unknown: there a later parse may know more (Session.settle),
        # so that record and everything after it stay deferred for sync() to read as it
        # always did.  Every record read here is read exactly as a later sync() would
        # read it; no other parser is touched.
        data = self._deferred
        if self.not_tls is not None:
            self.fed += len(data)
            data.clear()
            return
        pending = self._buf
        pos = 0
        n = len(data)
        if pending:
            # The incomplete record at the end of what was parsed: complete its header
            # and body from the deferred bytes first (parsed as one feed below).
            need = HEADER_LEN - len(pending)
            if need > 0:
                if n < need:
                    return
                head = bytes(pending) + bytes(data[:need])
            else:
                head = bytes(pending[:HEADER_LEN])
            ctype = head[0]
            if ctype not in _KNOWN_TYPES or head[1] != 3 or self._waits(ctype):
                return
            pos = record_size(head) - len(pending)
            if pos > n:
                return
            if ctype in _DECIDING:
                self._parse(bytes(data[:pos]))
                del data[:pos]
                n -= pos
                pos = 0
        while n - pos >= HEADER_LEN:
            ctype = data[pos]
            if ctype not in _KNOWN_TYPES or data[pos + 1] != 3 or self._waits(ctype):
                break
            end = pos + HEADER_LEN + int.from_bytes(data[pos + 3:pos + 5])
            if end > n:
                break
            # A record may change the facts the next one is read by (its CCS, the
            # session's version): parse up to here before looking further.
            if ctype in _DECIDING:
                self._parse(bytes(data[:end]))
                del data[:end]
                n -= end
                pos = 0
                continue
            pos = end
        if pos:
            self._parse(bytes(data[:pos]))
            del data[:pos]

    def _waits(self, ctype: int) -> bool:
        # Whether reading a record of this type now could differ from reading it later.
        return (self.ccs_seen and ctype in (_ALERT, _HANDSHAKE)
                and self.session.tls13 is None)

    # -- questions -----------------------------------------------------------------------
    @property
    def records(self) -> list[Record]:
        """Every complete record so far, in order (the not-tls report is not one)."""
        self.sync()
        return self._records

    @property
    def messages(self) -> list[str]:
        """Names of the plaintext handshake messages so far, in order."""
        self.sync()
        return self._names

    @property
    def handshake(self) -> list[Message]:
        """The plaintext handshake messages so far, reassembled, in order."""
        self.sync()
        return self._messages

    @property
    def broken(self) -> bool:
        """True once bytes that are not TLS were found (the rest is not interpreted)."""
        self.sync()
        return self.not_tls is not None

    @property
    def partial(self) -> int:
        """Bytes of an incomplete record at the end of the stream parsed so far."""
        self.sync()
        return len(self._buf)

    def count(self, what: str) -> int:
        """How many records, records of a content type, or messages of a name were seen.

        ``what`` is ``"records"`` (every record), a content type name (``"alert"``) or a
        handshake message name (``"ServerHello"``, ``"HelloRetryRequest"``).
        """
        self.sync()
        if what == "records":
            return len(self._records)
        return self._counts.get(what, 0)

    # -- parsing -------------------------------------------------------------------------
    def _parse(self, data: bytes | bytearray) -> list[Record]:
        self._busy = True
        try:
            return self._parse_records(data)
        finally:
            self._busy = False

    def _parse_records(self, data: bytes | bytearray) -> list[Record]:
        self.fed += len(data)
        out: list[Record] = []
        if self.not_tls is not None:
            return out
        buf = self._buf
        buf += data
        n = len(buf)
        pos = 0
        while n - pos >= HEADER_LEN:
            ctype = buf[pos]
            if ctype not in _KNOWN_TYPES or buf[pos + 1] != 3:
                # Not a record header: say so once, then stop interpreting this stream.
                self.not_tls = Record(len(self._records), self._base + pos, ctype,
                                      int.from_bytes(buf[pos + 1:pos + 3]),
                                      n - pos - HEADER_LEN, tls=False)
                out.append(self.not_tls)
                pos = n
                break
            end = pos + HEADER_LEN + int.from_bytes(buf[pos + 3:pos + 5])
            if end > n:
                break
            out.append(self._record(buf, pos, end))
            pos = end
        # One cut per feed: a long record fed a byte at a time is never copied again.
        del buf[:pos]
        self._base += pos
        return out

    def _record(self, buf: bytearray, pos: int, end: int) -> Record:
        ctype = buf[pos]
        length = end - pos - HEADER_LEN
        index = len(self._records)
        encrypted = ctype == _APPDATA or (ctype in (_ALERT, _HANDSHAKE) and self._protected())
        messages: tuple[str, ...] = ()
        if ctype == _CCS:
            self.ccs_seen = True
            messages = (CHANGE_CIPHER_SPEC,)
        elif ctype == _ALERT and not encrypted and length == 2:
            level, desc = alert_text(buf[pos + HEADER_LEN], buf[pos + HEADER_LEN + 1])
            messages = (f"alert {level} {desc}",)
        elif ctype == _HANDSHAKE and not encrypted:
            messages = self._handshake(buf[pos + HEADER_LEN:end], index)
        rec = Record(index, self._base + pos, ContentType(ctype),
                     int.from_bytes(buf[pos + 1:pos + 3]), length, encrypted, messages)
        self._records.append(rec)
        name = rec.name
        self._counts[name] = self._counts.get(name, 0) + 1
        return rec

    def _protected(self) -> bool:
        # An alert or handshake record: protected after this direction's CCS, unless the
        # connection is TLS 1.3 (where the CCS is a dummy and nothing rides in a handshake
        # record encrypted).  Before deciding on an unknown version, let the other
        # direction catch up: its ServerHello may be queued there.
        if not self.ccs_seen:
            return False
        if self.session.tls13 is None:
            self.session.settle(self)
        return not self.session.tls13

    def _handshake(self, body: bytearray, index: int) -> tuple[str, ...]:
        names: list[str] = []
        hs = self._hs
        had_partial = bool(hs)  # this record starts in the middle of a message
        first = self._hs_first if had_partial else index
        hs += body
        pos = 0
        while len(hs) - pos >= MESSAGE_HEADER_LEN:
            end = pos + MESSAGE_HEADER_LEN + int.from_bytes(hs[pos + 1:pos + 4])
            if end > len(hs):
                break
            msg = bytes(hs[pos:end])
            name = message_name(msg)
            if msg[0] == _SERVER_HELLO:
                self._server_hello(msg[MESSAGE_HEADER_LEN:])
            self._messages.append(Message(name, msg[0], msg[MESSAGE_HEADER_LEN:], first, index))
            self._names.append(name)
            self._counts[name] = self._counts.get(name, 0) + 1
            if had_partial and not names:
                name += " (end)"
            names.append(name)
            pos = end
            first = index
        if pos < len(hs):
            part = "continued" if had_partial and not names else "start"
            names.append(f"{handshake_name(hs[pos])} ({part})")
        del hs[:pos]
        self._hs_first = first
        return tuple(names)

    def _server_hello(self, body: bytes) -> None:
        # Learn from a ServerHello (or HelloRetryRequest) whether TLS 1.3 was chosen: its
        # supported_versions extension says 0x0304.  legacy_version(2) random(32)
        # legacy_session_id_echo<0..32> cipher_suite(2) legacy_compression_method(1)
        # extensions<..>.
        tls13 = False
        try:
            pos = 34
            pos += 1 + body[pos]
            pos += 3
            end = pos + 2 + int.from_bytes(body[pos:pos + 2])
            pos += 2
            while pos + 4 <= end:
                etype = int.from_bytes(body[pos:pos + 2])
                elen = int.from_bytes(body[pos + 2:pos + 4])
                if etype == SUPPORTED_VERSIONS and elen == 2 \
                        and int.from_bytes(body[pos + 4:pos + 6]) == TLS13:
                    tls13 = True
                pos += 4 + elen
        except IndexError:  # a truncated ServerHello: leave the version unknown
            return
        self.session.learn(tls13)
