"""``biopair run --stacks``: every pair of stacks on one scenario, side by side, and
``biopair diff`` on the matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biopair.cli import main
from biopair.endpoints import registry
from biopair.outcome import Outcome
from biopair.scenario.loader import ScenarioError, load_scenario
from biopair.views import matrix

SCENARIOS = Path(__file__).parents[2] / "scenarios"
_NEEDED = ("libssl", "wolfssl", "tlslite-ng")
pytestmark = [pytest.mark.skipif(any(registry.missing(s) for s in _NEEDED),
                                 reason="needs libssl, libwolfssl and tlslite-ng"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]

HANDSHAKE = """title = "a handshake"
[client]
version = "1.3"
[server]
version = "1.3"
[[steps]]
run = ["client connect", "server accept"]
expect = { client = "WANT_READ+ 1", server = "WANT_READ+ 1" }
"""


def _file(tmp_path: Path, text: str = HANDSHAKE) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_every_pair_of_stacks_runs_and_reports_what_each_returned(tmp_path: Path) -> None:
    m = matrix.run_matrix(_file(tmp_path), ("pyopenssl", "libssl", "tlslite-ng"))
    assert [r.label for r in m.runs] == [
        f"{c}/{s}" for c in ("pyopenssl", "libssl", "tlslite-ng")
        for s in ("pyopenssl", "libssl", "tlslite-ng")]
    assert {r.status for r in m.runs} == {"pass"}
    for run in m.runs:
        # The sequences are the calls the run made, endpoint by endpoint.
        for role in ("client", "server"):
            calls = [c for c in run.calls if c["endpoint"] == role]
            assert len(run.outcomes[role]) == len(calls)
            assert run.outcomes[role][-1] == Outcome(1, "NONE")
    tlslite = next(r for r in m.runs if r.label == "tlslite-ng/tlslite-ng")
    assert {o.ret for o in tlslite.outcomes["client"][:-1]} == {None}, "tlslite-ng hides it"
    assert m.disagreements == 0, "a hidden WANT_READ takes the same turn as -1 WANT_READ"


def test_a_combination_the_capabilities_refuse_is_not_run_and_says_why() -> None:
    m = matrix.run_matrix(SCENARIOS / "libssl" / "handshake-want-write-bio-pair.toml",
                          ("pyopenssl", "libssl"))
    by = {r.label: r for r in m.runs}
    refused = by["pyopenssl/pyopenssl"]
    assert refused.status == "refused" and not refused.calls
    assert refused.reason.startswith("schedule.link: link = 'bio-pair' needs an endpoint")
    assert by["pyopenssl/libssl"].status == "pass"
    text = matrix.render(m)
    assert "refused schedule.link:" in text


def test_stacks_that_take_other_turns_are_marked() -> None:
    # tlslite-ng's server crashes under a 64-byte send cap; wolfSSL's loses a WANT_WRITE.
    m = matrix.run_matrix(SCENARIOS / "stacks" / "tlslite-server-capped-sends-crash-tls13.toml",
                          ("pyopenssl", "wolfssl", "tlslite-ng"))
    by = {r.label: r for r in m.runs}
    crashed = by["pyopenssl/tlslite-ng"]
    assert crashed.summary("server") == "SSL \"BlockingIOError(11, 'send buffer full')\""
    assert crashed.summary("client").endswith("DEADLOCK")
    assert not m.agrees(crashed, "server")
    assert m.agrees(by["pyopenssl/pyopenssl"], "server"), "a refused run is never marked"
    marked = [line for line in matrix.render(m).splitlines() if "! server" in line]
    assert any("BlockingIOError" in line for line in marked)


def test_a_wolfssl_client_and_a_tlslite_server_disagree_on_tls13_only(
        tmp_path: Path) -> None:
    # Measured: tlslite-ng 0.8.2 refuses the TLS 1.3-only ClientHello of wolfSSL 5.5.4
    # (a group it forbids in TLS 1.3 without TLS 1.2 advertised); every other pair agrees.
    m = matrix.run_matrix(_file(tmp_path), ("pyopenssl", "wolfssl", "tlslite-ng"))
    odd = [r for r in m.runs if not all(m.agrees(r, role) for role in ("client", "server"))]
    assert [r.label for r in odd] == ["wolfssl/tlslite-ng"]
    assert odd[0].status == "fail"
    assert "key exchange group forbidden in TLS 1.3" in odd[0].summary("server")


def test_the_table_fits_80_columns(tmp_path: Path) -> None:
    m = matrix.run_matrix(SCENARIOS / "libssl" / "handshake-want-write-bio-pair.toml",
                          ("pyopenssl", "libssl", "wolfssl", "tlslite-ng"))
    assert all(len(line) <= 80 for line in matrix.render(m).splitlines())


def test_shape_ignores_counts_reasons_and_hidden_returns() -> None:
    want, hidden_want = Outcome(-1, "WANT_READ"), Outcome(None, "WANT_READ")
    assert matrix.shape([want] * 3 + [Outcome(1, "NONE")]) == \
        matrix.shape([hidden_want, Outcome(1, "NONE")])
    assert matrix.shape([Outcome(-1, "SSL", ("a",))]) == matrix.shape([Outcome(-1, "SSL",
                                                                              ("b",))])
    assert matrix.shape([Outcome(-1, "SSL")]) != matrix.shape([Outcome(-1, "SYSCALL")])


def test_loading_with_stacks_validates_as_if_the_file_named_them(tmp_path: Path) -> None:
    path = _file(tmp_path, HANDSHAKE.replace('[[steps]]', '[schedule]\nsend_cap = 8\n'
                                             '[[steps]]'))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.key == "schedule.send_cap"
    loaded = load_scenario(path, {"server": "wolfssl"})
    assert (loaded.client.stack, loaded.server.stack, loaded.send_cap) == \
        ("pyopenssl", "wolfssl", 8)


@pytest.mark.parametrize(("stacks", "message"), [
    ("pyopenssl,nope", "--stacks: unknown stack 'nope' (known: pyopenssl, stdlib"),
    ("pyopenssl,,libssl", "--stacks: expected stack names separated by commas"),
    ("libssl,libssl", "--stacks: a stack is named twice"),
])
def test_a_bad_stack_list_is_one_line_and_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], stacks: str, message: str) -> None:
    assert main(["run", "--stacks", stacks, str(_file(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"biopair: {message}") and err.count("\n") == 1


def test_a_bad_file_is_one_error_not_one_per_combination(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _file(tmp_path, HANDSHAKE + "bogus = 1\n")
    assert main(["run", "--stacks", "pyopenssl,wolfssl", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bogus" in err


def test_json_matrix_and_diff_of_one_matrix(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")  # diff wraps to 80 columns: one line per heading
    capped = SCENARIOS / "stacks" / "tlslite-server-capped-sends-crash-tls13.toml"
    assert main(["run", "--stacks", "pyopenssl,wolfssl,tlslite-ng", "--json",
                 str(capped)]) == 1  # the file's expectations hold only with tlslite-ng
    doc = json.loads(capsys.readouterr().out)
    assert doc["stacks"] == ["pyopenssl", "wolfssl", "tlslite-ng"]
    runs = {f"{r['client']}/{r['server']}": r for r in doc["matrix"][0]["runs"]}
    assert runs["pyopenssl/pyopenssl"]["status"] == "refused"
    assert runs["pyopenssl/tlslite-ng"]["status"] == "pass"
    assert runs["pyopenssl/tlslite-ng"]["agrees"] == {"client": False, "server": False}
    saved = tmp_path / "m.json"
    saved.write_text(json.dumps(doc))
    assert main(["diff", str(saved)]) == 1
    out = capsys.readouterr().out
    assert f"== {capped} [pyopenssl/wolfssl vs pyopenssl/tlslite-ng]" in out
    assert "BlockingIOError" in out
    # Two matrices compare combination by combination: the same one is the same.
    assert main(["diff", str(saved), str(saved)]) == 1  # refused ones never count as equal
    out = capsys.readouterr().out
    assert f"== {capped} [pyopenssl/pyopenssl]  (A refused: schedule.send_cap:" in out
    assert f"{capped} [pyopenssl/tlslite-ng]" not in out


def test_diff_of_one_file_needs_a_matrix(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"scenarios": []}))
    assert main(["diff", str(path)]) == 2
    assert "must be a `biopair run --stacks ... --json` matrix" in capsys.readouterr().err
    path.write_text(json.dumps({"matrix": [{"file": "x", "runs": [{"client": 1}]}]}))
    assert main(["diff", str(path)]) == 2
    assert "matrix[1].runs[1] has no" in capsys.readouterr().err
