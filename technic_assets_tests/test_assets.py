"""The assets end to end, on a small built-in market and a fresh store per module."""

import duckdb
import pandas as pd
import pytest
from dagster import DagsterInstance, DagsterInvalidConfigError, Definitions, materialize

from technic_assets.config import DEFAULT_START_DATE, AlphaSettings, ScanSettings
from technic_assets.core.calendar import sessions, sessions_back
from technic_assets.errors import root_cause
from technic_assets_tests.graph import ASSETS, definitions, resources

DAY = "2025-06-02"


def run(day=DAY, instance=None, **scan):
    return materialize(ASSETS, partition_key=day, resources=resources(400, **scan), instance=instance,
                       raise_on_error=False)


def query(path, sql, params=None):
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return conn.execute(sql, params or []).fetchdf()
    finally:
        conn.close()


def tables(path):
    if not path.exists():
        return set()
    return set(query(path, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'technic'")["table_name"])


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "store.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TECHNIC_DUCKDB_PATH", str(path))
        instance = DagsterInstance.ephemeral()
        first = run(instance=instance)
        yield path, instance, first, mp


def metadata(result, asset):
    for event in result.get_asset_materialization_events():
        mat = event.materialization
        if mat.asset_key.path == [asset] and mat.partition == DAY:
            return {k: v.value for k, v in mat.metadata.items()}
    raise AssertionError(f"no materialization of {asset} for {DAY}")


def test_definitions_load_for_any_start_date():
    for start, first in [("2024-01-02", "2024-01-02"), ("2019-01-01", "2019-01-02")]:  # snapped to a session
        defs = definitions(start_date=start)
        Definitions.validate_loadable(defs)
        job = defs.resolve_job_def("daily_scan")
        assert job.partitions_def.get_first_partition_key() == first
        assets = defs.resolve_asset_graph().assets_defs
        assert {a.partitions_def.get_first_partition_key() for a in assets} == {first}


def test_an_empty_store_gets_the_history_and_a_ranked_top_n(scanned):
    path, instance, result, _ = scanned
    assert result.success
    top = query(path, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    assert top["rank"].tolist() == list(range(1, 26))
    assert top["merit_score"].is_monotonic_decreasing
    assert top["reasons"].str.len().min() > 0
    dates = query(path, "SELECT DISTINCT date FROM technic.price_bars ORDER BY date")["date"]
    # the scan's 300-session window, and before it the alpha model's training history back to the
    # first partition (TECHNIC_START_DATE)
    assert list(dates) == list(sessions(DEFAULT_START_DATE, DAY))
    first_day = sessions_back(DAY, 300)[0].strftime("%Y-%m-%d")
    recorded = instance.get_materialized_partitions(ASSETS[1].key)
    assert first_day in recorded and DAY in recorded  # the filled history shows in the UI


def test_every_check_passes(scanned):
    _, _, result, _ = scanned
    evaluations = result.get_asset_check_evaluations()
    assert {e.check_name for e in evaluations} == {"bars_sane", "unique_date_symbol", "indicators_finite", "top_n_ranked"}
    assert all(e.passed for e in evaluations)


def test_the_filter_reports_its_counts(scanned):
    _, _, result, _ = scanned
    meta = metadata(result, "filtered_universe")
    dropped = sum(v for k, v in meta.items() if k.startswith("dropped_"))
    assert meta["before"] - dropped == meta["after"] > 25
    assert meta["dropped_leveraged_or_inverse"] == 30


def test_a_rerun_replaces_partitions_and_fetches_nothing(scanned):
    path, instance, _, _ = scanned
    before = {t: len(query(path, f"SELECT * FROM technic.{t}")) for t in tables(path)}
    again = run(instance=instance)
    assert again.success
    assert metadata(again, "price_bars")["sessions_fetched"] == 0
    after = {t: len(query(path, f"SELECT * FROM technic.{t}")) for t in tables(path)}
    assert after == before
    dup = query(path, "SELECT date, symbol, count(*) n FROM technic.price_bars GROUP BY ALL HAVING n > 1")
    assert dup.empty


def test_bars_after_the_scan_date_change_nothing(scanned):
    path, instance, _, _ = scanned
    top_before = query(path, "SELECT * FROM technic.ranked_top_n WHERE date = ?", [DAY])
    tomorrow = pd.Timestamp("2025-06-03")
    conn = duckdb.connect(str(path))
    conn.execute("""INSERT INTO technic.price_bars
                    SELECT ?::TIMESTAMP, symbol, open * 10, high * 10, low * 10, close * 10, volume, 1.0, 0.0
                    FROM technic.price_bars WHERE date = ?""", [tomorrow.to_pydatetime(), DAY]).fetchall()
    conn.close()
    assert run(instance=instance).success
    top_after = query(path, "SELECT * FROM technic.ranked_top_n WHERE date = ?", [DAY])
    pd.testing.assert_frame_equal(top_before, top_after)


def test_nonsense_settings_fail_before_anything_is_written(store_path):
    """Choices are checked against the config schema before a run starts (as the launchpad does);
    bounds when the run starts, before any step: either way nothing is written."""
    for bad, message in [({"top_n": 0}, "top_n"), ({"sectors": ["Crypto"]}, "Crypto"),
                         ({"style": "yolo"}, "yolo"), ({"min_price": 9.0, "max_price": 5.0}, "max_price=5.0")]:
        with pytest.raises(ValueError, match=message):
            ScanSettings(**bad)
        config = {"resources": {"scan": {"config": bad}}}
        try:
            result = materialize(ASSETS, partition_key=DAY, resources=resources(400), run_config=config,
                                 raise_on_error=False)
        except DagsterInvalidConfigError as exc:
            assert message in str(exc)
        else:
            assert not result.success
            assert message in str(result.all_events)
    assert tables(store_path) == set()


def test_a_date_without_enough_history_is_refused_before_writing(store_path):
    result = run(day="2024-03-01")
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert "needs 300 sessions of history" in root_cause(failure.step_failure_data.error)
    assert tables(store_path) == set()


def test_a_filter_that_leaves_nothing_says_so_and_writes_no_partition(store_path):
    result = materialize(ASSETS, partition_key=DAY, resources=resources(400, alpha=AlphaSettings(weight=0), min_price=1e7),
                         raise_on_error=False)
    assert not result.success
    failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
    assert failure.step_key == "filtered_universe"
    assert "left no symbols" in root_cause(failure.step_failure_data.error)
    assert "filtered_universe" not in tables(store_path)
    assert "price_bars" in tables(store_path)  # what was correct is kept


def test_the_cli_refuses_a_closed_day():
    from technic_assets.cli.dates import resolve_date
    from technic_assets.environment import Environment

    env = Environment()
    now = pd.Timestamp("2025-06-04 12:00", tz="America/New_York")  # a Wednesday before the close
    with pytest.raises(SystemExit, match="not an NYSE trading day"):
        resolve_date("2025-01-09", env, now=now)
    with pytest.raises(SystemExit, match="not a date"):
        resolve_date("yesterday-ish", env, now=now)
    assert resolve_date("2025-06-02", env, now=now) == "2025-06-02"
    assert resolve_date("2025-06-03", env, now=now) == "2025-06-03"
    # 300 sessions after the default start (2024-01-02) is 2025-03-13, by the exchange's calendar
    with pytest.raises(SystemExit, match="2025-01-10 needs 300 sessions .* days that can be scanned: "
                                         "2025-03-13 .. 2025-06-03$"):
        resolve_date("2025-01-10", env, now=now)
    # today's session has not closed, and next week's is in the future: one line, the range
    for later in ("2025-06-04", "2025-06-10"):
        with pytest.raises(SystemExit, match=f"scan date {later} has not closed yet \\(the latest closed session is "
                                             "2025-06-03\\); days that can be scanned: 2025-03-13 .. 2025-06-03"):
            resolve_date(later, env, now=now)


def test_the_core_pipeline_ranks_exactly_as_the_assets_do(scanned):
    from technic_assets.core.pipeline import run_core_scan

    path, _, _, _ = scanned
    market = resources(400)["market"].source()
    window = sessions_back(DAY, 300)
    forecasts = query(path, "SELECT symbol, alpha_5d, alpha_10d FROM technic.alpha_forecasts WHERE date = ?", [DAY])
    assert forecasts["alpha_5d"].notna().all()
    result = run_core_scan(market.daily_bars(window[0], window[-1]), market.listings(pd.Timestamp(DAY)),
                           market.fundamentals(pd.Timestamp(DAY)), pd.Timestamp(DAY), forecasts=forecasts)
    stored = query(path, "SELECT symbol, merit_score FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    assert result.top["symbol"].tolist() == stored["symbol"].tolist()
    assert result.top["merit_score"].to_numpy() == pytest.approx(stored["merit_score"].to_numpy())


def test_the_top_n_shows_as_a_typed_table_and_charts(scanned):
    """In the UI: the top N as a table with its schema (not Markdown), and two charts as SVG images whose
    bars are the stored MERIT contributions and sector counts."""
    import base64
    import re
    import xml.etree.ElementTree as ET

    from technic_assets.core.scoring import TERMS

    path, _, result, _ = scanned
    meta = metadata(result, "ranked_top_n")
    top = query(path, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    table = meta["top_n"]
    assert [r.data["symbol"] for r in table.records] == top["symbol"].tolist()
    assert {c.name: c.type for c in table.schema.columns}["merit_score"] == "float"

    def svg(key):
        found = re.fullmatch(r"!\[[^]]*\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", meta[key])
        return ET.fromstring(base64.b64decode(found.group(1)))

    merit = query(path, "SELECT * FROM technic.merit WHERE date = ?", [DAY]).set_index("symbol").loc[top["symbol"]]
    contributions = merit[[f"merit_contrib_{t}" for t in TERMS]]
    titles = [t.text for t in svg("contributions").iter("{http://www.w3.org/2000/svg}title")]
    assert len(titles) == int((contributions.fillna(0) != 0).to_numpy().sum())  # a bar per non-zero contribution
    first = top["symbol"].iloc[0]
    assert f"{first} momentum {merit.loc[first, 'merit_contrib_momentum']:+.3f}" in titles
    kept = query(path, "SELECT sector, count(*) AS n FROM technic.filtered_universe WHERE date = ? GROUP BY sector",
                 [DAY]).set_index("sector")["n"]
    texts = [t.text for t in svg("sector_mix").iter("{http://www.w3.org/2000/svg}text")]
    for sector, n in kept.items():
        assert f"{int((top['sector'] == sector).sum())} of {n}" in texts
    # the same counts in text, short enough for the UI to show in place (charts.INLINE_LIMIT)
    assert len(meta["sector_bars"]) < 1000
    for sector, n in kept.items():
        assert f"| {sector} | {int((top['sector'] == sector).sum())} of {n} |" in meta["sector_bars"]
