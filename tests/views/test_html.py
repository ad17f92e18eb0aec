"""The HTML view (``biopair run --html``): what the page draws is the run's trace, every
string from a scenario file is escaped, and the page needs no network."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from biopair import cli
from biopair.engine.trace import FaultEvent, HoldEvent, MessageEvent, RecordEvent
from biopair.scenario.conditions import choose
from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import Verdict, run_scenario
from biopair.views import html

ROOT = Path(__file__).resolve().parents[2]
#: A HelloRetryRequest and a hold: needs cryptography >= 50 (its ``groups``), so the tests
#: that draw it skip, with that reason, on the older bindings of the version matrix.
HRR_HOLD = ROOT / "scenarios/faults/hrr-hold-until-second-clienthello.toml"
#: A hold and its release on every binding: the tests of what any page shows use it.
TICKETS_HELD = ROOT / "scenarios/faults/tickets-held-until-application-data.toml"
BYTEWISE = ROOT / "scenarios/harness/bytewise-tls13.toml"
TAMPERED = ROOT / "scenarios/faults/tampered-application-data.toml"

#: Markup a hostile scenario file puts in every string the page shows.
HOSTILE = ('<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2">'
           "</style></svg><svg onload=\"window.pwned=3\">&amp; `<b>code</b>`")


def hostile_scenario(tmp_path: Path) -> Path:
    """A scenario whose title, about and tags carry markup."""
    path = tmp_path / "hostile.toml"
    quoted = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(f'title = "{quoted}"\nabout = "{quoted}"\ntags = ["{quoted}"]\n'
                    '[[steps]]\nhold = "server>client"\n'
                    'until = "client received 1 ClientHello"\n'
                    '[[steps]]\nrun = ["client connect", "server accept"]\n')
    return path


def _run(path: Path) -> Verdict:
    return run_scenario(load_scenario(path))


def runs_here(path: Path) -> Verdict:
    """The scenario's verdict, or a skip naming its unmet ``requires``."""
    verdict = _run(path)
    if verdict.skipped:
        pytest.skip(verdict.skipped)
    return verdict


@pytest.mark.parametrize("path", [HRR_HOLD, TICKETS_HELD], ids=lambda p: p.stem)
def test_the_page_draws_every_call_message_and_record_of_the_trace(path: Path) -> None:
    verdict = runs_here(path)
    page = html.render_page(verdict)
    events = verdict.trace.events
    assert page.count('class="block turn"') == len(verdict.trace.calls)
    assert page.count('<g class="message ') == sum(isinstance(e, MessageEvent)
                                                    for e in events)
    records = [e for e in events if isinstance(e, RecordEvent)]
    assert page.count('<g class="record') == len(records)
    for lane in ("client", "wire", "server"):
        assert f'data-lane="{lane}"' in page
    holds = [e for e in events if isinstance(e, HoldEvent)]
    assert holds and page.count('class="mark hold"') == len(holds)


def test_the_page_draws_a_hello_retry_request_and_its_hold() -> None:
    verdict = runs_here(HRR_HOLD)
    page = html.render_page(verdict)
    events = verdict.trace.events
    # sizes and names, from the trace's events, as the ladder writes them
    assert 'data-label="ClientHello 312 B"' in page
    assert 'data-name="HelloRetryRequest"' in page
    assert 'data-outcome="-1 WANT_READ"' in page
    # the hold and its release are marked
    assert page.count('class="mark hold"') == sum(isinstance(e, HoldEvent) for e in events)
    assert "HOLD server&gt;client until server received 2 ClientHello" in page


def test_a_want_read_is_tied_to_the_record_holding_its_next_byte() -> None:
    page = html.render_page(runs_here(TICKETS_HELD))
    # call #0 (client connect) has sent its ClientHello; the next byte it would read is the
    # ServerHello the server writes in call #1.  Its size is the key share's: X25519MLKEM768
    # from OpenSSL 3.5, X25519 before (measured on each release of the matrix).
    _, hello = choose({"openssl >= 3.5": "ServerHello 1,215 B",
                       "openssl >= 3.1 and openssl < 3.5": "ServerHello 127 B"})
    block = re.search(r'<g class="block turn"[^>]*data-seq="0"[^>]*>', page)
    assert block is not None
    waits = re.search(r'data-waits="([^"]+)"', block.group(0))
    assert waits is not None
    record = re.search(rf'<g class="record[^"]*" id="{waits.group(1)}"[^>]*>', page)
    assert record is not None and f'data-label="{hello}"' in record.group(0)
    assert f"next byte: {hello}, written by call #1" in page


