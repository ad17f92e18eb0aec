"""What faults and holds see of the wire: the sender's and the receiver's views of a link.

Both are the one parser (:mod:`biopair.tls.parser`); the links of a pair share what they
learn of the TLS version, so after a HelloRetryRequest the second ClientHello, which
follows the client's change_cipher_spec, is plaintext to faults and holds too.
"""

from __future__ import annotations

import pytest

from biopair.endpoints._openssl import CAN_SET_GROUPS
from biopair.endpoints.config import EndpointConfig
from biopair.engine.pair import Pair
from biopair.engine.trace import FaultEvent, HoldEvent
from biopair.tls.framing import make_record
from biopair.transport.faults import Fault, FaultEngine
from biopair.transport.holds import parse_condition

needs_groups = pytest.mark.skipif(not CAN_SET_GROUPS, reason="groups needs "
                                  "SSL_CTX_set1_curves_list, bound from cryptography 50")


def hrr_pair() -> Pair:
    return Pair(EndpointConfig(role="client", groups=("X25519", "P-256")),
                EndpointConfig(role="server", groups=("P-256",)))


@needs_groups
def test_a_hold_on_what_the_client_sent_counts_the_second_clienthello() -> None:
    with hrr_pair() as pair:
        pair.call("client", "connect")
        pair.move("client>server")
        pair.call("server", "accept")  # HelloRetryRequest, ChangeCipherSpec
        pair.move("server>client")
        pair.hold("client>server", parse_condition("client sent 2 ClientHello"))
        assert pair.links["client>server"].held
        pair.call("client", "connect")  # ChangeCipherSpec, the second ClientHello
        assert not pair.links["client>server"].held
        assert pair.handshake().terminal is None
        holds = [e.kind for e in pair.trace.events if isinstance(e, HoldEvent)]
        assert holds == ["hold", "release"]
        sent = pair.links["client>server"].engine.watcher
        assert sent.messages == ["ClientHello", "ClientHello"]
        assert pair.links["client>server"].rx_watcher.count("ClientHello") == 2


@needs_groups
def test_splitting_the_second_clienthello_applies() -> None:
    with hrr_pair() as pair:
        pair.fault(Fault("split", "client>server", record=2, size=50))
        assert pair.handshake().terminal is None
        (event,) = [e for e in pair.trace.events if isinstance(e, FaultEvent)]
        assert event.kind == "split" and event.record == 2
        assert event.detail.startswith("re-framed a ") and "records of at most 50" in event.detail
        assert pair.links["client>server"].rx_watcher.messages == ["ClientHello"] * 2


def test_splitting_an_encrypted_tls12_record_is_refused() -> None:
    with Pair(EndpointConfig(role="client", version="1.2")) as pair:
        pair.fault(Fault("split", "client>server", record=3))  # the encrypted Finished
        pair.handshake()
        (event,) = [e for e in pair.trace.events if isinstance(e, FaultEvent)]
        assert "not applied" in event.detail and "encrypted handshake record" in event.detail


def test_a_record_fault_on_a_sender_that_stopped_speaking_tls_is_refused() -> None:
    # Only an external peer could write such bytes; the engine is driven directly here.
    engine = FaultEngine()
    engine.arm(Fault("drop", "client>server", record=1))
    out, discarded, applied = engine.process(make_record(22, b"hello") + b"GET / HTTP/1.1\r\n")
    assert out == make_record(22, b"hello") + b"GET / HTTP/1.1\r\n" and discarded == 0
    (refused,) = applied
    assert refused.detail.startswith("not applied") and "not TLS from offset 10" in \
        refused.detail
    assert engine.armed == ()
