"""Hostile scenario values: each is one ScenarioError naming its key, at load, never an
exception from OpenSSL, IDNA, the certificate builder, int() or the TOML parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair.scenario import readers
from biopair.scenario.loader import load_scenario
from biopair.scenario.model import ScenarioError
from biopair.scenario.runner import run_scenario

STEP = '[[steps]]\ncall = "client connect"\n'
LABEL64 = "a" * 64


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text('title = "t"\n' + text)
    load_scenario(path)


def _refused(tmp_path: Path, text: str, key: str, message: str = "") -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, text)
    assert info.value.key == key, str(info.value)
    assert message in info.value.message
    assert "\n" not in str(info.value)
    return info.value


@pytest.mark.parametrize("host", ["a b", ".", "*.x", "::1", f"{LABEL64}.test", "a..b",
                                  "server.test.", "-x.test", "x-.test", "server.test\0.evil",
                                  "é.test", "a" * 254, "a\x1b[31m"])
def test_verify_host_openssl_refuses_is_refused_at_load(tmp_path: Path, host: str) -> None:
    _refused(tmp_path, f"[client]\nverify_host = {_toml(host)}\n{STEP}", "client.verify_host")


@pytest.mark.parametrize("host", ["server.test", "a_b.test", "127.0.0.1", "A.B",
                                  ".".join(["a" * 63] * 3) + ".b"])
def test_verify_host_openssl_accepts_loads(tmp_path: Path, host: str) -> None:
    _load(tmp_path, f"[client]\nverify_host = {_toml(host)}\n{STEP}")


@pytest.mark.parametrize("name", ["a..b", "a\0b", "bücher.test", "127.0.0.1", "::1",
                                  f"{LABEL64}.test", "-quiet"])
def test_server_name_outside_rfc6066_is_refused(tmp_path: Path, name: str) -> None:
    _refused(tmp_path, f"[client]\nserver_name = {_toml(name)}\n{STEP}", "client.server_name")


def test_cert_host_over_the_cn_limit_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, f'[server]\ncert_host = "{"a" * 65}"\n{STEP}', "server.cert_host",
             "at most 64 characters")


@pytest.mark.parametrize("host", ["*.server.test", "127.0.0.1", "::1", "a" * 31 + "." + "b" * 32])
def test_cert_host_wildcard_ip_and_64_characters_load(tmp_path: Path, host: str) -> None:
    _load(tmp_path, f"[server]\ncert_host = {_toml(host)}\n{STEP}")


@pytest.mark.parametrize(("text", "key"), [
    ('[client]\nalpn = ["h2\\u0000"]', "client.alpn[1]"),
    ('[client]\nalpn = ["a,b"]', "client.alpn[1]"),
    (f'[client]\nalpn = ["{"a" * 256}"]', "client.alpn[1]"),
    ('[client]\nciphers = "ALL\\u0000:eNULL"', "client.ciphers"),
    ('[client]\nciphersuites = "TLS_AES_128_GCM_SHA256\\n"', "client.ciphersuites"),
    (f'[client]\nciphers = "{"A" * 1025}"', "client.ciphers"),
    ('[client]\ngroups = ["x25519:P-256"]', "client.groups[1]"),
    ('[client]\nsigalgs = ["ed25519\\u0000"]', "client.sigalgs[1]"),
    ('[client]\ngroups = [' + ", ".join(['"x25519"'] * 65) + "]", "client.groups"),
    ('[client]\noptions = ["NO_TICKET\\u0000"]', "client.options[1]"),
    ('[client]\nmodes = ["AUTO_RETRY\\n"]', "client.modes[1]"),
])
def test_strings_for_openssl_and_peers_are_checked(tmp_path: Path, text: str, key: str
                                                   ) -> None:
    _refused(tmp_path, f"{text}\n{STEP}", key)


@pytest.mark.parametrize(("text", "key", "message"), [
    ("[server]\nmax_early_data = 4294967296", "server.max_early_data", "4294967295"),
    ("[schedule]\nmax_calls = 10000001", "schedule.max_calls", "10000000"),
    ('[schedule]\nlink = "socket"\nsocket_buffer = 16777217', "schedule.socket_buffer", ""),
    ("[schedule]\ndeliver = 67108865", "schedule.deliver", ""),
    ("[schedule]\nmax_calls = 0x" + "f" * 5000, "schedule.max_calls", "20000 bits"),
])
def test_integers_out_of_range_are_refused(tmp_path: Path, text: str, key: str,
                                           message: str) -> None:
    _refused(tmp_path, f"{text}\n{STEP}", key, message)


@pytest.mark.parametrize(("step", "key"), [
    ('move = "client>server"\nbytes = 4294967296', "steps[1].bytes"),
    ('corrupt = "client>server"\noffset = 4294967296', "steps[1].offset"),
    ('corrupt = "client>server"\nrecord = 0\nat = 70000', "steps[1].at"),
    ('drop = "client>server"\noffset = 0\nlength = 67108865', "steps[1].length"),
    ('coalesce = "client>server"\nrecord = 0\ncount = 65537', "steps[1].count"),
    ('run = ["client connect", "server accept"]\nmax_calls = 10000001', "steps[1].max_calls"),
    ('hold = "client>server"\nuntil = "server received 99999999999 ClientHello"',
     "steps[1].until"),
    ('hold = "client>server"\nuntil = "server received ² ClientHello"', "steps[1].until"),
    ('call = "client read ²"', "steps[1].call"),
    ('call = "client read ٣"', "steps[1].call"),
    ('call = "client read ' + "0" * 5000 + '1"', "steps[1].call"),
    ('call = "client connect"\nexpect = "WANT_READ{4294967296}"', "steps[1].expect"),
    ('call = "client connect"\nexpect = "WANT_READ{1,10000001}"', "steps[1].expect"),
    ('call = "client connect"\nexpect = "' + "9" * 5000 + '"', "steps[1].expect"),
    ('call = "client connect"\nexpect = "' + "(" * 1000 + "1" + ")" * 1000 + '"',
     "steps[1].expect"),
    ('call = "client connect"\nexpect = "1 ' + "1 " * 6000 + '"', "steps[1].expect"),
    ('call = "client connect"\nnote = "a\\u001b[2J"', "steps[1].note"),
])
def test_step_values_out_of_range_are_refused(tmp_path: Path, step: str, key: str) -> None:
    _refused(tmp_path, f"[[steps]]\n{step}\n", key)


def test_a_reason_may_hold_any_text_and_digits(tmp_path: Path) -> None:
    _load(tmp_path, '[[steps]]\ncall = "client connect"\nexpect = \'SSL "é 99999999999"\'\n')


@pytest.mark.parametrize("text", [
    'requires = ["openssl >= ' + "9" * 5000 + '"]\n',
    'requires = ["openssl >= ³"]\n',
    '[[steps]]\ncall = "client connect"\nexpect = { "openssl >= ' + "9" * 5000
    + '" = "1", "else" = "1" }\n',
])
def test_version_numbers_are_short_ascii(tmp_path: Path, text: str) -> None:
    with pytest.raises(ScenarioError) as info:
        _load(tmp_path, text + ("" if "steps" in text else STEP))
    assert "cannot read" in info.value.message
    assert len(str(info.value)) < 1300


@pytest.mark.parametrize(("text", "message"), [
    ("x = " + "1" * 5000 + "\n", "more than 4300 digits"),
    ("x = " + "[" * 1000 + "]" * 1000 + "\n", "nest 1000 deep"),
    ("x = " + "{a = " * 100 + "1" + "}" * 100 + "\n", "nest 100 deep"),
])
def test_toml_too_long_or_too_deep_is_one_line(tmp_path: Path, text: str, message: str
                                              ) -> None:
    err = _refused(tmp_path, text + STEP, "", message)
    assert "\n" not in str(err)


def test_brackets_inside_strings_and_comments_do_not_count(tmp_path: Path) -> None:
    deep = "[" * 100
    _load(tmp_path, f'about = "{deep}"\n# {deep}\ntags = [\'{deep}\', """{deep}\\""""]\n'
                    f"{STEP}")


def test_a_key_with_a_newline_and_an_escape_is_one_escaped_line(tmp_path: Path) -> None:
    err = _refused(tmp_path, f'"a\\nb\\u001b[31m" = 1\n{STEP}', "a\nb\x1b[31m")
    assert str(err).endswith(": a\\nb\\x1b[31m: unknown key")


def test_title_is_one_line_without_controls(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text(f'title = "PASS\\r\\u001b[2K"\n{STEP}')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "title"


def test_file_over_the_cap_is_refused_before_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text(f'title = "t"\n{STEP}' + "#" * readers.MAX_FILE_BYTES)
    with pytest.raises(ScenarioError, match="larger than 1,048,576 bytes"):
        load_scenario(path)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_a_device_is_not_read(path: str) -> None:
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(path)


def test_a_fifo_is_not_opened(tmp_path: Path) -> None:
    import os

    fifo = tmp_path / "f.toml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="a FIFO"):
        load_scenario(fifo)  # opening it for reading would block: no writer


def test_call_steps_count_against_max_calls(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('title = "t"\n[schedule]\nmax_calls = 3\n'
                    + '[[steps]]\ncall = "client connect"\n' * 5)
    verdict = run_scenario(load_scenario(path))
    assert len(verdict.trace.calls) == 3
    assert not verdict.passed
    assert verdict.failures[0].key == "steps[4].call"
    assert verdict.failures[0].actual.startswith("LIMIT")


def _toml(text: str) -> str:
    # A TOML basic string for any text (control characters escaped).
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