def test_a_want_read_after_a_hello_retry_request_is_tied_to_the_serverhello() -> None:
    page = html.render_page(runs_here(HRR_HOLD))
    # call #2 (client connect) has all of the server's first flight; the next byte it
    # would read is the ServerHello the server writes in call #3.
    block = re.search(r'<g class="block turn"[^>]*data-seq="2"[^>]*>', page)
    assert block is not None
    waits = re.search(r'data-waits="([^"]+)"', block.group(0))
    assert waits is not None
    record = re.search(rf'<g class="record[^"]*" id="{waits.group(1)}"[^>]*>', page)
    assert record is not None and 'data-label="ServerHello 160 B"' in record.group(0)
    assert "next byte: ServerHello 160 B, written by call #3" in page


def test_faults_and_alerts_are_marked() -> None:
    verdict = _run(TAMPERED)
    page = html.render_page(verdict)
    faults = [e for e in verdict.trace.events if isinstance(e, FaultEvent)]
    assert faults and page.count('class="mark fault"') == len(faults)
    assert f"FAULT {faults[0].kind} on {html._esc(faults[0].direction)}" in page
    assert 'class="alert"' in page


def test_long_runs_of_identical_wants_are_folded_and_can_be_opened() -> None:
    verdict = _run(BYTEWISE)
    page = html.render_page(verdict)
    folds = re.findall(r'<g class="block collapsed"[^>]*data-run="(\d+)" data-count="(\d+)"',
                       page)
    assert folds
    for run, count in folds:
        drawn = page.count(f'data-in-run="{run}"')
        assert drawn == min(int(count), html.MAX_HIDDEN_DRAWN)
    # The counts follow the ClientHello's size, which each release of the matrix changes
    # (scenarios/harness/bytewise-tls13.toml); measured on each.
    _, expected = choose({
        "openssl >= 4.0": ("771 more times (calls #4-#1545)", "1,342 not drawn"),
        "openssl == 3.5": ("768 more times (calls #4-#1539)", "1,336 not drawn"),
        "openssl == 3.4": ("157 more times (calls #4-#317)", "114 not drawn"),
        "openssl == 3.2": ("156 more times (calls #4-#315)", "112 not drawn"),
        "openssl == 3.1": ("153 more times (calls #4-#309)", "106 not drawn")})
    assert isinstance(expected, tuple)
    more, hidden = expected
    assert more in page
    assert hidden in page
    # folded: far fewer visible blocks than calls, and the page stays small
    visible = len(re.findall(r'<g class="block (?:turn|between|collapsed)"', page))
    assert visible < len(verdict.trace.calls) / 10
    assert len(page) < 2_000_000


def test_a_turn_with_a_fault_or_hold_is_never_folded_away() -> None:
    from biopair.views.ladder import Turn

    a, b = Turn(None), Turn(None)
    b.after.append(HoldEvent("hold", "server>client", "server received 1 ClientHello"))
    assert a.key() == b.key()  # the ladder's key does not see holds
    assert html._key(a) != html._key(b)


def test_every_string_from_a_scenario_file_is_escaped(tmp_path: Path) -> None:
    verdict = _run(hostile_scenario(tmp_path))
    page = html.render_page(verdict)
    assert page.count("<script") == 1  # the page's own
    assert "<img" not in page and "onload=" not in page.replace("onload=&quot;", "")
    assert "<svg onload" not in page and "</style></svg>" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "&amp;amp;" in page  # an entity in the file is shown, not interpreted
    # backticks make <code>, but what is inside stays escaped
    assert "<code>&lt;b&gt;code&lt;/b&gt;</code>" in page


def test_the_page_needs_no_network_and_runs_only_its_own_script() -> None:
    page = html.render_page(runs_here(TICKETS_HELD))
    assert not re.search(r'(?:src|href)\s*=\s*"(?:https?:)?//', page)
    assert "<link" not in page and "@import" not in page
    assert set(re.findall(r"url\(([^)]*)\)", page)) <= {"#arrow", "#fat"}
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert csp is not None and "default-src &#x27;none&#x27;" in csp.group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert script is not None and style is not None
    for body in (script.group(1), style.group(1)):
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"sha256-{digest}" in html.CSP


def test_run_html_writes_the_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.html"
    assert cli.main(["run", "--no-golden", "--html", str(out), str(HRR_HOLD)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "After a HelloRetryRequest" in page


def test_run_html_draws_one_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.html"
    assert cli.main(["run", "--html", str(out), str(HRR_HOLD), str(TAMPERED)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--html draws one scenario file, and 2 were given" in err
    assert not out.exists()


def test_run_html_refuses_a_link_before_running(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep")
    out = tmp_path / "run.html"
    out.symlink_to(victim)
    assert cli.main(["run", "--html", str(out), str(HRR_HOLD)]) == 2
    captured = capsys.readouterr()
    assert "PASS" not in captured.out and "symbolic link" in captured.err
    assert victim.read_text() == "keep"


def test_run_html_and_pcap_may_not_name_one_file(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x")
    assert cli.main(["run", "--html", out, "--pcap", out, str(HRR_HOLD)]) == 2
    assert "name the same file" in capsys.readouterr().err
