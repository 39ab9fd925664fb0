"""The Dagster UI in a real browser (Debian's Chromium, Playwright): a materialization's charts and tables
as a person sees them on the asset's page (issue 23). `dagster-webserver` over an instance where
ranked_top_n was materialized for the warm day (a track record needs more evenings than the warm store
has: its text chart is checked in test_backtest and test_ui_metadata)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance, materialize

from technic_assets_tests.conftest import WARM_DAY
from technic_assets_tests.live_server import free_port
from technic_assets_tests.test_live_browser import browser  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
SHOTS = os.environ.get("UI_TEST_SHOTS", "")  # a folder for screenshots, when set (not TECHNIC_*: conftest clears those)


@pytest.fixture
def dagster_ui(warm_store, tmp_path, monkeypatch):
    from technic_assets_tests.graph import ASSETS, resources

    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:  # the upstream tables read from the warm store
        assert materialize(ASSETS, selection=["ranked_top_n"], partition_key=WARM_DAY,
                           resources=resources(200), instance=instance).success
    port = free_port()
    web = str(Path(sys.executable).with_name("dagster-webserver"))
    proc = subprocess.Popen([web, "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)], cwd=ROOT,
                            env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, "dagster-webserver exited"
            assert time.monotonic() < deadline, "dagster-webserver did not answer within 180 s"
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        yield base
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=60)


def shot(page, name):
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def test_the_charts_are_in_place_or_one_click_away_and_the_tables_rounded(browser, dagster_ui):  # noqa: F811
    page = browser.new_page(viewport={"width": 1500, "height": 1000})
    # the UI's first-visit invitation to its community covers the page: skipped whenever it shows
    page.add_locator_handler(page.get_by_role("button", name="Skip"), lambda skip: skip.click())
    page.goto(f"{dagster_ui}/assets/ranked_top_n?view=events", timeout=120_000)
    try:
        page.wait_for_selector("text=sector_bars", timeout=120_000)
        # the sector mix in text is rendered where it stands: its bars are on the page, no click
        bars = page.locator("td:has(> div table) >> text=/░|█/").first
        bars.wait_for(state="visible", timeout=30_000)
        bars.scroll_into_view_if_needed()
        shot(page, "ranked_top_n")
        # the tables' numbers are rounded: 2 decimals, or 4 significant digits (0.002885); never 14
        cells = page.eval_on_selector_all("table td", "cells => cells.map(c => c.textContent.trim())")
        numbers = [c for c in cells if re.fullmatch(r"-?\d+\.\d+", c)]
        assert len(numbers) > 25  # the top N's scores are there
        long = [c for c in numbers if len(c.split(".")[1]) > 2 and len(re.sub(r"\D", "", c).lstrip("0")) > 4]
        assert not long, long
        # an SVG chart: one click on its link, then the image is drawn
        page.locator("text=[Show Markdown]").first.click()
        image = page.locator("img[src^='data:image/svg+xml']").first
        image.wait_for(state="visible", timeout=30_000)
        assert page.evaluate("img => img.naturalWidth", image.element_handle()) > 0
        shot(page, "ranked_top_n_chart")
    except Exception:
        if SHOTS:
            shot(page, "failed")
        raise
