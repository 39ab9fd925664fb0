"""The live page in a real browser: Debian's headless Chromium driven by Playwright (its own browser
builds are never downloaded), against a real loopback server over the warm 200-stock day."""

import os
import shutil
import time

import pandas as pd
import pytest

from technic_assets.live.engine import LiveEngine
from technic_assets.live.server import create_app
from technic_assets_tests.conftest import needs_service
from technic_assets_tests.live_server import running

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        needs_service(f"the browser test needs Chromium at {CHROMIUM} (Debian: apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        needs_service("the browser test needs Playwright for Python (pip install playwright; the dev extra has it)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


def table(page) -> list[list[str]]:
    return page.eval_on_selector_all("#ranked tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")


def test_the_page_ranks_screens_streams_and_explains(browser, warm_template):
    engine = LiveEngine.load(warm_template)
    stored_top = engine.screen().top
    with running(create_app(engine, mode="off")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/")
        page.wait_for_selector("#connection.on", timeout=15_000)  # the stream is open
        assert page.inner_text("#connection") == "stored day, no live feed"  # TECHNIC_LIVE=off: no feed runs

        # reads the table: the stored top N, in order
        rows = table(page)
        assert [r[1] for r in rows] == stored_top["symbol"].tolist()
        # the alpha forecast is a z-score (in deviations), labelled so: never a % return
        assert page.inner_text("#ranked thead th:nth-child(7)") == "α 5d (z)"
        assert [r[6] for r in rows] == [f"{v:+.2f}" for v in stored_top["alpha_5d"]]
        assert page.inner_text("#version") == "1"

        # a screen control changes the table: one sector only
        sector = "Energy" if (engine.screen().scored["sector"] == "Energy").sum() >= 3 else stored_top["sector"].iloc[0]
        page.check(f"#sectors input[value='{sector}']")
        page.wait_for_function("s => [...document.querySelectorAll('#ranked tbody tr')].every("
                               "r => r.cells[3].textContent === s)", arg=sector, timeout=15_000)
        screened = table(page)
        assert screened != rows and {r[3] for r in screened} == {sector}

        # a streamed version arrives: the last of the sector's list jumps to the top
        riser = screened[-1][1]
        live = engine.stored.indicators.assign(date=engine.day)
        up = live["symbol"] == riser
        live.loc[up, ["roc_21", "roc_63", "roc_126"]] += 300.0
        live.loc[up, "ret_12_1"] += 3.0
        engine.rescan(live, as_of=pd.Timestamp.now(tz="UTC"), source="replay")
        page.wait_for_function("() => document.body.dataset.version === '2'", timeout=15_000)
        updated = table(page)
        assert page.inner_text("#source") == "replay"
        assert [r[1] for r in updated].index(riser) < len(screened) - 1

        # a setting the server refuses is shown, naming it, and the table stays
        page.fill("input[name=max_price]", "1")
        page.dispatch_event("input[name=max_price]", "change")
        page.wait_for_function("() => document.querySelector('#form-error').textContent.includes('max_price')",
                               timeout=15_000)
        assert table(page) == updated
        page.fill("input[name=max_price]", "")
        page.dispatch_event("input[name=max_price]", "change")
        page.wait_for_function("() => document.querySelector('#form-error').textContent === ''", timeout=15_000)

        # a symbol's detail: the chart with its averages and bands, and the reasons
        page.click(f"#ranked tbody tr[data-symbol='{riser}']")
        page.wait_for_selector("#chart path.sma50", timeout=15_000)
        assert page.inner_text("#detail-title").startswith(riser)
        assert "rank" in page.inner_text("#detail-verdict") and "momentum" in page.inner_text("#detail-body")
        assert "forecast z-scores: 5d " in page.inner_text("#detail-body") and "%" not in page.inner_text("#detail-body")
        assert page.locator("#chart path.sma200").count() == 1 and page.locator("#chart path.bb").count() == 2
        assert page.locator("#chart rect.candle").count() > 100
        assert not errors, errors


def test_a_value_refused_while_a_screen_is_in_flight_leaves_the_stream_on_the_accepted_screen(browser, warm_template):
    """A valid change whose screen is still on its way, then a refused one: the refusal is shown on its
    field, and when the valid screen arrives the stream reopens with it (not with the refused value),
    so new versions keep coming."""
    engine = LiveEngine.load(warm_template)
    with running(create_app(engine, mode="off")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/")
        page.wait_for_selector("#connection.on", timeout=15_000)
        held = []  # the first screen request, kept in flight until released

        def hold_first(route):
            if held:
                route.continue_()
            else:
                held.append(route)

        page.route("**/api/screen?*", hold_first)
        page.select_option("select[name=style]", "swing")  # a valid change: its screen is held
        deadline = time.monotonic() + 15
        while not held:  # Playwright hands the route over while the page is waited on
            assert time.monotonic() < deadline, "the page asked for no screen after a change"
            page.wait_for_timeout(20)
        page.fill("input[name=max_price]", "1")  # below the minimum price: refused
        page.dispatch_event("input[name=max_price]", "change")
        page.wait_for_function("() => document.querySelector('#form-error').textContent.includes('max_price')",
                               timeout=15_000)
        assert page.get_attribute("input[name=max_price]", "aria-invalid") == "true"
        held[0].continue_()  # the valid screen arrives after the refusal
        page.wait_for_function("() => document.querySelector('#summary').textContent.includes('(swing)')",
                               timeout=15_000)
        version = int(page.evaluate("() => document.body.dataset.version"))

        # a new version reaches the page: only the reopened stream can bring it
        engine.rescan(engine.stored.indicators.assign(date=engine.day), as_of=pd.Timestamp.now(tz="UTC"),
                      source="replay")
        page.wait_for_function("v => document.body.dataset.version === String(v)", arg=version + 1, timeout=15_000)
        page.wait_for_selector("#connection.on", timeout=15_000)
        assert "(swing)" in page.inner_text("#summary")  # the stream's screen is the accepted one
        assert "max_price" in page.inner_text("#form-error")  # the refusal still stands on its field
        assert page.get_attribute("input[name=max_price]", "aria-invalid") == "true"
        assert not errors, errors
