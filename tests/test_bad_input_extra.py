"""Bad input beyond the table in test_scenario_errors: bytes, buffers, socket sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from biopair import ScenarioError, load_scenario


def test_a_file_that_is_not_utf8_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ScenarioError, match=r"not UTF-8 text \(byte 0\)"):
        load_scenario(path)


def test_same_buffer_larger_than_its_capacity_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text('title = "t"\n[[steps]]\ncall = "client write"\ndata = "x"\n'
                    'repeat = 70000\nbuffer = "same"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "steps[1].buffer"
    assert "70000-byte payload does not fit" in info.value.message



def test_socket_buffer_needs_a_socket_link(tmp_path: Path) -> None:
    path = tmp_path / "buf.toml"
    path.write_text('title = "t"\n[schedule]\nsocket_buffer = 4096\n[[steps]]\n'
                    'call = "client connect"\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "schedule.socket_buffer"
    assert 'needs link = "socket"' in info.value.message


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
    path = tmp_path / "v.toml"
    path.write_text('title = "t"\n' + text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == key
    assert message in info.value.message


def test_non_ascii_application_data_round_trips(tmp_path: Path) -> None:
    from biopair import run_scenario

    path = tmp_path / "utf.toml"
    path.write_text('title = "t"\n[[steps]]\nrun = ["client connect", "server accept"]\n'
                    '[[steps]]\ncall = "client write"\ndata = "é"\n[[steps]]\n'
                    'move = "client>server"\n[[steps]]\ncall = "server read"\ndata = "é"\n'
                    '[result.server]\nreceived = "é"\n')
    verdict = run_scenario(load_scenario(path))
    assert verdict.passed, verdict.report()
