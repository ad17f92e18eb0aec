"""Make docs/images/html-view.png: a screenshot of the real HTML view, through Playwright.

    python docs/images/make_html_view.py [SCENARIO] [OUT.png]

Drives Debian's chromium (``apt-get install chromium``; never ``playwright install``):
renders the scenario's page with ``biopair.views.html``, opens it, steps to the first
turn with the arrow key (so the detail line and the WANT's tie show) and photographs the
top of the page.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from biopair.scenario.loader import load_scenario
from biopair.scenario.runner import run_scenario
from biopair.views import html

ROOT = Path(__file__).resolve().parent.parent.parent
SCENARIO = Path("scenarios/faults/hrr-hold-until-second-clienthello.toml")
OUT = ROOT / "docs/images/html-view.png"


def main(scenario: Path = SCENARIO, out: Path = OUT) -> None:
    """Render ``scenario``'s page and write its screenshot to ``out``."""
    os.chdir(ROOT)  # the page names the scenario by its path in the repository
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "page.html"
        html.write_page(page_file, run_scenario(load_scenario(scenario)))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                        headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1080, "height": 1000})
            page.goto(page_file.as_uri())
            page.wait_for_selector("body[data-ready]")
            page.keyboard.press("ArrowDown")
            page.evaluate("window.scrollTo(0, 0)")
            png = page.screenshot(clip={"x": 0, "y": 0, "width": 1080, "height": 1000})
            browser.close()
    out.write_bytes(png)
    print(f"wrote {out} ({len(png):,} bytes)")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:3]))
