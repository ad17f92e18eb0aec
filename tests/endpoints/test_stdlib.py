"""The stdlib ssl endpoint: real SSLObject calls, what is known and what stays hidden."""

from __future__ import annotations

import ssl

import pytest

from biopair import EndpointConfig, Pair
from biopair.endpoints.stdlib import StdlibEndpoint, classify
from biopair.outcome import Outcome, compile_pattern
from tests.helpers import state


def _pair(client: str, server: str, **kw: object) -> Pair:
    return Pair(EndpointConfig(role="client", stack=client),
                EndpointConfig(role="server", stack=server), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("client", "server"), [
    ("pyopenssl", "stdlib"), ("stdlib", "pyopenssl"), ("stdlib", "stdlib")])
def test_cross_stack_bytewise_handshake_and_data(client: str, server: str) -> None:
    with _pair(client, server, deliver="bytewise") as pair:
        result = pair.handshake()
        assert result.terminal is None
        for name in ("client", "server"):
            outcomes = result.outcomes[name]
            assert outcomes[-1].ret == 1
            assert all(o.error == "WANT_READ" for o in outcomes[:-1])
            stdlib = pair.endpoints[name].stack == "stdlib"
            # the stdlib hides every failed call's return value, pyOpenSSL never does
            assert all((o.ret is None) == stdlib for o in outcomes[:-1])
        pair.call("client", "write", data=b"ping")
        run = pair.run([("server", "read")])
        assert run.outcomes["server"][-1] == Outcome(4, "NONE")
        assert state(pair, "server")["received"] == "ping"
        assert state(pair, "server")["version"] == "TLSv1.3"


def test_hidden_return_in_trace_text_and_json() -> None:
    with _pair("stdlib", "pyopenssl") as pair:
        call = pair.call("client", "connect")
        assert call.ret is None and call.error == "WANT_READ"
        assert call.to_json()["ret"] is None
        assert "ret=?" in pair.trace.format_calls()
        assert call.pyopenssl.startswith("SSLWantReadError(")
        assert call.outcome.token() == "WANT_READ"


def test_patterns_for_hidden_returns() -> None:
    hidden = [Outcome(None, "WANT_READ")]
    assert compile_pattern("WANT_READ").matches(hidden)
    assert compile_pattern("HIDDEN WANT_READ").matches(hidden)
    assert not compile_pattern("-1 WANT_READ").matches(hidden)
    assert not compile_pattern("HIDDEN WANT_READ").matches([Outcome(-1, "WANT_READ")])
    assert compile_pattern("HIDDEN").matches([Outcome(None, None)])
    assert not compile_pattern("1").matches([Outcome(None, None)])


def test_close_notify_read_is_zero_return() -> None:
    with _pair("stdlib", "pyopenssl") as pair:
        assert pair.handshake().terminal is None
        assert pair.call("server", "shutdown").ret == 0
        outcomes = pair.run([("client", "read")]).outcomes["client"]
        assert outcomes[-1] == Outcome(None, "ZERO_RETURN")


def test_untrusted_server_reports_the_symbolic_reason() -> None:
    client = EndpointConfig(role="client", stack="stdlib", trust="other-ca")
    with Pair(client, EndpointConfig(role="server")) as pair:
        result = pair.handshake()
        last = result.outcomes["client"][-1]
        assert (last.ret, last.error) == (None, "SSL")
        assert last.reasons == ("CERTIFICATE_VERIFY_FAILED",)
        assert result.outcomes["server"][-1].reasons == ("tlsv1 alert unknown ca",)


@pytest.mark.parametrize(("exc", "expected"), [
    (ssl.SSLWantReadError(ssl.SSL_ERROR_WANT_READ, "x"), ("WANT_READ", ())),
    (ssl.SSLZeroReturnError(ssl.SSL_ERROR_ZERO_RETURN, "x"), ("ZERO_RETURN", ())),
    (ssl.SSLEOFError(ssl.SSL_ERROR_EOF, "EOF occurred"), ("SYSCALL", ())),
])
def test_classify_by_exception(exc: ssl.SSLError, expected: tuple[str, tuple[str, ...]]) -> None:
    assert classify(exc) == expected


def test_stdlib_endpoint_rejects_unavailable_settings(tmp_path: object) -> None:
    from pathlib import Path

    from biopair.scenario.loader import ScenarioError, load_scenario

    path = Path(str(tmp_path)) / "s.toml"
    path.write_text('title = "t"\n[client]\nstack = "stdlib"\nsigalgs = ["ed25519"]\n'
                    '[[steps]]\ncall = "client connect"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "client.sigalgs"
    path.write_text('title = "t"\n[client]\nstack = "stdlib"\n[[steps]]\ncall = "client peek"\n')
    with pytest.raises(ScenarioError, match="cannot peek"):
        load_scenario(path)


def test_stdlib_endpoint_direct_construction() -> None:
    ep = StdlibEndpoint(EndpointConfig(role="client", stack="stdlib"))
    raw = ep.call("connect")
    assert raw.error == "WANT_READ" and raw.ret is None
    assert len(ep.wire_take(65536)) > 100  # the ClientHello
