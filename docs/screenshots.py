"""The README's screenshots of the page, taken in Debian's Chromium (Playwright drives it; its own browser
builds are never downloaded) from a running `technic serve`:

    ./dev technic scan --date 2025-06-02 && ... (a few days, so the track record has evenings)
    ./dev technic serve &
    ./dev python docs/screenshots.py [--url http://127.0.0.1:8000] [--out docs]

Writes page-wide.png (1920 x 1080, a symbol's detail beside the table), page-laptop.png (1280 x 800, the
form and the table, every column whole) and page-track-record.png (the track-record panel of the screen on view).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
ROWS = "#ranked tbody tr"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", default=str(Path(__file__).parent))
    args = parser.parse_args()
    out = Path(args.out)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, width, height in (("page-wide", 1920, 1080), ("page-laptop", 1280, 800)):
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(args.url)
                page.wait_for_selector(ROWS)
                if name == "page-wide":  # the second pick's detail and its candles beside the table
                    page.click(f"{ROWS}:nth-child(2)")
                    page.wait_for_selector("#detail canvas")
                    page.wait_for_timeout(1000)  # the chart's first paint
                page.screenshot(path=str(out / f"{name}.png"))  # the laptop's: the form and the whole table
                if name == "page-wide":
                    page.wait_for_function("() => document.querySelector('#track-status').dataset.state === 'done'",
                                           timeout=600_000)
                    page.locator("#track").screenshot(path=str(out / "page-track-record.png"))
                page.close()
        finally:
            browser.close()


if __name__ == "__main__":
    main()
