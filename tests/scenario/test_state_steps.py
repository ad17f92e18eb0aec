"""The keys that say more, exactly: ``check`` steps, ``sends``, ``until``, run-entry
``repeat``, live mode changes, ``junk`` and ``keys_match`` -- bad input refused in one
line, and what real stacks then do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from biopair import ScenarioError, load_scenario, run_scenario
from biopair.endpoints.registry import missing

HANDSHAKE = '[[steps]]\nrun = ["client connect", "server accept"]\n'
LIBSSL = '[client]\nstack = "libssl"\n[server]\nstack = "libssl"\n'
needs_libssl = pytest.mark.skipif(missing("libssl") is not None, reason="no libssl.so.3")

BAD = [
    ("check unknown endpoint", '[[steps]]\ncheck = "clinet"\npending = 0\n',
     "steps[2].check", "'clinet' is not one of"),
    ("check nothing", '[[steps]]\ncheck = "client"\n', "steps[2]",
     "a check needs at least one key"),
    ("check wrong type", '[[steps]]\ncheck = "client"\npending = "0"\n', "steps[2].pending",
     "integer"),
    ("check negative", '[[steps]]\ncheck = "client"\npending = -1\n', "steps[2].pending",
     ""),
    ("check bool type", '[[steps]]\ncheck = "client"\nsession_reused = 1\n',
     "steps[2].session_reused", "expected true or false"),
    ("check unknown key", '[[steps]]\ncheck = "client"\npendng = 0\n', "steps[2].pendng",
     "did you mean 'pending'?"),
    ("check undeclared", '[[steps]]\ncheck = "client"\nin_init = true\n', "steps[2].in_init",
     "client.stack = 'pyopenssl' cannot report in_init"),
    ("check keys_match", '[[steps]]\ncheck = "client"\nkeys_match = true\n',
     "steps[2].keys_match", "unknown key"),
    ("stdlib check shutdown", '[[steps]]\ncheck = "server"\nshutdown = []\n',
     "steps[2].shutdown", "server.stack = 'stdlib' cannot report shutdown"),
    ("sends wrong type", '[[steps]]\ncall = "client write"\ndata = "x"\nsends = "alert"\n',
     "steps[2].sends", "expected a byte count"),
    ("sends unknown name", '[[steps]]\ncall = "client write"\ndata = "x"\n'
     'sends = ["alert:close_notfy"]\n', "steps[2].sends[1]",
     "did you mean 'alert:close_notify'?"),
    ("sends both", '[[steps]]\ncall = "client write"\ndata = "x"\n'
     'sends = ["alert", "!alert"]\n', "steps[2].sends", "both required and forbidden"),
    ("sends negative", '[[steps]]\ncall = "client write"\ndata = "x"\nsends = -1\n',
     "steps[2].sends", ""),
    ("sends on move", '[[steps]]\nmove = "client>server"\nsends = 0\n', "steps[2].sends",
     "does not apply to a move step"),
    ("entry sends", '[[steps]]\nrun = [{ call = "client write", data = "x", sends = true }]\n',
     "steps[2].run[1].sends", "expected a byte count"),
    ("until bad pattern", '[[steps]]\ncall = "client read"\nuntil = "WANT_RAED"\n',
     "steps[2].until", ""),
    ("until not a string", '[[steps]]\ncall = "client read"\nuntil = 1\n', "steps[2].until",
     "expected an outcome pattern string"),
    ("max_calls without until", '[[steps]]\ncall = "client read"\nmax_calls = 3\n',
     "steps[2].max_calls", "give until too"),
    ("until cap", '[[steps]]\ncall = "client read"\nuntil = "1"\nmax_calls = 100001\n',
     "steps[2].max_calls", "100000"),
    ("repeat zero", '[[steps]]\nrun = [{ call = "client read", repeat = 0 }]\n',
     "steps[2].run[1].repeat", ""),
    ("repeat huge", '[[steps]]\nrun = [{ call = "client read", repeat = 10001 }]\n',
     "steps[2].run[1].repeat", "10000"),
    ("mode no names", '[[steps]]\nset_modes = "client"\n', "steps[2].set_modes",
     "ENDPOINT NAME"),
    ("mode unknown", '[[steps]]\nset_modes = "client PARTIAL_WRITE"\n',
     "steps[2].set_modes[1]", "unknown mode"),
    ("option unknown", '[[steps]]\nset_options = "client NO_TICKETS"\n',
     "steps[2].set_options[1]", "did you mean 'NO_TICKET'?"),
    ("mode two endpoints", '[[steps]]\nclear_modes = "client AUTO_RETRY"\n'
     'set_modes = "server AUTO_RETRY"\n', "steps[2].set_modes", "one endpoint per step"),
    ("mode cleared and set", '[[steps]]\nclear_modes = "client AUTO_RETRY"\n'
     'set_modes = "client AUTO_RETRY"\n', "steps[2].set_modes", "also in clear_modes"),
    ("mode and call", '[[steps]]\nset_modes = "client AUTO_RETRY"\ncall = "client read"\n',
     "steps[2]", "exactly one action"),
    ("mode on stdlib", '[[steps]]\nset_modes = "server AUTO_RETRY"\n', "steps[2].set_modes",
     "server.stack = 'stdlib' cannot change modes"),
    ("junk without hex", '[[steps]]\njunk = "client"\n', "steps[2].hex", "missing"),
    ("junk bad hex", '[[steps]]\njunk = "client"\nhex = "zz"\n', "steps[2].hex", ""),
    ("junk too long", '[[steps]]\njunk = "client"\nhex = "' + "00" * 65537 + '"\n',
     "steps[2].hex", "at most 65536"),
    ("keys_match type", '[result]\nkeys_match = "yes"\n', "result.keys_match",
     "expected true or false"),
    ("keys_match per endpoint", '[result.client]\nkeys_match = true\n',
     "result.client.keys_match", "put it in [result]"),
    ("keys_match stdlib", '[result]\nkeys_match = true\n', "result.keys_match",
     "server.stack = 'stdlib' cannot export keying material"),
]


@pytest.mark.parametrize("name,body,key,message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_one_line_naming_the_key(tmp_path: Path, name: str, body: str,
                                              key: str, message: str) -> None:
    server = '[server]\nstack = "stdlib"\n' if "stdlib" in name else ""
    path = tmp_path / "s.toml"
    # Steps before [result] tables: TOML puts keys after a table header into that table.
    steps, _, result = body.partition("[result")
    path.write_text('title = "t"\n' + server + HANDSHAKE + steps
                    + ("[result" + result if result else ""))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key, str(info.value)
    assert message in info.value.message, str(info.value)
    assert "\n" not in str(info.value)


def test_bad_new_key_exits_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + HANDSHAKE + '[[steps]]\ncheck = "client"\n'
                    'pending = "lots"\n')
    proc = subprocess.run([sys.executable, "-m", "biopair.cli", "run", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "steps[2].pending" in proc.stderr + proc.stdout


def _run(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "s.toml"
    path.write_text('title = "t"\n' + text)
    return run_scenario(load_scenario(path))


def test_version_is_null_until_the_handshake_finished(tmp_path: Path) -> None:
    verdict = _run(tmp_path, '[[steps]]\ncheck = "client"\nversion = false\n'
                   '[[steps]]\ncall = "client connect"\n'
                   '[[steps]]\ncheck = "client"\nversion = false\n'
                   + HANDSHAKE + '[[steps]]\ncheck = "client"\nversion = "TLSv1.3"\n')
    assert verdict.passed, verdict.report()


def test_check_failure_names_the_step(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "client write"\ndata = "abc"\n'
                   '[[steps]]\nmove = "client>server"\n'
                   '[[steps]]\ncall = "server read"\nsize = 1\n'
                   '[[steps]]\ncheck = "server"\npending = 5\n')
    assert [(f.key, f.expected, f.actual) for f in verdict.failures] == [
        ("steps[5].pending", "5", "2")]
    assert "(check server)" in verdict.report()


def test_sends_names_records_and_decrypted_alerts(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "client write"\ndata = "abc"\n'
                   'sends = ["application_data", "!alert"]\n'
                   '[[steps]]\ncall = "client shutdown"\nexpect = "0"\n'
                   'sends = ["application_data", "alert", "alert:close_notify"]\n'
                   '[[steps]]\ncall = "client shutdown"\nsends = 0\n')
    assert verdict.passed, verdict.report()


def test_sends_failure_shows_what_was_written(tmp_path: Path) -> None:
    verdict = _run(tmp_path, '[[steps]]\ncall = "client connect"\nsends = ["alert"]\n')
    (failure,) = verdict.failures
    assert failure.key == "steps[1].sends"
    assert "ClientHello" in failure.actual and "handshake" in failure.actual


def test_sends_counts_bytes(tmp_path: Path) -> None:
    verdict = _run(tmp_path, '[[steps]]\ncall = "client connect"\nsends = 1\n')
    (failure,) = verdict.failures
    assert failure.expected == "1 bytes" and failure.actual.endswith(" bytes")
    assert int(failure.actual.split()[0]) > 100


def test_until_repeats_and_expect_covers_the_sequence(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "server write"\ndata = "ab"\n'
                   '[[steps]]\ncall = "server write"\ndata = "cd"\n'
                   '[[steps]]\nmove = "server>client"\n'
                   '[[steps]]\ncall = "client read"\nsize = 1\nuntil = "WANT_READ"\n'
                   'expect = "1 1 1 1 WANT_READ"\n')
    assert verdict.passed, verdict.report()


def test_until_that_never_matches_ends_in_deadlock(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "client read"\n'
                   'until = "0 ZERO_RETURN"\n')
    (failure,) = verdict.failures
    assert failure.key == "steps[2].until"
    # TLS 1.3 tickets are read first, then the same WANT_READ twice: DEADLOCK, not 1000.
    assert failure.actual.endswith("DEADLOCK")
    assert len(verdict.trace.calls) < 10


def test_until_cap_is_limit(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "client write"\ndata = "x"\n'
                   'until = "WANT_WRITE"\nmax_calls = 5\nexpect = "1{5} LIMIT"\n')
    assert verdict.passed, verdict.report()


def test_run_entry_repeat(tmp_path: Path) -> None:
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\nrun = [{ call = "client write", '
                   'data = "ab", repeat = 3, sends = 3 }]\n'
                   '[[steps]]\nrun = [{ call = "server read", repeat = 3 }]\n'
                   'expect = { server = "WANT_READ* 6 WANT_READ* DEADLOCK | 2 2 2" }\n')
    assert verdict.passed is False  # sends = 3 bytes is false: three records
    (failure,) = verdict.failures
    assert failure.key == "steps[2].run[1].sends"
    assert failure.actual == f"{3 * 24} bytes"


def test_mode_steps_change_the_live_connection(tmp_path: Path) -> None:
    # pyOpenSSL's Connection has AUTO_RETRY; cleared mid-run, a read that meets a TLS 1.3
    # NewSessionTicket returns WANT_READ, as SSL_MODE_AUTO_RETRY(3) says.
    verdict = _run(tmp_path, HANDSHAKE + '[[steps]]\ncall = "server write"\ndata = "ab"\n'
                   '[[steps]]\nmove = "server>client"\n'
                   '[[steps]]\nclear_modes = "client AUTO_RETRY"\n'
                   'set_options = "client NO_TICKET"\n'
                   '[[steps]]\ncall = "client read"\nuntil = "2"\n'
                   'expect = "WANT_READ+ 2"\n')
    assert verdict.passed, verdict.report()
    assert any(getattr(e, "kind", "") == "modes" for e in verdict.trace.events)


def test_junk_goes_into_the_endpoints_own_input(tmp_path: Path) -> None:
    # OpenSSL recognises an HTTP request where a ClientHello belongs.
    verdict = _run(tmp_path, '[[steps]]\ncall = "client connect"\n'
                   '[[steps]]\njunk = "server"\nhex = "474554202f20485454502f312e310d0a"\n'
                   '[[steps]]\ncall = "server accept"\nexpect = \'SSL "http request"\'\n'
                   'sends = 0\n')
    assert verdict.passed, verdict.report()
    # the peer's stream is untouched: the client's ClientHello is still queued
    assert verdict.streams["client>server"]["records"] == 1
    assert any(getattr(e, "kind", "") == "junk" for e in verdict.trace.events)


def test_keys_match(tmp_path: Path) -> None:
    assert _run(tmp_path, HANDSHAKE + "[result]\nkeys_match = true\n").passed
    before = _run(tmp_path, '[[steps]]\ncall = "client connect"\n[result]\nkeys_match = true\n')
    (failure,) = before.failures
    assert "no keying material" in failure.actual


def test_stdlib_call_lines_name_their_stack(tmp_path: Path) -> None:
    verdict = _run(tmp_path, '[server]\nstack = "stdlib"\n' + HANDSHAKE
                   + '[[steps]]\ncall = "client read"\nexpect = "1"\n')
    report = verdict.report()
    assert "[ssl: SSLWantReadError" in report
    assert "[pyOpenSSL: SSLWantReadError" not in report


@needs_libssl
def test_libssl_state_queries(tmp_path: Path) -> None:
    verdict = _run(tmp_path, LIBSSL + '[[steps]]\ncheck = "client"\nin_init = true\n'
                   'version = false\n' + HANDSHAKE
                   + '[[steps]]\ncheck = "client"\nin_init = false\nhas_pending = false\n'
                   '[[steps]]\ncall = "server write"\ndata = "abc"\n'
                   '[[steps]]\nmove = "server>client"\n'
                   # in the read BIO, not in the SSL's buffers yet
                   '[[steps]]\ncheck = "client"\npending = 0\nhas_pending = false\n'
                   '[[steps]]\ncall = "client read"\nsize = 1\nuntil = "1"\n'
                   '[[steps]]\ncheck = "client"\npending = 2\nhas_pending = true\n'
                   '[result]\nkeys_match = true\n')
    assert verdict.passed, verdict.report()
