"""The wrapper endpoints' done-means transfers at full size, with the transport oracle:
100 KB bytewise, 1 MiB at 7 bytes per move and 1 MiB one record per move, each way,
through each wrapper, against a pyOpenSSL peer; and the same transfer between two
pyOpenSSL endpoints in the same process (the baseline: the ratio is the wrapper's cost).

    python benchmarks/bench_wrappers.py [STACK ...]
"""

from __future__ import annotations

import sys
import time

from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair, RunEntry

STACKS = ("asyncio", "twisted", "trio", "python:biopair.endpoints.wrappers.example:make")
CASES = (("100k-bytewise", "bytewise", 102_400), ("1m-7", 7, 1 << 20),
         ("1m-record", "record", 1 << 20))


def transfer(stack: str, deliver: object, size: int, wrapper_sends: bool) -> float:
    """Seconds for one transfer (after the handshake); asserts the oracle."""
    client = EndpointConfig(role="client", stack=stack)
    with Pair(client, EndpointConfig(role="server"), deliver=deliver,  # type: ignore[arg-type]
              record=False, max_calls=10**8) as pair:
        wrapped = stack != "pyopenssl"
        hs = pair.run([("client", "handshake" if wrapped else "connect"),
                       ("server", "accept")])
        assert hs.terminal is None, hs
        payload = bytes(range(256)) * (size // 256)
        sender, receiver = ("client", "server") if wrapper_sends else ("server", "client")
        send_op = "send" if wrapped and wrapper_sends else "write"
        read_op = "recv" if wrapped and not wrapper_sends else "read"
        start = time.perf_counter()
        first = [RunEntry(sender, send_op, data=payload)]
        ep = pair.endpoints[receiver]
        while len(ep.received) < size:  # type: ignore[attr-defined]
            run = pair.run([*first, RunEntry(receiver, read_op, size=65536)])
            first = []
            assert run.terminal is None, run
        took = time.perf_counter() - start
        assert bytes(ep.received) == payload  # type: ignore[attr-defined]
        return took


def main() -> None:
    """Print one line per stack, case and direction: seconds, and the ratio to pyOpenSSL."""
    stacks = sys.argv[1:] or STACKS
    for name, deliver, size in CASES:
        base = transfer("pyopenssl", deliver, size, True)
        print(f"pyopenssl {name}: {base:.2f} s (baseline)")
        for stack in stacks:
            for sends in (True, False):
                took = transfer(stack, deliver, size, sends)
                way = "wrapper sends" if sends else "wrapper receives"
                print(f"{stack} {name} {way}: {took:.2f} s ({took / base:.1f}x)")


if __name__ == "__main__":
    main()
