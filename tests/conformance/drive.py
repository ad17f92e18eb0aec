"""Moving bytes between two endpoints through their wire methods, as trio's
``memory_stream_pump`` does for streams: the suite's only transport."""

from __future__ import annotations

from biopair.endpoints.protocol import Endpoint, RawResult

#: Rounds a driven exchange may take before the suite calls it a hang.
MAX_ROUNDS = 20_000


def pump(src: Endpoint, dst: Endpoint, max_bytes: int | None = None) -> bool:
    """Move what ``src`` wrote (at most ``max_bytes``) into ``dst``; True if any moved."""
    data = src.wire_take(max_bytes if max_bytes is not None else 1 << 16)
    if not data:
        return False
    assert dst.wire_give(data) == len(data)
    return True


def settle(a: Endpoint, b: Endpoint) -> None:
    """Pump both ways until neither endpoint has anything more to send."""
    while pump(a, b) | pump(b, a):
        pass


def handshake_op(role: str) -> str:
    """The op that starts a handshake in ``role``."""
    return "connect" if role == "client" else "accept"


def done(result: RawResult) -> bool:
    """True when a handshake call finished (anything but WANT_*)."""
    return not (result.error or "").startswith("WANT_")


def handshake(a: Endpoint, b: Endpoint, max_bytes: int | None = 1) -> tuple[RawResult, RawResult]:
    """Drive both endpoints' handshakes, moving ``max_bytes`` each way after every call.

    Returns:
        Each side's final handshake result.

    Raises:
        AssertionError: when the handshake does not finish within MAX_ROUNDS.
    """
    results: dict[str, RawResult] = {}
    for _ in range(MAX_ROUNDS):
        for ep in (a, b):
            if ep.name not in results or not done(results[ep.name]):
                results[ep.name] = ep.call(handshake_op(ep.name))
        moved = pump(a, b, max_bytes) | pump(b, a, max_bytes)
        if all(done(r) for r in results.values()) and not moved:
            settle(a, b)
            return results[a.name], results[b.name]
    raise AssertionError(f"no handshake after {MAX_ROUNDS} rounds: {results}")


def read_all(reader: Endpoint, writer: Endpoint, want: int) -> bytes:
    """Read until ``want`` bytes arrived, pumping between the reader's calls."""
    got = b""
    for _ in range(100):
        settle(reader, writer)
        result = reader.call("read", size=want - len(got))
        got += result.data
        if len(got) >= want:
            return got
        assert (result.error or "").startswith("WANT_"), result
    raise AssertionError(f"read only {got!r}")
