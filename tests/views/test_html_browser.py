"""The HTML view in a real browser: Debian's chromium, headless, driven by Playwright.

The page is opened from a file, its diagram read back from the DOM (lanes, call boxes,
record labels), stepped through with the keyboard, a folded run opened with Enter, and a
screenshot taken that must not be blank.  Playwright's own browser download is never
used: the test drives ``/usr/bin/chromium`` (``apt-get install chromium``).  Where chromium
or Playwright is missing the tests are skipped naming what to install; in CI (CI=true),
which installs both, a missing one is an error.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biopair.views import html
from tests.views.test_html import HRR_HOLD, ROOT, TICKETS_HELD, hostile_scenario, runs_here

#: 50 calls, most of them one repeated WANT_READ: folded into a few blocks.
LIMIT = ROOT / "scenarios/harness/limit.toml"

CHROMIUM = os.environ.get("BIOPAIR_CHROMIUM", "/usr/bin/chromium")
IN_CI = os.environ.get("CI") == "true"


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return (f"chromium is not installed at {CHROMIUM} (Debian package: "
                "apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing is not None:
        if IN_CI:
            pytest.fail(f"CI installs it: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1080, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    requests: list[str] = []
    pg.on("request", lambda req: requests.append(req.url))
    pg.biopair_errors = errors
    pg.biopair_requests = requests
    yield pg
    context.close()


def _open(pg: Any, tmp_path: Path, scenario: Path, name: str = "page.html") -> Path:
    out = tmp_path / name
    # a scenario whose requires this binding does not meet is skipped, saying which
    html.write_page(out, runs_here(scenario))
    pg.goto(out.as_uri())
    pg.wait_for_selector("body[data-ready]", timeout=3000)
    return out


def _variance(pg: Any, png: bytes) -> float:
    # The screenshot decoded by the browser itself (a canvas on a blank page): the
    # variance of its luminance over every pixel.
    pg.goto("about:blank")
    return float(pg.evaluate("""async (data) => {
        const img = new Image();
        img.src = "data:image/png;base64," + data;
        await img.decode();
        const c = document.createElement("canvas");
        c.width = img.width; c.height = img.height;
        const ctx = c.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        let sum = 0, sq = 0, count = d.length / 4;
        for (let i = 0; i < d.length; i += 4) {
            const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
            sum += y; sq += y * y;
        }
        const mean = sum / count;
        return sq / count - mean * mean;
    }""", base64.b64encode(png).decode()))


def test_the_diagram_has_its_lanes_boxes_and_labels(page: Any, tmp_path: Path) -> None:
    _open(page, tmp_path, HRR_HOLD)
    lanes = page.eval_on_selector_all(
        "#diagram .lane", "els => els.map(e => [e.dataset.lane, e.textContent])")
    assert [lane for lane, _ in lanes] == ["client", "wire", "server"]
    assert lanes[1][1] == "wire (memory link)"
    turns = page.eval_on_selector_all(
        "#diagram .block.turn", "els => els.map(e => e.dataset.seq + ' ' + e.dataset.op)")
    assert turns == ["0 connect", "1 accept", "2 connect", "3 accept", "4 connect",
                     "5 accept"]
    records = page.eval_on_selector_all("#diagram .record", "els => els.map(e => "
                                        "e.dataset.label)")
    assert records[:3] == ["ClientHello 312 B", "HelloRetryRequest 93 B",
                           "ChangeCipherSpec 6 B"]
    # every box is really drawn: a visible, non-empty rectangle
    boxes = page.eval_on_selector_all(
        "#diagram .block.turn > rect.box",
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return r.width * r.height; })")
    assert len(boxes) == 6 and min(boxes) > 1000
    holds = page.eval_on_selector_all("#diagram .marker.hold", "els => els.map(e => "
                                      "e.dataset.text)")
    assert holds[0].startswith("HOLD server>client until server received 2")
    assert holds[-1].startswith("RELEASED server>client")
    assert page.biopair_errors == []
    assert all(url.startswith("file:") for url in page.biopair_requests)


def test_the_arrow_keys_step_through_the_run(page: Any, tmp_path: Path) -> None:
    _open(page, tmp_path, HRR_HOLD)
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    current = page.locator("#diagram .block.current")
    assert current.count() == 1
    # block 0: call #0, 1: call #1, 2: call #2 (moves are inside their call's turn)
    assert current.get_attribute("data-seq") == "2"
    detail = page.inner_text("#detail")
    assert detail.startswith("#2 client connect = -1 WANT_READ")
    assert "next byte: ServerHello 160 B" in detail
    # the WANT is tied to the ServerHello record it waits for
    assert page.locator("#ties path").count() == 1
    assert page.locator(".record.awaited").get_attribute("data-label") == "ServerHello 160 B"
    page.keyboard.press("ArrowUp")
    assert page.locator("#diagram .block.current").get_attribute("data-seq") == "1"
    page.keyboard.press("End")
    assert page.inner_text("#status") == "step 6 of 6"
    page.keyboard.press("Home")
    assert page.locator("#diagram .block.current").get_attribute("data-seq") == "0"


def test_enter_opens_a_folded_run(page: Any, tmp_path: Path) -> None:
    _open(page, tmp_path, LIMIT)
    height = float(page.get_attribute("#diagram", "height"))
    hidden = page.locator("#diagram .block.folded.hidden").count()
    assert hidden > 0
    # step down to the first fold, then open it
    for _ in range(10):
        page.keyboard.press("ArrowDown")
        if page.locator("#diagram .block.current.collapsed").count():
            break
    fold = page.locator("#diagram .block.current.collapsed")
    assert fold.count() == 1
    page.keyboard.press("Enter")
    assert fold.get_attribute("aria-expanded") == "true"
    opened = int(fold.get_attribute("data-count") or 0)
    assert page.locator("#diagram .block.folded.hidden").count() == hidden - min(
        opened, html.MAX_HIDDEN_DRAWN)
    assert float(page.get_attribute("#diagram", "height")) > height
    page.keyboard.press("ArrowDown")  # the first turn of the opened run
    assert page.locator("#diagram .block.current.folded").count() == 1


def test_a_hostile_scenario_runs_no_script(page: Any, tmp_path: Path) -> None:
    _open(page, tmp_path, hostile_scenario(tmp_path))
    assert page.evaluate("window.pwned") is None
    assert page.locator("img").count() == 0
    assert "<script>window.pwned=1</script>" in page.inner_text("h1")
    assert "<img src=x" in page.inner_text(".about")


def test_a_screenshot_of_the_page_is_not_blank(page: Any, tmp_path: Path) -> None:
    _open(page, tmp_path, TICKETS_HELD)
    page.keyboard.press("ArrowDown")
    png = page.screenshot(full_page=False)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # A blank (single-colour) page has variance 0; the diagram's text, lanes and boxes
    # on a light background give well over 100.
    assert _variance(page, png) > 100
