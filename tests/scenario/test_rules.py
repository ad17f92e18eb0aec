"""Cross-field and stack rules: combinations no single key shows to be wrong are refused
at load, naming the key to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.scenario.loader import ScenarioError, load_scenario

STEP = '[[steps]]\ncall = "client connect"\n'
SERVER_STEP = '[[steps]]\ncall = "server accept"\n'


@pytest.mark.parametrize(("body", "key", "message"), [
    ('[client]\nversion = "1.3"\nmin_version = "1.2"\n' + STEP, "client.version",
     "pins min and max: do not combine it with min_version/max_version"),
    ('[server]\nmin_version = "1.3"\nmax_version = "1.2"\n' + STEP, "server.min_version",
     "1.3 is above max_version 1.2"),
    ('[client]\nmodes = ["AUTO_RETRY"]\nclear_modes = ["AUTO_RETRY"]\n' + STEP,
     "client.clear_modes", "['AUTO_RETRY'] also in modes"),
    ('[schedule]\nsocket_buffer = 4096\n' + STEP, "schedule.socket_buffer",
     'sizes a socket: it needs link = "socket"'),
    ('[client]\nstack = "stdlib"\ngroups = ["X25519"]\n' + STEP, "client.groups",
     "not available with stack = 'stdlib' (it takes "),
    ('[server]\nstack = "gnutls-cli"\nversion = "1.1"\n' + STEP, "server.version",
     "stack = 'gnutls-cli' takes version 1.2 or 1.3"),
    ('[client]\nstack = "openssl-cli"\n[server]\nstack = "gnutls-cli"\n' + STEP,
     "server.stack", "both endpoints are external programs"),
    ('[client]\nstack = "stdlib"\n[schedule]\nlink = "socket"\n' + STEP, "schedule.link",
     "link = 'socket' is not available with client.stack = 'stdlib'"),
    ('[server]\nstack = "gnutls-cli"\n' + STEP + '[result.server]\nversion = "TLSv1.3"\n',
     "result.server", "the server is an external program (gnutls-cli); its state is not "
                      "visible"),
    ('[server]\nstack = "stdlib"\n' + STEP + '[result]\ngroup = "x25519"\n', "result.group",
     "server.stack = 'stdlib' cannot report group"),
    ('[server]\nstack = "gnutls-cli"\n' + SERVER_STEP, "steps[1].call",
     "the server is an external program (gnutls-cli); only the in-process side can be "
     "called"),
    ('[client]\nstack = "stdlib"\n[[steps]]\ncall = "client peek"\n', "steps[1].call",
     "client.stack = 'stdlib' cannot peek (it can: "),
    ('[client]\nresume = true\n[server]\nstack = "stdlib"\n' + STEP, "client.resume",
     "resumption needs a server that can resume (server.stack = 'stdlib' cannot)"),
    ('[schedule]\nsend_cap = 64\n' + STEP, "schedule.send_cap",
     "caps the sends of a callback-I/O stack (stack = 'wolfssl' or 'tlslite-ng'); "
     "client.stack = 'pyopenssl' and server.stack = 'pyopenssl' cannot"),
    ('[client]\nstack = "wolfssl"\n[schedule]\nlink = "socket"\nsend_cap = 64\n' + STEP,
     "schedule.send_cap", 'caps in-memory sends: it needs link = "memory", not \'socket\''),
    ('[schedule]\nsend_cap = 0\n' + STEP, "schedule.send_cap", "must be >= 1"),
    ('[schedule]\nsend_cap = "64"\n' + STEP, "schedule.send_cap", "expected an integer"),
])
def test_a_refused_combination_names_the_key(tmp_path: Path, body: str, key: str,
                                             message: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + body)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message
    assert "\n" not in str(info.value)


def test_a_result_check_of_both_endpoints_skips_an_external_program(tmp_path: Path) -> None:
    # [result] applies to each endpoint whose state is visible: the in-process one here.
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n[server]\nstack = "gnutls-cli"\n' + STEP
                    + '[result]\nversion = "TLSv1.3"\n')
    assert load_scenario(path).result.both == {"version": "TLSv1.3"}
