"""Partial writes are linear: the rest is written from the same C buffer, records share
the payload, and a large write in a run stays small in memory (issue 11)."""

from __future__ import annotations

import json
import subprocess
import sys

from biopair import EndpointConfig, Pair, RunEntry
from biopair.endpoints.config import pattern_bytes

_PEAK = """
import json, resource, sys
from biopair import Pair, RunEntry
size = int(sys.argv[1])
with Pair(record=False) as pair:
    assert pair.handshake().terminal is None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = pair.run([RunEntry("client", "write", size=size)])
    assert result.terminal is None
    assert sum(c.ret for c in result.calls) == size
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"grew_kb": after - before, "calls": len(result.calls)}))
"""


def _peak_growth(size: int) -> dict[str, int]:
    out = subprocess.run([sys.executable, "-c", _PEAK, str(size)], capture_output=True,
                         text=True, check=True, timeout=60)
    return dict(json.loads(out.stdout))


def test_a_2_mib_write_in_a_run_grows_rss_linearly_not_quadratically() -> None:
    # 128 partial writes of 16384.  Before: each call kept a copy of the rest (about
    # 128 MiB for 2 MiB); now the payload, the ciphertext in the memory BIOs and the
    # link's parser buffers: a few times 2 MiB.
    size = 2 << 20
    got = _peak_growth(size)
    assert got["calls"] == size // 16384
    assert got["grew_kb"] < 24 * 1024, got


def test_the_rest_of_a_partial_write_is_written_from_the_same_c_buffer() -> None:
    cfg = EndpointConfig(role="client", modes=("ENABLE_PARTIAL_WRITE",))
    with Pair(cfg) as pair:
        pair.handshake()
        client = pair.endpoints["client"]
        addresses = []
        original = client._write_buffer  # type: ignore[attr-defined]

        def spy(size: int | None, data: object, buffer: str) -> object:
            buf = original(size, data, buffer)
            addresses.append(buf.address())
            return buf

        client._write_buffer = spy  # type: ignore[attr-defined]
        result = pair.run([RunEntry("client", "write", size=40000)])
    assert [c.ret for c in result.calls] == [16384, 16384, 7232]
    # One C buffer: each call starts where the previous one's bytes ended.
    assert [a - addresses[0] for a in addresses] == [0, 16384, 32768]


def test_call_records_of_a_partial_write_share_the_payload() -> None:
    payload = pattern_bytes(100_000)
    with Pair() as pair:
        pair.handshake()
        result = pair.run([RunEntry("client", "write", data=payload)])
    rests = [c.data for c in result.calls[1:]]
    assert all(isinstance(r, memoryview) and r.obj is payload for r in rests)
    assert [bytes(r) for r in rests] == [payload[n * 16384:] for n in range(1, 7)]
    assert sum(c.ret or 0 for c in result.calls) == len(payload)


def test_a_partial_write_on_a_moving_buffer_stack_is_still_exact() -> None:
    # The received bytes are the payload, in order: no byte is lost or repeated by
    # writing from offsets.
    payload = bytes(range(256)) * 300
    with Pair() as pair:
        pair.handshake()
        pair.run([RunEntry("client", "write", data=payload)])
        got = b""
        while len(got) < len(payload):
            call = pair.call("server", "read", size=65536)
            assert call.ret and call.ret > 0
            got += call.data
    assert got == payload
