from technic_assets.config import ScanSettings
from technic_assets.live.engine import LiveEngine
from technic_assets.live.server import create_app
from technic_assets_tests.live_server import running
from technic_assets_tests.test_live_browser import browser  # noqa: F401


def test_shots(browser, scanned_week, monkeypatch):
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")
    engine = LiveEngine.load(scanned_week)
    with running(create_app(engine, mode="off", screens={"focus": ScanSettings(sectors=["Energy"], top_n=8)})) as url:
        for w, h in ((1280, 1600), (1920, 1500)):
            page = browser.new_page(viewport={"width": w, "height": h})
            page.goto(url + "/")
            page.wait_for_selector("#connection.on", timeout=15_000)
            page.wait_for_selector("#track-status[data-state=done]", state="attached", timeout=120_000)
            page.click("#summary")
            page.keyboard.press("j")
            page.keyboard.press("j")
            page.wait_for_selector("#chart .tv-lightweight-charts canvas", timeout=15_000)
            page.wait_for_timeout(800)
            page.screenshot(path=f"/tmp/shot-{w}.png", full_page=True)
            page.close()
