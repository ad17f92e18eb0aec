"""Bad scenario files: one clear line naming file, key path and problem; exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from biopair import ScenarioError, load_scenario
from tests.helpers import bad_scenario

GOOD_STEPS = '\n[[steps]]\nrun = ["client connect", "server accept"]\n'

BAD = [
    ("not toml", "title = \n", "", "invalid TOML"),
    ("no title", GOOD_STEPS, "title", "missing"),
    ("title type", "title = 3" + GOOD_STEPS, "title", "expected a string, got int 3"),
    ("unknown top key", 'title = "t"\ntitel = "x"' + GOOD_STEPS, "titel",
     "did you mean 'title'?"),
    ("unknown endpoint key", 'title = "t"\n[client]\nvershion = "1.3"' + GOOD_STEPS,
     "client.vershion", "did you mean 'version'?"),
    ("bad version", 'title = "t"\n[client]\nversion = "1.4"' + GOOD_STEPS, "client.version",
     "'1.4' is not one of"),
    ("version and min", 'title = "t"\n[client]\nversion = "1.3"\nmin_version = "1.2"'
     + GOOD_STEPS, "client.version", "do not combine"),
    ("min above max", 'title = "t"\n[server]\nmin_version = "1.3"\nmax_version = "1.2"'
     + GOOD_STEPS, "server.min_version", "above max_version"),
    ("verify wrong type", 'title = "t"\n[client]\nverify = "yes"' + GOOD_STEPS,
     "client.verify", "expected true or false, got str 'yes'"),
    ("server-only key", 'title = "t"\n[client]\nverify_client = "required"' + GOOD_STEPS,
     "client.verify_client", "is a server setting"),
    ("unknown option", 'title = "t"\n[client]\noptions = ["IGNORE_UNEXPECTED_EOFF"]'
     + GOOD_STEPS, "client.options[1]", "did you mean 'IGNORE_UNEXPECTED_EOF'?"),
    ("unknown mode", 'title = "t"\n[client]\nmodes = ["PARTIAL_WRITE"]' + GOOD_STEPS,
     "client.modes[1]", "unknown mode"),
    ("mode set and cleared", 'title = "t"\n[client]\nmodes = ["AUTO_RETRY"]\n'
     'clear_modes = ["AUTO_RETRY"]' + GOOD_STEPS, "client.clear_modes", "also in modes"),
    ("cert type", 'title = "t"\n[server]\ncert = "dsa"' + GOOD_STEPS, "server.cert",
     "'dsa' is not one of"),
    ("deliver typo", 'title = "t"\n[schedule]\ndeliver = "bytwise"' + GOOD_STEPS,
     "schedule.deliver", "did you mean 'bytewise'?"),
    ("deliver zero", 'title = "t"\n[schedule]\ndeliver = 0' + GOOD_STEPS,
     "schedule.deliver", "must be >= 1"),
    ("deliver list", 'title = "t"\n[schedule]\ndeliver = [3, -1]' + GOOD_STEPS,
     "schedule.deliver[2]", "must be >= 1"),
    ("max_calls bool", 'title = "t"\n[schedule]\nmax_calls = true' + GOOD_STEPS,
     "schedule.max_calls", "expected an integer, got boolean true"),
    ("no steps", 'title = "t"\n', "steps", "missing"),
    ("empty steps", 'title = "t"\nsteps = []\n', "steps", "at least one"),
    ("no action", 'title = "t"\n[[steps]]\nexpect = "1"\n', "steps[1]", "found none"),
    ("two actions", 'title = "t"\n[[steps]]\ncall = "client connect"\nmove = "client>server"\n',
     "steps[1]", "found 2 (call, move)"),
    ("unknown endpoint", 'title = "t"\n[[steps]]\ncall = "clinet connect"\n',
     "steps[1].call", "did you mean 'client'?"),
    ("unknown op", 'title = "t"\n[[steps]]\ncall = "client conect"\n', "steps[1].call",
     "did you mean 'connect'?"),
    ("role op", 'title = "t"\n[[steps]]\ncall = "server connect"\n', "steps[1].call",
     "connect is a client op"),
    ("bad pattern", 'title = "t"\n[[steps]]\ncall = "client connect"\nexpect = "WANT_REED"\n',
     "steps[1].expect", "unknown outcome 'WANT_REED'"),
    ("modifier on wrong action", 'title = "t"\n[[steps]]\nmove = "client>server"\n'
     'expect = "1"\n', "steps[1].expect", "does not apply to a move step"),
    ("bad direction", 'title = "t"\n[[steps]]\nmove = "client->server"\n', "steps[1].move",
     "is not one of"),
    ("run expect not a table", 'title = "t"\n[[steps]]\nrun = ["client connect"]\n'
     'expect = "1"\n', "steps[1].expect", "a run expects a table"),
    ("run expect endpoint", 'title = "t"\n[[steps]]\nrun = ["client connect"]\n'
     'expect = { server = "1" }\n', "steps[1].expect.server", "not an endpoint of this run"),
    ("run twice", 'title = "t"\n[[steps]]\nrun = ["client connect", "client read"]\n',
     "steps[1].run[2]", "appears twice"),
    ("write of zero bytes", 'title = "t"\n[[steps]]\nrun = ["client write 0"]\n',
     "steps[1].run[1]", "must be >= 1"),
    ("write data and size", 'title = "t"\n[[steps]]\ncall = "client write"\ndata = "x"\n'
     "size = 3\n", "steps[1].size", "either data or size"),
    ("data on shutdown", 'title = "t"\n[[steps]]\ncall = "client shutdown"\ndata = "x"\n',
     "steps[1].data", "only write, read and peek"),
    ("steps not tables", 'title = "t"\nsteps = [1]\n', "steps[1]", "expected a table"),
    ("result key", 'title = "t"\n[result]\nverison = "TLSv1.3"' + GOOD_STEPS,
     "result.verison", "did you mean 'version'?"),
    ("result bool", 'title = "t"\n[result]\nsession_reused = "no"' + GOOD_STEPS,
     "result.session_reused", "expected true or false"),
]


@pytest.mark.parametrize(("name", "text", "key", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_scenarios_name_the_key_and_the_problem(
    tmp_path: Path, name: str, text: str, key: str, message: str
) -> None:
    err = bad_scenario(tmp_path, text, key, message)
    assert str(err).startswith(f"{tmp_path / 'bad.toml'}: ")
    assert "\n" not in str(err)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "biopair.cli", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_reports_a_bad_file_in_one_line_and_still_runs_the_others(tmp_path: Path) -> None:
    (tmp_path / "a_bad.toml").write_text('title = "t"\n[[steps]]\ncall = "client conect"\n')
    (tmp_path / "b_good.toml").write_text('title = "good"' + GOOD_STEPS)
    out = _cli("run", str(tmp_path))
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"{tmp_path / 'a_bad.toml'}: steps[1].call: unknown op 'conect' "
        "(did you mean 'connect'?); ops: connect, accept, handshake, read, peek, write, "
        "shutdown, renegotiate, verify_client_post_handshake, write_early_data, read_early_data, "
        "key_update, send, recv, close, pause_reading, resume_reading, start_tls"
    )
    assert "Traceback" not in out.stderr + out.stdout
    assert "PASS" in out.stdout and "good" in out.stdout
    assert out.stdout.strip().endswith("1 passed, 0 failed, 1 errors")


def test_cli_impossible_setting_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "cipher.toml"
    path.write_text('title = "t"\n[client]\nciphers = "NOT-A-CIPHER"' + GOOD_STEPS)
    out = _cli("run", str(path))
    assert out.returncode == 2
    assert out.stderr.strip() == f"{path}: client.ciphers: OpenSSL refused 'NOT-A-CIPHER'"


def test_cli_missing_path_and_bad_option(tmp_path: Path) -> None:
    out = _cli("run", str(tmp_path / "nope.toml"))
    assert out.returncode == 2 and "no such file" in out.stderr
    out = _cli("run", "--frobnicate")
    assert out.returncode == 2 and out.stderr.startswith("biopair: ")
    assert "Traceback" not in out.stderr


# -- moved from test_bad_input_extra.py (same subject) --

def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ScenarioError, match=r"not UTF-8 text \(byte 0\)"):
        load_scenario(path)


def test_same_buffer_larger_than_its_capacity_is_refused_at_load(tmp_path: Path) -> None:
    bad_scenario(tmp_path, 'title = "t"\n[[steps]]\ncall = "client write"\ndata = "x"\n'
                           'repeat = 70000\nbuffer = "same"\n',
                 "steps[1].buffer", "70000-byte payload does not fit")



def test_socket_buffer_needs_a_socket_link(tmp_path: Path) -> None:
    bad_scenario(tmp_path, 'title = "t"\n[schedule]\nsocket_buffer = 4096\n[[steps]]\n'
                           'call = "client connect"\n',
                 "schedule.socket_buffer", 'needs link = "socket"')


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[[steps]]\ncall = "client write"\ndata = "a"\nrepeat = 100000000000\n',
         "steps[1].repeat", "more than 67108864 bytes"),
        ('[[steps]]\ncall = "client read 99999999999"\n', "steps[1].call",
         "at most 67108864 bytes"),
        ('[client]\nserver_name = "é"\n[[steps]]\ncall = "client connect"\n',
         "client.server_name", "must be ASCII"),
        ('[client]\ngroups = ["é"]\n[[steps]]\ncall = "client connect"\n',
         "client.groups[1]", "must be ASCII"),
        ('[client]\nalpn = [""]\n[[steps]]\ncall = "client connect"\n',
         "client.alpn[1]", "1 to 255 bytes, got 0"),
    ],
)
def test_values_openssl_cannot_take_are_refused_at_load(
    tmp_path: Path, text: str, key: str, message: str
) -> None:
    bad_scenario(tmp_path, 'title = "t"\n' + text, key, message)


def test_non_ascii_application_data_round_trips(tmp_path: Path) -> None:
    from biopair import run_scenario

    path = tmp_path / "utf.toml"
    path.write_text('title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
                    '[[steps]]\ncall = "client write"\ndata = "é"\n[[steps]]\n'
                    'move = "client>server"\n[[steps]]\ncall = "server read"\ndata = "é"\n'
                    '[result.server]\nreceived = "é"\n')
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()
