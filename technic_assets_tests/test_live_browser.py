"""The live page in a real browser: Debian's headless Chromium driven by Playwright (its own browser
builds are never downloaded), against a real loopback server over the warm 200-stock day."""

import json
import os
import shutil
import time

import pandas as pd
import pytest

from technic_assets.live.engine import LiveEngine
from technic_assets.live.server import create_app
from technic_assets.storage import History
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
        assert page.inner_text("#ranked thead th:nth-child(8)") == "α 5d (z)"
        assert [r[7] for r in rows] == [f"{v:+.2f}" for v in stored_top["alpha_5d"]]
        # MERIT's percentile of the day beside it, which tells apart picks whose MERIT all round to 99
        assert page.inner_text("#ranked thead th:nth-child(6)") == "Pctl"
        assert [r[5] for r in rows] == [f"{v:.2f}" for v in stored_top["merit_pct"]]
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

        # a symbol's detail: the chart library's chart of its window, and the reasons
        page.click(f"#ranked tbody tr[data-symbol='{riser}']")
        page.wait_for_function("s => document.querySelector('#detail').dataset.symbol === s && "
                               "document.querySelector('#chart').dataset.candles !== undefined", arg=riser, timeout=15_000)
        assert page.inner_text("#detail-title").startswith(riser)
        assert "rank" in page.inner_text("#detail-verdict") and "momentum" in page.inner_text("#detail-body")
        assert "forecast z-scores: 5d " in page.inner_text("#detail-body") and "%" not in page.inner_text("#detail-body")
        assert page.locator("#chart .tv-lightweight-charts canvas").count() >= 2  # Lightweight Charts draws on canvases
        window = engine.bars(riser)  # the symbol's stored bars in the window, one candle each
        assert int(page.get_attribute("#chart", "data-candles")) == len(window) > 100
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


def cells(page, measure: str) -> dict[str, str]:
    """The track-record table's cells of one measure, by book."""
    return page.eval_on_selector_all(f"#track-measures td[data-measure='{measure}']",
                                     "tds => Object.fromEntries(tds.map(td => [td.dataset.book, td.textContent]))")


def percent(v: float) -> str:
    return f"{100 * v:+.1f}%"


