"""pcapng export: the bytes that crossed each link, as a TCP connection Wireshark decrypts.

Each trace becomes one synthetic TCP connection (client 10.0.0.1:49152+i, server
10.0.0.2:443, so Wireshark's port heuristics dissect TLS without options): a three-way
handshake, one segment per delivery (a move; long moves are split), and a FIN when a link
closes.  Sequence and acknowledgement numbers follow the bytes delivered, IPv4 and TCP
checksums are computed, and timestamps advance 1 ms per packet from a fixed epoch, so the
same trace always gives the same file.

The TLS secrets from the keylog callback go into a Decryption Secrets Block (pcapng
block type 0x0000000A, secrets type ``TLSK``) before the first packet, which
Wireshark >= 3.0 and tshark use automatically: ``tshark -r out.pcapng`` shows the
decrypted TLS 1.3 handshake messages and application data.

The writer is ~100 lines of :mod:`struct` after the pcapng specification
(draft-ietf-opsawg-pcapng), so biopair needs no capture library.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from biopair.engine.trace import LinkEvent, MoveEvent, Trace
from biopair.views import files

_SHB, _IDB, _EPB, _DSB = 0x0A0D0D0A, 0x00000001, 0x00000006, 0x0000000A
_LINKTYPE_ETHERNET = 1
_SECRETS_TLS_KEYLOG = 0x544C534B
_EPOCH_US = 1_700_000_000 * 1_000_000
_MAX_SEGMENT = 16384
_FIN, _SYN, _PSH, _ACK = 0x01, 0x02, 0x08, 0x10
SERVER_PORT = 443
CLIENT_PORT_BASE = 49152
_CLIENT_IP = bytes([10, 0, 0, 1])
_SERVER_IP = bytes([10, 0, 0, 2])


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _block(kind: int, body: bytes) -> bytes:
    body = _pad4(body)
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_packet(src: bytes, dst: bytes, sport: int, dport: int, seq: int, ack: int,
               flags: int, payload: bytes = b"", ident: int = 0) -> bytes:
    """An Ethernet frame carrying one IPv4/TCP segment, checksums filled in."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), ident & 0xFFFF,
                     0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
    if src == _SERVER_IP:
        eth = bytes.fromhex("020000000001" "020000000002") + b"\x08\x00"
    return eth + ip + tcp + payload


@dataclass
class _Connection:
    """One trace's synthetic TCP connection."""

    port: int
    seq: dict[str, int] = field(default_factory=lambda: {"client": 1000, "server": 5000})
    packets: list[bytes] = field(default_factory=list)

    def send(self, sender: str, flags: int, payload: bytes = b"") -> None:
        receiver = "server" if sender == "client" else "client"
        if sender == "client":
            addr = (_CLIENT_IP, _SERVER_IP, self.port, SERVER_PORT)
        else:
            addr = (_SERVER_IP, _CLIENT_IP, SERVER_PORT, self.port)
        ack = self.seq[receiver] if flags & _ACK else 0
        self.packets.append(tcp_packet(*addr, self.seq[sender], ack, flags, payload,
                                       ident=len(self.packets)))
        self.seq[sender] += len(payload) + (1 if flags & (_SYN | _FIN) else 0)


def packets(trace: Trace, index: int = 0) -> list[bytes]:
    """The frames of one trace: handshake, one segment per delivery, FINs.

    Returns:
        Ethernet frames in order.
    """
    conn = _Connection(CLIENT_PORT_BASE + index)
    conn.send("client", _SYN)
    conn.send("server", _SYN | _ACK)
    conn.send("client", _ACK)
    offsets = {"client>server": 0, "server>client": 0}
    for event in trace.events:
        if isinstance(event, MoveEvent) and event.nbytes:
            d = event.direction
            start = offsets[d]
            data = bytes(trace.wire.get(d, b"")[start:start + event.nbytes])
            offsets[d] += event.nbytes
            for i in range(0, len(data), _MAX_SEGMENT):
                conn.send(d.split(">")[0], _PSH | _ACK, data[i:i + _MAX_SEGMENT])
        elif isinstance(event, LinkEvent) and event.kind == "closed":
            conn.send(event.direction.split(">")[0], _FIN | _ACK)
    return conn.packets


def pcapng_bytes(traces: Iterable[tuple[str, Trace]]) -> bytes:
    """A pcapng file: one TCP connection per trace, every trace's secrets in one DSB.

    Returns:
        The file's bytes.
    """
    traces = list(traces)
    out = [_block(_SHB, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(_block(_IDB, struct.pack("<HHI", _LINKTYPE_ETHERNET, 0, 0)))
    secrets = "".join(line + "\n" for _, t in traces for line in t.keylog).encode()
    if secrets:
        out.append(_block(_DSB, struct.pack("<II", _SECRETS_TLS_KEYLOG, len(secrets))
                          + secrets))
    out.extend(_packet_blocks(traces))
    return b"".join(out)


def _packet_blocks(traces: list[tuple[str, Trace]]) -> Iterator[bytes]:
    stamp = _EPOCH_US
    for index, (_name, trace) in enumerate(traces):
        for frame in packets(trace, index):
            stamp += 1000
            yield _block(_EPB, struct.pack("<IIIII", 0, stamp >> 32, stamp & 0xFFFFFFFF,
                                           len(frame), len(frame)) + frame)


def write_pcapng(path: str | Path, traces: Iterable[tuple[str, Trace]]) -> None:
    """Write :func:`pcapng_bytes` to ``path``: atomically, 0600 (it holds the TLS secrets),
    never through a symbolic link (:func:`biopair.views.files.write_atomic`).

    Raises:
        FileRefused: ``path`` cannot be written (one line naming it and the problem).
    """
    files.write_atomic(path, pcapng_bytes(traces), secret=True)
