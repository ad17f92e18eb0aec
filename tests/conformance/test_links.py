"""The link protocol, proved for every link kind (as trio's check_two_way_stream is for
streams): memory, socket, the wire link between pyOpenSSL and the stdlib, and the link
to an external ``openssl s_server`` peer.

Every test drives the ``client>server`` link, whose sender is an in-process client:
its ``connect`` writes a ClientHello, the bytes the behaviours below move around.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from biopair import EndpointConfig, Pair
from biopair.endpoints import _libssl
from biopair.transport.biopair import BioPairLink
from biopair.transport.holds import parse_condition
from biopair.transport.link import Link
from biopair.transport.memory import MemoryLink
from biopair.transport.socket import SocketLink
from biopair.transport.wire import PeerLink, WireLink

DIRECTION = "client>server"
_NO_PEER = "openssl s_server is not installed (Debian package: openssl)"


def _make(kind: str) -> Pair:
    if kind == "memory":
        return Pair()
    if kind == "socket":
        return Pair(link="socket")
    if kind == "wire":
        return Pair(client=EndpointConfig(role="client", stack="stdlib"))
    if kind == "bio-pair":
        why = _libssl.missing()
        if why is not None:
            pytest.skip(why)
        return Pair(client=EndpointConfig(role="client", stack="libssl"), link="bio-pair")
    if shutil.which("openssl") is None:
        pytest.skip(_NO_PEER)
    return Pair(server=EndpointConfig(role="server", stack="openssl-cli"))


#: Each kind, and the class of its client>server link.
KINDS = {"memory": MemoryLink, "socket": SocketLink, "wire": WireLink, "peer": WireLink,
         "bio-pair": BioPairLink}


@pytest.fixture(params=sorted(KINDS))
def pair(request: pytest.FixtureRequest) -> Iterator[Pair]:
    with _make(request.param) as made:
        assert type(made.links[DIRECTION]) is KINDS[request.param]
        yield made


def _hello(pair: Pair) -> Link:
    """The client's first call has written its ClientHello onto the link."""
    call = pair.call("client", "connect")
    assert call.error == "WANT_READ"
    assert call.sent > 0
    return pair.links[DIRECTION]


def _accounted(link: Link) -> None:
    # Every byte the sender wrote is queued, delivered or discarded (no fault armed).
    assert link.pulled == link.delivered + len(link.queue) + link.discarded


def test_a_call_pulls_what_it_wrote(pair: Pair) -> None:
    link = _hello(pair)
    assert len(link.queue) == link.pulled == pair.trace.calls[-1].sent
    assert link.pull() == 0  # nothing new: a second pull takes nothing
    assert link.sent.count("ClientHello") == 1
    _accounted(link)


def test_deliver_hands_over_exactly_the_limit_then_the_rest(pair: Pair) -> None:
    link = _hello(pair)
    queued = len(link.queue)
    assert link.deliver(5) == 5
    assert len(link.queue) == queued - 5
    assert link.delivered == 5
    _accounted(link)
    assert link.deliver() == queued - 5
    assert not link.queue
    assert link.delivered == queued
    assert link.rx_watcher.count("ClientHello") == 1
    _accounted(link)


def test_a_move_of_zero_hands_over_nothing(pair: Pair) -> None:
    link = _hello(pair)
    queued = len(link.queue)
    assert link.deliver(0) == 0
    assert len(link.queue) == queued


def test_a_paused_link_delivers_nothing_until_resumed(pair: Pair) -> None:
    link = _hello(pair)
    queued = len(link.queue)
    pair.pause(DIRECTION)
    assert link.deliver() == 0
    assert pair.move(DIRECTION) == 0
    assert len(link.queue) == queued
    pair.resume(DIRECTION)
    assert pair.move(DIRECTION) == queued


def test_a_held_link_delivers_nothing_until_its_condition_holds(pair: Pair) -> None:
    pair.hold(DIRECTION, parse_condition("client sent 2 records"))
    link = _hello(pair)
    assert link.held
    assert pair.holds == {DIRECTION: link.until}
    assert link.deliver() == 0 and link.queue
    pair.resume(DIRECTION)  # a resume ends a hold
    assert not link.held and not pair.holds
    assert link.deliver() > 0


def test_a_hold_that_already_holds_releases_at_once(pair: Pair) -> None:
    _hello(pair)
    pair.hold(DIRECTION, parse_condition("client sent ClientHello"))
    assert not pair.links[DIRECTION].held


def test_eof_reaches_the_receiver_after_the_queued_bytes(pair: Pair) -> None:
    link = _hello(pair)
    queued = len(link.queue)
    pair.eof(DIRECTION)
    assert link.eof and not link.closed  # bytes still queued: they go first
    assert pair.move(DIRECTION, 3) == 3
    assert not link.closed
    assert pair.move(DIRECTION) == queued - 3
    assert link.closed
    _accounted(link)


def test_a_closed_link_discards_what_the_sender_writes_later(pair: Pair) -> None:
    link = pair.links[DIRECTION]
    pair.eof(DIRECTION)
    assert link.closed  # nothing queued: the EOF reached the receiver at once
    call = pair.call("client", "connect")
    assert call.sent > 0
    assert not link.queue
    assert link.discarded == call.sent
    assert link.deliver() == 0
    _accounted(link)


def test_pending_counts_follow_the_receiver(pair: Pair) -> None:
    link = _hello(pair)
    assert link.sender_pending() == 0  # the call's pull took everything
    before = link.receiver_pending()
    delivered = link.deliver(10)
    after = link.receiver_pending()
    # What the receiver has not read yet grew by what was delivered, where the stack can
    # say (an external peer's unread input cannot be seen: 0).
    if isinstance(link, WireLink) and pair.link_kind == "tcp-peer":
        assert before == after == 0
    else:
        assert after - before == delivered


def test_close_is_idempotent(pair: Pair) -> None:
    link = _hello(pair)
    link.close()
    link.close()
    pair.close()
    pair.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_file_descriptor_outlives_its_pair(kind: str) -> None:
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("no /proc/self/fd to count descriptors")
    # An external peer cannot be called: only the in-process side runs.
    entries = [("client", "connect")] + ([] if kind == "peer" else [("server", "accept")])
    with _make(kind) as warm:  # imports and caches open what they keep open
        warm.run(entries)
    before = set(os.listdir("/proc/self/fd"))
    with _make(kind) as pair:
        assert pair.run(entries).terminal is None
    assert set(os.listdir("/proc/self/fd")) <= before


def test_a_peer_link_waits_for_the_peers_answer() -> None:
    if shutil.which("openssl") is None:
        pytest.skip(_NO_PEER)
    with Pair(server=EndpointConfig(role="server", stack="openssl-cli")) as pair:
        _hello(pair)
        pair.move(DIRECTION)
        back = pair.links["server>client"]
        assert isinstance(back, PeerLink)
        assert pair.move("server>client") > 0  # waited for the ServerHello flight
        assert back.rx_watcher.count("ServerHello") == 1
        _accounted(back)
