"""Faults: what a hostile or broken network does to the bytes on one link.

Theory of operation
-------------------
Every link numbers the bytes its sender writes: the *stream offset* of a byte is how many
bytes the sender wrote before it (from 0, per link), and the *record index* of a TLS
record is how many records the sender wrote before it.  Both count what the sender wrote,
before any fault, so a fault's address does not depend on other faults.

A fault is **armed** on a link and applies **as the bytes it names pass**: when the link
pulls the sender's output, the :class:`FaultEngine` edits those bytes on their way into the
link's queue.  A fault whose bytes are already on the link (pulled) cannot apply: arming
it raises :class:`FaultError` (put the fault step before the call that writes the bytes).
A fault addressed by record waits until the record's header and body have been written;
until then the link holds back the bytes from that record's start (OpenSSL writes whole
records, so in practice nothing is held back across calls).

Kinds (``offset``: a stream offset; ``record``: a record index; ``at``: a byte inside
that record, negative from its end):

* ``corrupt``: XOR ``xor`` (default ``ff``) into the bytes at the address;
* ``truncate``: the stream ends there; later bytes are discarded, no EOF is signalled;
* ``eof``: as truncate, and the receiver sees EOF once the bytes before it are delivered;
* ``drop``: remove ``length`` bytes (default 1), or the whole record;
* ``duplicate``: send ``length`` bytes (or the whole record) twice in a row;
* ``inject``: insert ``data`` before the addressed byte (or record); with no address,
  at the sender's current stream position (right after what it has written so far);
* ``split``: re-frame a plaintext handshake record as records of ``size`` body bytes
  (default 1); with no address, every plaintext handshake record from now on;
* ``coalesce``: merge ``count`` (default 2) consecutive plaintext handshake records,
  starting at the addressed one, into a single record.

Each applied fault becomes a :class:`~biopair.engine.trace.FaultEvent` in the trace.

Holding: :class:`Condition` names something the harness can see without decrypting
(see :func:`parse_condition`); a held link delivers nothing until it is true.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from biopair.tls import framing
from biopair.tls.parser import Parser, Record
from biopair.tls.vocab import HEADER_LEN

if TYPE_CHECKING:  # pragma: no cover
    pass

#: Fault kinds, in the order the docs list them.
KINDS = ("corrupt", "truncate", "eof", "drop", "duplicate", "inject", "split", "coalesce")


class _NotYet(Exception):
    # The record a fault names has not been written yet.
    pass


class FaultError(ValueError):
    """A fault that cannot apply as asked (its bytes have already passed, a record that
    cannot be re-framed, ...)."""


@dataclass(frozen=True)
class Fault:
    """One fault on one link.

    Attributes:
        kind: one of :data:`KINDS`.
        direction: the link (``"server>client"``).
        offset: stream offset of the first byte it touches, or None.
        record: record index it touches, or None (at most one of offset and record).
        at: byte inside the record (negative: from the record's end).
        length: bytes to drop or duplicate (None: 1, or the whole record).
        xor: the bytes XORed in by ``corrupt``.
        data: the bytes ``inject`` inserts.
        size: body bytes per record for ``split``.
        count: records merged by ``coalesce``.
    """

    kind: str
    direction: str
    offset: int | None = None
    record: int | None = None
    at: int | None = None
    length: int | None = None
    xor: bytes = b"\xff"
    data: bytes = b""
    size: int = 1
    count: int = 2

    def describe(self) -> str:
        """The fault as a person would say it (``corrupt server>client offset 12``)."""
        where = (f" offset {self.offset}" if self.offset is not None else
                 f" record {self.record}" if self.record is not None else "")
        if self.at is not None:
            where += f" at {self.at}"
        extra = ""
        if self.kind == "corrupt":
            extra = f" xor {self.xor.hex()}"
        elif self.kind == "inject":
            extra = f" {len(self.data)} bytes"
        elif self.kind in ("drop", "duplicate") and self.length is not None:
            extra = f" {self.length} bytes"
        elif self.kind == "split":
            extra = f" size {self.size}"
        elif self.kind == "coalesce":
            extra = f" count {self.count}"
        return f"{self.kind} {self.direction}{where}{extra}"


@dataclass(frozen=True)
class Applied:
    """A fault as it applied: where in the sender's stream, and what it did."""

    fault: Fault
    offset: int
    record: int | None
    detail: str


@dataclass
class _Edit:
    # A fault resolved to a byte range [start, end) of the sender's stream.
    fault: Fault
    start: int
    end: int
    record: int | None = None
    headers: list[Record] = field(default_factory=list)


class FaultEngine:
    """The faults armed on one link, and the sender-side stream bookkeeping.

    Attributes:
        watcher: the :class:`~biopair.tls.parser.Parser` of what the sender wrote:
            records and plaintext handshake messages.
        pulled: bytes taken from the sender so far (the next byte's stream offset).
        released: sender bytes already edited into the queue (``pulled`` minus held).
        cut: True once a truncate or eof applied: later bytes are discarded.
        eof: True once an eof fault applied (the link must signal EOF).
    """

    def __init__(self) -> None:
        # Bytes that pass while no fault is armed are only queued on the parser (defer):
        # record bookkeeping costs a parse per pull, so it waits until someone asks.
        self.watcher = Parser()
        self.pulled = 0
        self.released = 0
        self.cut = False
        self.eof = False
        self._held = bytearray()
        self._pending: list[Fault] = []
        self._split_all: int | None = None
        self._seq = 0

    @property
    def armed(self) -> tuple[Fault, ...]:
        """Faults not yet applied."""
        return tuple(self._pending)

    def arm(self, fault: Fault) -> Fault:
        """Arm a fault.

        Returns:
            The fault, with an inject/split without address pinned to the current offset.

        Raises:
            FaultError: when the bytes it names have already passed.
        """
        if fault.offset is None and fault.record is None:
            if fault.kind == "split":
                self._split_all = fault.size
                return fault
            if fault.kind not in ("inject", "eof", "truncate"):
                raise FaultError(f"{fault.kind} needs an offset or a record")
            fault = Fault(**{**fault.__dict__, "offset": self.pulled})
        if fault.offset is not None and fault.offset < self.released:
            raise FaultError(f"{fault.describe()}: offset {fault.offset} has already passed "
                             f"({self.released} bytes sent on {fault.direction}); arm the "
                             f"fault before the call that writes it")
        if fault.record is not None and fault.record < len(self.watcher.records):
            rec = self.watcher.records[fault.record]
            if rec.offset < self.released:
                raise FaultError(f"{fault.describe()}: record {fault.record} has already "
                                 f"passed; arm the fault before the call that writes it")
        self._pending.append(fault)
        return fault

    def process(self, data: bytes) -> tuple[bytes, int, list[Applied]]:
        """Edit newly pulled sender bytes.

        Returns:
            ``(out, discarded, applied)``: the bytes for the queue, how many sender bytes
            were discarded (after a truncate/eof), and the faults that applied.
        """
        if not self._pending and self._split_all is None and not self._held and not self.cut:
            # Nothing armed: the bytes pass untouched (the hot path of every run).
            self.pulled += len(data)
            self.released += len(data)
            self.watcher.defer(data)
            return data, 0, []
        self.pulled += len(data)
        if self.cut:
            return b"", len(data), []
        self.watcher.feed(data)
        self._held += data
        edits, limit, refused = self._resolve()
        window_end = self.released + len(self._held)
        limit = min(limit, window_end)
        for e in edits:
            # A range that is not all here yet holds back everything from its start.
            if e.start < limit < e.end:
                limit = e.start
        # Zero-length edits (inject, truncate, eof) at the limit apply now: "before byte X"
        # is the same place as "after byte X-1".
        ready = [e for e in edits if e.end <= limit]
        out, applied, stop = self._apply(ready, limit)
        applied = refused + applied
        if stop is not None:
            discarded = window_end - stop
            self._held.clear()
            self.released = window_end
            self._pending.clear()
            self.cut = True
            return out, discarded, applied
        del self._held[:limit - self.released]
        self.released = limit
        return out, 0, applied

    def _resolve(self) -> tuple[list[_Edit], int, list[Applied]]:
        # Turn armed faults into byte ranges; the limit is how far bytes may be released.
        # A fault that turns out impossible once its record is known is dropped and
        # reported as "not applied" (an Applied whose detail says why).
        recs = self.watcher.records
        limit = self.released + len(self._held)
        edits: list[_Edit] = []
        refused: list[Applied] = []
        for f in list(self._pending):
            try:
                self._resolve_one(f, recs, edits)
            except _NotYet:
                done = recs[-1].end if recs else 0
                limit = min(limit, max(done, self.released))
            except FaultError as exc:
                self._pending.remove(f)
                refused.append(Applied(f, f.offset or 0, f.record, f"not applied: {exc}"))
        if self._split_all is not None:
            for r in recs:
                if r.offset >= self.released and r.plaintext_handshake \
                        and r.length > self._split_all:
                    split = Fault("split", "", record=r.index, size=self._split_all)
                    edits.append(_Edit(split, r.offset, r.end, r.index, [r]))
        edits.sort(key=lambda e: (e.start, e.end))
        return edits, limit, refused

    def _resolve_one(self, f: Fault, recs: list[Record], edits: list[_Edit]) -> None:
        if f.offset is not None:
            start = f.offset
            n = f.length if f.length is not None else 1
            if f.kind == "corrupt":
                n = len(f.xor)
            elif f.kind in ("inject", "truncate", "eof"):
                n = 0
            elif f.kind in ("split", "coalesce"):
                raise FaultError(f"{f.describe()}: {f.kind} takes a record, not an offset")
            edits.append(_Edit(f, start, start + n))
            return
        assert f.record is not None
        last = f.record + (f.count - 1 if f.kind == "coalesce" else 0)
        if last >= len(recs):
            junk = self.watcher.not_tls
            if junk is not None:  # no record will ever come: refuse rather than wait
                raise FaultError(f"{f.describe()}: the stream is not TLS from offset "
                                 f"{junk.offset} on (after {len(recs)} records)")
            # Not written yet: nothing past the last complete record may leave.
            raise _NotYet
        rec = recs[f.record]
        if f.kind in ("split", "coalesce"):
            group = recs[f.record:last + 1]
            for r in group:
                if not r.plaintext_handshake:
                    what = "an encrypted" if r.encrypted else "not a"
                    raise FaultError(f"{f.describe()}: record {r.index} is {what} "
                                     f"handshake record ({r.name}); only plaintext "
                                     f"handshake records can be re-framed")
            edits.append(_Edit(f, rec.offset, group[-1].end, f.record, list(group)))
            return
        if f.at is not None:
            size = HEADER_LEN + rec.length
            at = f.at if f.at >= 0 else size + f.at
            if not 0 <= at < size:
                raise FaultError(f"{f.describe()}: record {f.record} is {size} bytes; "
                                 f"at {f.at} is outside it")
            start = rec.offset + at
            n = len(f.xor) if f.kind == "corrupt" else f.length if f.length else 1
            if f.kind in ("inject", "truncate", "eof"):
                n = 0
            edits.append(_Edit(f, start, min(start + n, rec.end), f.record))
            return
        if f.kind in ("drop", "duplicate"):
            edits.append(_Edit(f, rec.offset, rec.end, f.record))
        elif f.kind == "corrupt":
            edits.append(_Edit(f, rec.offset, rec.offset + len(f.xor), f.record))
        else:  # inject, truncate, eof: before the record
            edits.append(_Edit(f, rec.offset, rec.offset, f.record))

    def _apply(self, edits: list[_Edit], limit: int) -> tuple[bytes, list[Applied], int | None]:
        base = self.released
        buf = self._held
        out = bytearray()
        pos = base
        applied: list[Applied] = []
        for e in edits:
            f = e.fault
            if f in self._pending:
                self._pending.remove(f)
            if e.start < pos:
                applied.append(Applied(f, e.start, e.record, "skipped: its bytes were "
                                                              "already changed by an "
                                                              "earlier fault"))
                continue
            out += buf[pos - base:e.start - base]
            seg = bytes(buf[e.start - base:e.end - base])
            pos = e.end
            if f.kind == "corrupt":
                xor = f.xor[:len(seg)]
                out += bytes(a ^ b for a, b in zip(seg, xor, strict=True))
                detail = f"xor {xor.hex()} over {len(seg)} bytes"
            elif f.kind == "drop":
                detail = f"dropped {len(seg)} bytes"
            elif f.kind == "duplicate":
                out += seg + seg
                detail = f"sent {len(seg)} bytes twice"
            elif f.kind == "inject":
                out += f.data
                detail = f"inserted {len(f.data)} bytes: {f.data[:16].hex()}" + (
                    "..." if len(f.data) > 16 else "")
            elif f.kind in ("truncate", "eof"):
                applied.append(Applied(f, e.start, e.record,
                                       "stream ends here" + (", then EOF" if f.kind == "eof"
                                                             else "")))
                if f.kind == "eof":
                    self.eof = True
                return bytes(out), applied, e.start
            elif f.kind == "split":
                body = seg[HEADER_LEN:]
                new = framing.fragment(e.headers[0], body, f.size)
                out += new
                detail = (f"re-framed a {len(body)}-byte record as "
                          f"{-(-len(body) // f.size) or 1} records of at most {f.size} bytes")
            else:  # coalesce
                bodies = b""
                for r in e.headers:
                    at = r.offset - e.start + HEADER_LEN
                    bodies += seg[at:at + r.length]
                out += framing.make_record(e.headers[0].content_type, bodies,
                                           e.headers[0].version)
                detail = f"merged {len(e.headers)} records into one of {len(bodies)} bytes"
            applied.append(Applied(f, e.start, e.record, detail))
        out += buf[pos - base:limit - base]
        return bytes(out), applied, None
