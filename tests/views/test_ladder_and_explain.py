"""The ladder view and explain mode, on real runs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from biopair import cli, load_scenario, run_scenario
from biopair.engine.pair import Pair
from biopair.views.explain import explain
from biopair.views.ladder import render_ladder, use_colour
from biopair.views.pcap import pcapng_bytes

SHIPPED = sorted(Path(__file__).parents[2].joinpath("scenarios").rglob("*.toml"))
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_want_read_names_the_bytes_that_were_missing() -> None:
    # The ClientHello's size depends on the release (1,550 B with OpenSSL 4.0's
    # X25519MLKEM768 share, ~320 B before 3.5): measure it, then deliver a third of it.
    with Pair() as pair:
        pair.handshake()
        hello = pair.trace.calls[0].sent
    part = hello // 3
    with Pair(deliver=[part]) as pair:
        pair.handshake()
        ladder = render_ladder(pair.trace)
    assert f"= -1 WANT_READ: has {part:,} of {hello:,} B of the ClientHello record" in ladder
    assert "= -1 WANT_READ: has nothing from the server yet" in ladder


def test_bytewise_ladder_collapses_repeated_turns_and_fits_80_columns() -> None:
    with Pair(deliver="bytewise") as pair:
        pair.handshake()
        ladder = render_ladder(pair.trace)
        full = render_ladder(pair.trace, full=True)
    assert len(pair.trace.calls) > 1000  # 3631 on OpenSSL 4.0, 1305 on 3.1
    assert len(ladder.splitlines()) < 300 < len(full.splitlines())
    assert "more times (calls #4-#" in ladder
    assert max(len(line) for line in ladder.splitlines()) <= 79
    assert "\x1b[" not in ladder


def test_colour_only_on_a_tty_and_never_with_no_color() -> None:
    assert use_colour(True, {}) and not use_colour(False, {})
    assert not use_colour(True, {"NO_COLOR": "1"})
    with Pair() as pair:
        pair.handshake()
        coloured = render_ladder(pair.trace, colour=True)
    assert "\x1b[" in coloured
    assert _ANSI.sub("", coloured) == render_ladder(pair.trace)


def test_explain_summarises_long_runs_and_quotes_about(tmp_path: Path) -> None:
    path = tmp_path / "bytewise.toml"
    path.write_text('title = "t"\nabout = "Byte by byte, as rustls tests it."\n'
                    '[schedule]\ndeliver = "bytewise"\n'
                    '[[steps]]\nrun = ["client connect", "server accept"]\n')
    verdict = run_scenario(load_scenario(path))
    text = explain(verdict)
    assert len(verdict.trace.calls) > 1000 and len(text.splitlines()) < 300
    assert "  > Byte by byte, as rustls tests it." in text
    assert "the BIO could not supply the bytes" in text
    assert "retry the same call after more bytes arrive" in text
    assert re.search(r"and the same again [\d,]+ more times", text)
    assert max(len(line) for line in text.splitlines()[1:]) <= 79  # line 1: the path


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_renders(path: Path) -> None:
    verdict = run_scenario(load_scenario(path))
    if verdict.skipped:
        pytest.skip(verdict.skipped)
    ladder = render_ladder(verdict.trace)
    assert max(len(line) for line in ladder.splitlines()) <= 79
    assert f"#{len(verdict.trace.calls) - 1}" in ladder or "more times" in ladder
    assert "Call #0" in explain(verdict)
    assert pcapng_bytes([(path.stem, verdict.trace)])[:4] == b"\x0a\x0d\x0d\x0a"


def test_cli_trace_and_explain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A copy without its golden trace: this is about the views, and the golden records
    # only the newest stack (the version matrix runs this test on older ones too).
    path = str(tmp_path / SHIPPED[0].name)
    shutil.copy(SHIPPED[0], path)
    assert cli.main(["run", "--trace", path]) == 0
    out = capsys.readouterr().out
    assert "client" in out and "wire" in out and "WANT_READ" in out and "PASS" in out
    assert cli.main(["explain", path]) == 0
    assert "SSL_ERROR_WANT_READ" in capsys.readouterr().out
    assert cli.main(["explain", "no/such.toml"]) == 2


# -- issue 16: the learner's view --------------------------------------------------------

BIG_READ = """
title = "a 16 KB read"
[[steps]]
run = ["client connect", "server accept"]
[[steps]]
call = "server write 16384"
[[steps]]
move = "server>client"
[[steps]]
call = "client read 16384"
"""


def test_explain_shows_a_payload_as_its_length_and_ends(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text(BIG_READ)
    text = explain(run_scenario(load_scenario(tmp_path / "big.toml")))
    # Once about 210 lines of "abcdefghij..."; now one sentence with the length.
    assert "return 16,384 bytes b'abcdefghijkl'...b'" in text
    assert "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz" not in text
    assert len(text.splitlines()) < 80


def test_explain_words_want_write_without_contradicting_itself() -> None:
    verdict = run_scenario(load_scenario(Path(__file__).parents[2] / "scenarios" /
                                         "libssl" / "write-16k-into-4k-pair.toml"))
    if verdict.skipped:
        pytest.skip(verdict.skipped)
    text = " ".join(explain(verdict).split())
    assert "it the link" not in text
    assert "waiting for the link: the link to the peer is full" in text
    # A call that put bytes on the wire made progress, whatever it returned.
    assert not re.search(r"bytes on the wire to the peer\.[^.]*It makes no progress", text)


def test_explain_never_splits_a_message_and_its_size(tmp_path: Path) -> None:
    (tmp_path / "big.toml").write_text(BIG_READ)
    text = explain(run_scenario(load_scenario(tmp_path / "big.toml")), width=50)
    assert not re.search(r"\(\d[\d,]*$", text, re.M)  # "ClientHello (208" / "B)"
    # (the first line is the temporary path, one word longer than the line)
    assert max(len(line) for line in text.splitlines()[1:]) <= 50


def test_explain_follows_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "big.toml").write_text(BIG_READ)
    monkeypatch.setenv("COLUMNS", "60")
    assert cli.main(["explain", str(tmp_path / "big.toml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines[1:]) <= 59


def test_the_ladder_strands_no_single_word_and_follows_the_width() -> None:
    from biopair.views.ladder import balanced

    text = "= -1 WANT_READ: has all 1,550 B sent by the client; nothing more in flight"
    lines = balanced(text, 73)
    assert len(lines) == 2 and len(lines[-1].split()) > 1
    with Pair() as pair:
        pair.handshake()
        narrow = render_ladder(pair.trace, width=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60


# -- moved from test_explain_order.py (same subject) --

ROOT = Path(__file__).resolve().parents[2]


def test_a_fault_armed_before_the_first_call_is_told_before_it() -> None:
    path = ROOT / "scenarios" / "faults" / "close-notify-before-server-flight.toml"
    text = explain(run_scenario(load_scenario(path)))
    assert text.index("Step 1: inject server>client") < text.index("Call #0:")
    # The client's SSL_do_handshake returns -1 here (not the 0 of an SSL_read): the
    # narrative must quote the real return value.
    assert "returned -1 and SSL_get_error() said SSL_ERROR_ZERO_RETURN" in \
        " ".join(text.split())
    assert "has nothing yet; the next record (alert warning close_notify, 7 B)" in \
        " ".join(text.split())


def test_about_is_rewrapped_as_paragraphs() -> None:
    # A file's about text is wrapped at about 90 columns: explain joins each paragraph's
    # lines before wrapping to its width, so no line breaks mid-sentence after a few words.
    from biopair.views.explain import _paragraphs

    text = "one two\nthree four\n\n- a list item\n- another\n  indented\nlast"
    assert _paragraphs(text) == ["one two three four", "", "- a list item", "- another",
                                 "indented last"]
