"""The libssl stack's machinery: the cffi binding, its error mapping, BIO-pair accounting,
what it refuses at load, and what happens where libssl.so.3 is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair import EndpointConfig, Pair
from biopair.endpoints import _libssl, registry
from biopair.endpoints.libssl import ERROR_NAMES, LibsslEndpoint
from biopair.endpoints.pyopenssl import Endpoint as PyOpenSSLEndpoint
from biopair.endpoints.versions import stack_versions, versions
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.scenario.runner import run_scenario
from tests.conformance.drive import handshake

pytestmark = pytest.mark.skipif(_libssl.missing() is not None,
                                reason=f"libssl.so.3 is missing ({_libssl.PACKAGE})")


def test_the_binding_loads_the_system_openssl_3() -> None:
    assert _libssl.missing() is None
    text = _libssl.version()
    assert text is not None and text.startswith("OpenSSL 3.")
    assert versions()["libssl"] == text
    assert stack_versions()["libssl"][0] == 3


def test_error_codes_map_to_the_vocabulary() -> None:
    assert ERROR_NAMES[2] == "WANT_READ"
    assert ERROR_NAMES[3] == "WANT_WRITE"
    assert ERROR_NAMES[6] == "ZERO_RETURN"
    assert ERROR_NAMES[5] == "SYSCALL"


def test_eof_without_close_notify_is_ssl_with_its_reason_and_pyopenssls_view() -> None:
    client = LibsslEndpoint(EndpointConfig(role="client", stack="libssl"))
    server = PyOpenSSLEndpoint(EndpointConfig(role="server"), trace_hooks=False)
    try:
        handshake(client, server, max_bytes=None)
        client.wire_eof()
        result = client.call("read")
        assert (result.ret, result.error) == (0, "SSL")
        assert result.reasons == ("unexpected eof while reading",)
        assert result.pyopenssl == "SysCallError(-1, 'Unexpected EOF')"
    finally:
        client.close()
        server.close()


def test_a_16k_write_into_a_4k_pair_wants_write_and_the_pair_accounts_for_every_byte() -> None:
    with Pair(EndpointConfig(role="client", stack="libssl"), link="bio-pair",
              bio_pair_size=4096) as pair:
        assert pair.run([("client", "connect"), ("server", "accept")]).terminal is None
        link = pair.links["client>server"]
        link.paused = True  # nothing leaves the client's pair
        call = pair.call("client", "write", size=16384)
        assert (call.ret, call.error) == (-1, "WANT_WRITE")
        client = pair.client
        assert isinstance(client, LibsslEndpoint)
        assert client.wire_backlog() == link.sender_pending() == 4096
        again = pair.call("client", "write")
        assert (again.ret, again.error, again.sent) == (-1, "WANT_WRITE", 0)
        link.paused = False
        assert link.pull() == 4096  # at most the link's capacity
        assert link.pull() == 0
        assert link.pulled == link.delivered + len(link.queue) + link.discarded


def test_a_full_pair_accepts_only_what_fits() -> None:
    ep = LibsslEndpoint(EndpointConfig(role="server", stack="libssl", bio_pair_size=100))
    try:
        assert ep.wire_give(b"x" * 150) == 100
        assert ep.wire_pending() == 100
        assert ep.wire_give(b"y") == 0
    finally:
        ep.close()
        ep.close()
    assert ep.state() is None
    assert ep.wire_give(b"z") == 0


def _scenario(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + body)
    return path


@pytest.mark.parametrize(("body", "key"), [
    ('[[steps]]\ncall = "client key_update"\nrequest = true\n', "steps[1].call"),
    ('[client]\nquiet_shutdown = true\n[[steps]]\ncall = "client connect"\n',
     "client.quiet_shutdown"),
    ('[server]\nstack = "stdlib"\nmax_send_fragment = 512\n[[steps]]\n'
     'call = "client connect"\n', "server.max_send_fragment"),
    ('[[steps]]\ncall = "client connect"\n[result.client]\nearly_data_status = "not_sent"\n',
     "result.client.early_data_status"),
    ('[schedule]\nlink = "bio-pair"\n[[steps]]\ncall = "client connect"\n', "schedule.link"),
])
def test_what_only_libssl_drives_is_refused_elsewhere_in_one_line(
        tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario(tmp_path, body))
    assert info.value.key == key
    assert "\n" not in str(info.value)
    assert "pyopenssl" in str(info.value) or "stdlib" in str(info.value)


@pytest.mark.parametrize(("body", "key"), [
    ('[client]\nstack = "libssl"\nmax_send_fragment = 511\n[[steps]]\n'
     'call = "client connect"\n', "client.max_send_fragment"),
    ('[schedule]\nbio_pair_size = 64\n[[steps]]\ncall = "client connect"\n',
     "schedule.bio_pair_size"),
    ('[client]\nstack = "libssl"\n[[steps]]\ncall = "client connect"\nrequest = true\n',
     "steps[1].request"),
    ('[client]\nstack = "libssl"\n[[steps]]\nrun = ["client key_update"]\n',
     "steps[1].run[1]"),
])
def test_bad_new_keys_are_refused_in_one_line(tmp_path: Path, body: str, key: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(_scenario(tmp_path, body))
    assert info.value.key == key
    assert "\n" not in str(info.value)


def test_a_missing_libssl_skips_naming_the_package_and_is_an_error_when_required(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(_scenario(
        tmp_path, '[client]\nstack = "libssl"\n[[steps]]\ncall = "client connect"\n'))
    why = f"libssl.so.3 cannot be loaded (test); {_libssl.PACKAGE}"
    monkeypatch.setattr(_libssl, "missing", lambda: why)

    def refuse() -> None:
        raise _libssl.Missing(why)

    monkeypatch.setattr(_libssl, "lib", refuse)
    assert registry.missing("libssl") == why
    verdict = run_scenario(scenario)
    assert verdict.skipped is not None and "libssl3" in verdict.skipped
    with pytest.raises(ScenarioError, match="libssl3") as info:
        run_scenario(scenario, require_peers=True)
    assert info.value.key == "client.stack"


def test_libssl_conditions_hold_only_where_it_loads() -> None:
    from biopair.scenario.conditions import parse_condition

    cond = parse_condition("libssl >= 3.0")
    assert cond.holds()
    assert not cond.holds({"openssl": (4, 0, 3)})
    assert "libssl is not installed" in cond.unmet({"openssl": (4, 0, 3)})
