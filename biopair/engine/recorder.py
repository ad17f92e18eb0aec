"""Wiring a pair to its trace: record parsing on the links, OpenSSL's callbacks on the ends.

:func:`attach` is called once by :class:`~biopair.engine.pair.Pair` when its trace records
events.  From then on:

* every chunk a link queues is kept (``Trace.wire``) and fed to that link's
  :class:`~biopair.tls.parser.Parser` (one :class:`~biopair.tls.parser.Session` for both
  directions); each completed record becomes a
  :class:`~biopair.engine.trace.RecordEvent`;
* OpenSSL's message callback becomes :class:`~biopair.engine.trace.MessageEvent` and
  :class:`~biopair.engine.trace.AlertEvent`, its info callback
  :class:`~biopair.engine.trace.StateEvent`,
  its keylog callback lines in ``Trace.keylog``.

Events that happen inside an SSL call (and the records that call wrote, pulled right
after it) carry that call's ``seq``; they precede the :class:`~biopair.endpoints.pyopenssl.Call`
itself in the trace, because the call is recorded when it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biopair.endpoints import _openssl
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.engine.trace import AlertEvent, MessageEvent, RecordEvent, StateEvent
from biopair.tls.parser import Parser, Session
from biopair.tls.vocab import CHANGE_CIPHER_SPEC, ContentType, alert_text, message_name

if TYPE_CHECKING:
    from biopair.engine.pair import Pair


def _current_call(pair: Pair) -> int | None:
    return len(pair.trace.calls) if pair.in_call else None


def attach(pair: Pair) -> None:
    """Record the pair's records, messages, states and secrets into ``pair.trace``."""
    trace = pair.trace
    shared = Session()
    for direction, link in pair.links.items():
        if not hasattr(link, "on_pull"):
            continue
        parser = Parser(shared)
        wire = trace.wire.setdefault(direction, bytearray())

        def on_pull(chunk: bytes, direction: str = direction, parser: Parser = parser,
                    wire: bytearray = wire) -> None:
            wire.extend(chunk)
            for r in parser.feed(chunk):
                trace.add(RecordEvent(direction, r.offset, r.name, r.length,
                                      r.messages, r.encrypted, _current_call(pair), pair.step))

        link.on_pull = on_pull

    for name, ep in pair.endpoints.items():
        if not isinstance(ep, PyOpenSSLEndpoint):
            continue  # the stdlib and external peers report no messages to us

        def on_msg(sent: bool, version: int, ctype: int, buf: bytes, name: str = name) -> None:
            call, step = _current_call(pair), pair.step
            if ctype == ContentType.handshake and buf:
                trace.add(MessageEvent(name, sent, ContentType.handshake.name,
                                       message_name(buf), len(buf), call, step))
            elif ctype == ContentType.change_cipher_spec:
                trace.add(MessageEvent(name, sent, ContentType.change_cipher_spec.name,
                                       CHANGE_CIPHER_SPEC, len(buf), call, step))
            elif ctype == ContentType.alert and len(buf) >= 2:
                level, desc = alert_text(buf[0], buf[1])
                trace.add(AlertEvent(name, sent, level, desc, call, step))
            # 256 (record header) and 257 (TLS 1.3 inner content type) are not messages;
            # the links' record parsers report records.

        def on_info(where: int, state: str, name: str = name) -> None:
            if where & _openssl.CB_HANDSHAKE_START:
                kind = "handshake-start"
            elif where & _openssl.CB_HANDSHAKE_DONE:
                kind = "handshake-done"
            elif where & _openssl.CB_LOOP:
                kind = "loop"
            else:
                return
            trace.add(StateEvent(name, kind, state, _current_call(pair), pair.step))

        _openssl.attach_trace_sinks(ep.conn, on_msg, on_info, trace.keylog.append)