def test_the_desk_searches_any_symbol_sorts_picks_screens_and_shows_the_track_record(
        browser, scanned_week, monkeypatch, capsys):
    """On the week's last evening, over the built-in market: the simulated banner, the track record of
    the screen on view (the figures `technic backtest --format json` gives for the same store), sorting,
    keyboard navigation, a symbol below the top N and one the filter drops opened by the search box,
    the layout at a laptop's and a monitor's width, and a saved screen picked (its record re-screened)."""
    from technic_assets.cli import main
    from technic_assets.config import ScanSettings

    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(scanned_week))
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")  # as the week was scanned
    engine = LiveEngine.load(scanned_week)
    scored = engine.screen().scored
    sector = scored["sector"][scored["sector"] != "Unknown"].value_counts().index[0]
    saved = {"focus": ScanSettings(sectors=[sector], top_n=8)}

    def backtest(*argv) -> dict:
        capsys.readouterr()
        assert main(["backtest", "--format", "json", *argv]) == 0
        return json.loads(capsys.readouterr().out)

    stored_record = backtest()
    focus_record = backtest("--sector", sector, "--top", "8")
    merit = History(str(scanned_week)).read_dates("merit", [engine.day])
    merit = merit[merit["screen"].fillna("default") == "default"].sort_values(["merit_score", "symbol"],
                                                                                ascending=[False, True])
    top = History(str(scanned_week)).read_dates("ranked_top_n", [engine.day]).sort_values("rank")
    below = merit["symbol"].iloc[len(top) + 5]  # ranked, but not in the table's top N

    with running(create_app(engine, mode="off", screens=saved)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url + "/")
        page.wait_for_selector("#connection.on", timeout=15_000)

        # the built-in market is said to be simulated
        page.wait_for_selector("#simulated-banner", state="visible", timeout=15_000)
        assert "Simulated market" in page.inner_text("#simulated-banner") and page.inner_text("#market") == "simulated"

        # the track record of the screen on view: technic backtest's figures, as % where they are returns
        page.wait_for_selector("#track-status[data-state=done]", state="attached", timeout=120_000)
        books = stored_record["portfolios"]
        assert cells(page, "ann_return") == {b: percent(books[b]["ann_return"]) for b in cells(page, "ann_return")}
        assert cells(page, "ann_return")["top_n"] == percent(books["top_n"]["ann_return"])
        assert cells(page, "sharpe")["top_n"] == f"{books['top_n']['sharpe']:.2f}"
        assert cells(page, "max_drawdown")["universe"] == f"{100 * books['universe']['max_drawdown']:.1f}%"
        assert cells(page, "turnover")["top_n"] == f"{100 * books['top_n']['turnover']:.1f}%"
        assert f"Newey-West t {stored_record['rank_ic']['t_nw']:.2f}" in page.inner_text("#track-signal")
        year = next(r for r in stored_record["by_year"] if r["portfolio"] == "top_n")
        shown = page.inner_text(f"#track-years td[data-book='top_n'][data-year='{year['year']}']")
        assert shown == percent(year["total_return"])
        assert "of the screen default" in page.inner_text("#track-of")
        assert page.locator("#track-chart .tv-lightweight-charts canvas").count() >= 2
        assert int(page.get_attribute("#track-chart", "data-points")) == stored_record["days"] + 1

        # sorting by a column, both ways
        page.click("#ranked thead th[data-key='close']")
        closes = top.sort_values(["close", "rank"], ascending=[False, True])
        assert [r[1] for r in table(page)] == closes["symbol"].tolist()
        page.click("#ranked thead th[data-key='close']")
        assert [r[1] for r in table(page)] == top.sort_values(["close", "rank"])["symbol"].tolist()
        assert page.get_attribute("#ranked thead th[data-key='close']", "aria-sort") == "ascending"
        page.click("#ranked thead th[data-key='rank']")
        assert [r[1] for r in table(page)] == top["symbol"].tolist()

        # the column chooser: a column off and on again
        page.click("#column-chooser summary")
        page.uncheck("#column-list input[value='rsi_14']")
        assert page.locator("#ranked thead th[data-key='rsi_14']").count() == 0
        assert all(len(r) == len(table(page)[0]) for r in table(page))
        page.check("#column-list input[value='rsi_14']")
        page.click("#column-chooser summary")
        assert page.locator("#ranked thead th[data-key='rsi_14']").count() == 1

        # keyboard: j opens the first row, j the second, k the first again
        page.click("#summary")  # the page, not a field, has the focus
        for key, want in (("j", 0), ("j", 1), ("ArrowDown", 2), ("k", 1)):
            page.keyboard.press(key)
            page.wait_for_function("s => document.querySelector('#detail').dataset.symbol === s",
                                   arg=top["symbol"].iloc[want], timeout=15_000)
        page.wait_for_selector("#chart .tv-lightweight-charts canvas", timeout=15_000)
        # with the detail open no column is cut off: on a laptop the detail sits below the table
        assert page.evaluate("() => { const w = document.querySelector('#table-wrap'); "
                             "return w.scrollWidth <= w.clientWidth; }")
        page.set_viewport_size({"width": 1920, "height": 1000})  # a monitor: side by side, still whole
        assert page.evaluate("() => { const w = document.querySelector('#table-wrap'); "
                             "return w.scrollWidth <= w.clientWidth; }")
        table_box, detail_box = page.locator("#table-wrap").bounding_box(), page.locator("#detail").bounding_box()
        assert detail_box["x"] >= table_box["x"] + table_box["width"]
        page.keyboard.press("Escape")
        assert page.is_hidden("#detail")

        # the search box opens any symbol: one ranked below the top N, with its rank
        page.fill("#search-symbol", below.lower())
        page.press("#search-symbol", "Enter")
        page.wait_for_function("s => document.querySelector('#detail').dataset.symbol === s", arg=below,
                               timeout=15_000)
        assert page.inner_text("#detail-verdict").startswith(f"rank {len(top) + 6} (below the table's top N)")
        # and one the filter drops: the rule and its number against the bound
        page.fill("#search-symbol", "SPY")
        page.press("#search-symbol", "Enter")
        page.wait_for_function("() => document.querySelector('#detail').dataset.symbol === 'SPY'", timeout=15_000)
        assert page.inner_text("#detail-verdict") == ("not ranked: dropped by etf: an ETF, and ETFs are left out "
                                                      "(include_etfs off)")
        page.fill("#search-symbol", "NOPE")
        page.press("#search-symbol", "Enter")
        page.wait_for_function("() => document.querySelector('#search-error').textContent.includes('not listed')",
                               timeout=15_000)

        # a saved screen picked: its table, and its track record re-screened over the stored evenings
        page.select_option("#screen-picker", "focus")
        page.wait_for_function("s => { const rows = [...document.querySelectorAll('#ranked tbody tr')]; "
                               "return rows.length > 0 && rows.length <= 8 && "
                               "rows.every(r => r.cells[3].textContent === s); }",
                               arg=sector, timeout=15_000)
        page.wait_for_function("() => document.querySelector('#track-of').textContent.includes('saved screen focus')",
                               timeout=120_000)
        page.wait_for_selector("#track-status[data-state=done]", state="attached", timeout=120_000)
        focus = focus_record["portfolios"]
        assert cells(page, "ann_return")["top_n"] == percent(focus["top_n"]["ann_return"])
        assert cells(page, "excess_vs_universe")["top_n"] == percent(focus["top_n"]["excess_vs_universe"])
        assert not errors, errors
