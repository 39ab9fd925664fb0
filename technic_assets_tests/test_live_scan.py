"""A live screen equals the daily scan run with the same settings, both computed: the engine loaded from
the warm day (built with the default settings) screens one sector in swing style; `technic scan
--sector X --style swing` then materializes the day with those settings through Dagster. An engine
loaded after that reads the new settings back from the store and gives back the new top N."""

import pandas as pd

from technic_assets.core.scoring import TOP_COLUMNS
from technic_assets.live.engine import LiveEngine, scan_settings
from technic_assets.storage import History
from technic_assets_tests.conftest import WARM_DAY
from technic_assets_tests.graph import run_cli


def test_a_one_sector_screen_equals_the_daily_scan_for_that_sector(warm_store):
    before = LiveEngine.load(warm_store)
    sector = before.screen().top["sector"].value_counts().index[0]  # the sector with the most picks
    screened = before.screen(scan_settings(before.day_settings, sectors=[sector], style="swing", top_n=10)).top

    run = run_cli(["scan", "--date", WARM_DAY, "--sector", sector, "--style", "swing", "--top", "10", "--quiet"],
                  {"TECHNIC_DUCKDB_PATH": str(warm_store)})
    assert run.returncode == 0, run.stderr
    scanned = History(str(warm_store)).read_dates("ranked_top_n", [pd.Timestamp(WARM_DAY)]).sort_values("rank")
    assert len(scanned) == 10 and set(scanned["sector"]) == {sector}
    pd.testing.assert_frame_equal(screened[TOP_COLUMNS].reset_index(drop=True),
                                  scanned[TOP_COLUMNS].reset_index(drop=True), check_dtype=False, rtol=1e-12)

    after = LiveEngine.load(warm_store)
    s = after.day_settings
    assert (s.style, s.top_n, [getattr(x, "value", x) for x in s.sectors]) == ("swing", 10, [sector])
    assert after.settings_match
    pd.testing.assert_frame_equal(after.screen().top[TOP_COLUMNS].reset_index(drop=True),
                                  scanned[TOP_COLUMNS].reset_index(drop=True), check_dtype=False, rtol=1e-12)
