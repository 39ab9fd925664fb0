"""A live screen equals the daily scan run with the same settings, both computed: the engine loaded from
the warm day (built with the default settings) screens one sector in swing style; `technic scan
--sector X --style swing` then materializes the day with those settings through Dagster, as the one-off
screen "adhoc". An engine loaded for that screen reads its settings back from the store and gives back
its top N."""

import duckdb
import pandas as pd

from technic_assets.config import ScanSettings
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
    scanned = History(str(warm_store)).read_dates("ranked_top_n", [pd.Timestamp(WARM_DAY)])
    scanned = scanned[scanned["screen"] == "adhoc"].sort_values("rank")
    assert len(scanned) == 10 and set(scanned["sector"]) == {sector}
    pd.testing.assert_frame_equal(screened[TOP_COLUMNS].reset_index(drop=True),
                                  scanned[TOP_COLUMNS].reset_index(drop=True), check_dtype=False, rtol=1e-12)

    after = LiveEngine.load(warm_store, screen="adhoc")
    s = after.day_settings
    assert (s.style, s.top_n, [getattr(x, "value", x) for x in s.sectors]) == ("swing", 10, [sector])
    assert after.settings_match
    pd.testing.assert_frame_equal(after.screen().top[TOP_COLUMNS].reset_index(drop=True),
                                  scanned[TOP_COLUMNS].reset_index(drop=True), check_dtype=False, rtol=1e-12)


def test_a_saved_screens_settings_are_stored_with_its_rows_and_read_back_not_inferred(warm_store, tmp_path):
    """Bounds leave no trace in the scores (a price floor only removes names), so an engine that had to
    infer them from the tables would serve this screen with the default floor: they are stored."""
    screens = tmp_path / "screens.yaml"
    screens.write_text("screens:\n  tight: {style: position, top_n: 7, min_price: 20, max_price_cv: 0.3, "
                       "min_dollar_volume: 2000000}\n")
    run = run_cli(["scan", "--date", WARM_DAY, "--screen", "tight", "--quiet"],
                  {"TECHNIC_DUCKDB_PATH": str(warm_store), "TECHNIC_SCREENS": str(screens), "TECHNIC_ALPHA_WEIGHT": "0.2"})
    assert run.returncode == 0, run.stderr

    engine = LiveEngine.load(warm_store, screen="tight", default_alpha_weight=0.9)
    assert engine.stored.settings_stored
    assert engine.day_settings == ScanSettings(style="position", top_n=7, min_price=20.0, max_price_cv=0.3,
                                               min_dollar_volume=2_000_000.0)
    assert engine.stored.alpha_weight == 0.2  # the run's, not the default the loader was given
    assert engine.settings_match


def test_a_store_from_before_stored_settings_has_them_inferred_and_says_so(warm_store):
    with duckdb.connect(str(warm_store)) as conn:
        conn.execute("ALTER TABLE technic.ranked_top_n DROP COLUMN settings")
    engine = LiveEngine.load(warm_store)
    assert not engine.stored.settings_stored
    assert engine.day_settings == ScanSettings()  # the warm day was built with the defaults
    assert engine.settings_match
