"""A link's costs follow the bytes it moves, not the bytes it has moved before.

A long stream must not be kept whole by the link's own views of it (the receiver's
framer backlog, the receiver's and the sender's deferred parsers): each is read ahead
once it holds more than a bounded amount, so a 64 MiB write costs per KiB what a
1 KiB one does (benchmarks/bench_partial_write.py measures the curve).
"""

from __future__ import annotations

from biopair import Pair, RunEntry
from biopair.tls.parser import DEFER_LIMIT

SIZE = 4 << 20
RECORD = 16384 + 256  # a record of application data, header and AEAD overhead included


def test_a_long_write_leaves_no_backlog_in_the_link() -> None:
    with Pair(record=False) as pair:
        assert pair.handshake().terminal is None
        result = pair.run([RunEntry("client", "write", size=SIZE)])
        assert result.terminal is None and sum(c.ret or 0 for c in result.calls) == SIZE
        link = pair.links["client>server"]
        # Nothing has asked the views anything: what they hold unread is bounded.
        for parser in (link.sent, link.rx_watcher):
            assert parser.fed >= link.delivered - DEFER_LIMIT - RECORD
        assert len(link._rx_backlog) < DEFER_LIMIT
        # ...and what they report is what they always reported.
        records = link.rx_watcher.records
        assert len(records) == len(link.sent.records) >= SIZE // 16384
        assert sum(r.length + 5 for r in records) == link.delivered - link.rx_watcher.partial

