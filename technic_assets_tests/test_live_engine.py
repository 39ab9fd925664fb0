"""The live engine on the warm 200-stock day: screens against what the assets stored, rescans against
the assets' own per-day chain (core *_for_days), filter reasons by hand, versions and resuming."""

import asyncio

import numpy as np
import pandas as pd
import pytest

from technic_assets.core.factors import factors_for_days
from technic_assets.core.scoring import TOP_COLUMNS, ics_for_days, merit_for_days, rank_for_days
from technic_assets.core.universe_filter import filter_days
from technic_assets.live.day import DayNotFound
from technic_assets.live.engine import LiveEngine, scan_settings
from technic_assets.storage import History
from technic_assets_tests.conftest import WARM_DAY


@pytest.fixture(scope="module")
def engine(warm_template):
    """One engine for the read-only tests (the engine opens the store read-only)."""
    return LiveEngine.load(warm_template)


@pytest.fixture
def fresh_engine(warm_template):
    """An engine of its own, for tests that publish versions."""
    return LiveEngine.load(warm_template)


def stored(path, name):
    return History(str(path)).read_dates(name, [pd.Timestamp(WARM_DAY)])


def test_loads_the_latest_scanned_day_with_its_window(engine, warm_template):
    assert engine.day == pd.Timestamp(WARM_DAY)  # bars reach 2025-06-13, but the top N is of WARM_DAY
    bars = engine.window_bars
    assert bars["date"].max() == engine.day
    assert bars["date"].nunique() == 300 and set(bars.columns) >= {"open", "high", "low", "close", "volume"}
    assert engine.sessions[engine.sessions.get_loc(engine.day) - 299] == bars["date"].min()
    assert set(engine.universe["symbol"]) == set(stored(warm_template, "universe")["symbol"])


def test_the_days_settings_are_read_back_and_give_the_stored_top_n(engine, warm_template):
    s = engine.day_settings
    assert (s.style, s.top_n, list(s.sectors), s.include_etfs) == ("medium", 25, [], False)
    assert engine.settings_match
    assert engine.stored.alpha_weight == pytest.approx(0.35)  # the warm store's models are blended
    want = stored(warm_template, "ranked_top_n").sort_values("rank").reset_index(drop=True)[TOP_COLUMNS]
    got = engine.screen().top.reset_index(drop=True)
    assert want["alpha_5d"].notna().all()
    pd.testing.assert_frame_equal(got[TOP_COLUMNS], want, check_dtype=False, rtol=1e-12)


def test_a_screen_re_filters_and_re_ranks_the_whole_cross_section(engine):
    base = engine.screen()
    energy = engine.screen(scan_settings(engine.day_settings, sectors=["Energy"], style="swing", top_n=10))
    assert set(energy.top["sector"]) == {"Energy"} and len(energy.top) == min(10, len(energy.scored))
    assert energy.counts["sector_not_selected"] > base.counts["sector_not_selected"]
    # z-scores are cross-sectional: the same Energy name scores differently among Energy names alone
    common = set(energy.scored["symbol"]) & set(base.scored["symbol"])
    a = energy.scored.set_index("symbol").loc[sorted(common), "momentum"]
    b = base.scored.set_index("symbol").loc[sorted(common), "momentum"]
    assert not np.allclose(a, b)
    cheap = engine.screen(scan_settings(engine.day_settings, min_price=0.0, min_dollar_volume=0.0))
    assert len(cheap.scored) > len(base.scored) and cheap.counts["price_below_min"] == 0


def test_symbol_names_the_rule_that_dropped_it(engine, warm_template):
    universe = stored(warm_template, "universe").set_index("symbol")
    etf = next(s for s in ("SPY", "QQQ") if s in universe.index)
    assert engine.symbol(etf)["dropped_by"] == "etf"
    leveraged = universe.index[universe["is_leveraged"]][0]
    assert engine.symbol(leveraged)["dropped_by"] == "leveraged_or_inverse"
    # a stock under $5 on the day (by the raw bars): valid, full history, only the price rule fails
    bars = engine.window_bars[engine.window_bars["date"] == engine.day].set_index("symbol")
    stocks = universe[(universe["type"] == "stock") & universe["valid_ticker"] & ~universe["is_leveraged"]].index
    cheap = [s for s in stocks if s in bars.index and bars.at[s, "close"] < 5.0
             and (engine.window_bars["symbol"] == s).sum() >= 200]
    assert cheap, "the warm day has stocks under $5"
    assert {engine.symbol(s)["dropped_by"] for s in cheap} == {"price_below_min"}
    assert engine.symbol("NOT.LISTED") is None
    top = stored(warm_template, "ranked_top_n").sort_values("rank")
    first = engine.symbol(top["symbol"].iloc[0])
    assert first["passed"] and first["rank"] == 1 and set(first["factors"]) >= {"momentum", "value", "trend"}
    assert first["merit_score"] == pytest.approx(top["merit_score"].iloc[0], rel=1e-12)


def the_assets_chain(engine, indicators: pd.DataFrame, day, settings) -> pd.DataFrame:
    """The assets' own per-day chain (core *_for_days, as core.pipeline runs it) on given indicators."""
    days = [day]
    universe = engine.universe.assign(date=day)
    kept, _, _ = filter_days(universe, indicators, days, settings.filter_settings())
    factors, _ = factors_for_days(kept, indicators, engine.stored.fundamentals.assign(date=day),
                                  engine.stored.splits, settings.style)
    ics = ics_for_days(factors, settings.style)
    forecasts = kept[["date", "symbol"]].merge(engine.stored.forecasts, on="symbol", how="left")
    from technic_assets.core.regime import regime_for_days

    regime = regime_for_days(indicators, days).set_index("date")["risk"]
    merit, _ = merit_for_days(factors, ics, regime, forecasts, settings.style, engine.stored.alpha_weight)
    top, _ = rank_for_days(merit, kept, indicators, settings.top_n)
    return top.drop(columns="date")


def test_rescan_publishes_a_version_re_ranked_as_the_assets_would(fresh_engine):
    engine = fresh_engine
    day = engine.sessions[engine.sessions.get_loc(engine.day) + 1]  # the forming session
    live = engine.stored.indicators.assign(date=day)
    live["last_date"] = day
    base = engine.screen()
    riser = base.scored["symbol"].iloc[len(base.scored) // 2]  # a middling name rallies 30% today
    up = live["symbol"] == riser
    live.loc[up, "close"] *= 1.3
    for col in ("roc_21", "roc_63", "roc_126"):
        live.loc[up, col] = (1 + live.loc[up, col] / 100) * 130 - 100
    live.loc[up, "ret_12_1"] = live.loc[up, "ret_12_1"] + 0.3
    live.loc[~up, "adv_20"] = 1.0  # the feed's partial-day figure: the liquidity rules must ignore it
    as_of = pd.Timestamp("2025-06-03 14:31", tz="UTC")
    result = engine.rescan(live, as_of=as_of, source="replay", ages=pd.Series(2.0, index=live["symbol"]))
    assert engine.version == 2 and result.version == 2
    assert (result.as_of, result.source) == (as_of, "replay")
    assert result.snapshot.meta()["data_age_s"] == 2.0
    # the expected ranking: the assets' chain on the same inputs, the liquidity columns from the close
    expected_input = live.copy()
    liquidity = engine.stored.indicators.set_index("symbol")[["adv_20", "price_cv_63"]]
    expected_input[["adv_20", "price_cv_63"]] = liquidity.reindex(expected_input["symbol"]).to_numpy()
    want = the_assets_chain(engine, expected_input, day, engine.day_settings)
    pd.testing.assert_frame_equal(result.top[TOP_COLUMNS].reset_index(drop=True), want[TOP_COLUMNS],
                                  check_dtype=False, rtol=1e-12)
    new_rank = engine.symbol(riser)["rank"]
    assert new_rank < base.scored.index[base.scored["symbol"] == riser][0] + 1
    assert engine.screen().version == 2  # screens now read the new version


def test_rescan_refuses_indicators_without_the_columns_it_needs(fresh_engine):
    with pytest.raises(ValueError, match="rsi_14"):
        fresh_engine.rescan(fresh_engine.stored.indicators.drop(columns="rsi_14").assign(date=fresh_engine.day),
                            as_of=pd.Timestamp.now(tz="UTC"), source="replay")


def test_subscribers_get_the_newest_version_and_resume_after_the_last_they_saw(fresh_engine):
    """A subscriber that has not read two versions gets only the newer (each is the whole state); one
    resuming after version 1 gets every kept version after it."""
    engine = fresh_engine
    live = engine.stored.indicators.assign(date=engine.day)

    async def scenario():
        first = engine.subscribe()
        assert (await first.__anext__()).version == 1  # the current version at connect
        for k in range(2):
            engine.rescan(live, as_of=pd.Timestamp.now(tz="UTC"), source="replay")
        got = [(await first.__anext__()).version]
        resumed = engine.subscribe(last_id=1)
        backlog = [(await resumed.__anext__()).version for _ in range(2)]
        engine.rescan(live, as_of=pd.Timestamp.now(tz="UTC"), source="replay")
        after = [(await first.__anext__()).version, (await resumed.__anext__()).version]
        await first.aclose()
        await resumed.aclose()
        return got, backlog, after

    got, backlog, after = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert got == [3] and backlog == [2, 3] and after == [4, 4]


def test_loading_without_a_scanned_day_says_what_to_do(tmp_path, warm_template):
    with pytest.raises(DayNotFound, match="technic scan"):
        LiveEngine.load(tmp_path / "none.duckdb")
    with pytest.raises(DayNotFound, match="2025-06-03"):
        LiveEngine.load(warm_template, "2025-06-03")


def test_serve_s_start_up_screens_while_the_window_loads(warm_template, engine):
    lazy = LiveEngine.load(warm_template, wait_for_window=False)  # as technic serve loads it
    pd.testing.assert_frame_equal(lazy.screen().top, engine.screen().top)
    pd.testing.assert_frame_equal(lazy.window_bars, engine.window_bars)  # waits for the thread
    sym = engine.screen().top["symbol"].iloc[0]
    pd.testing.assert_frame_equal(lazy.bars(sym), engine.window_bars[engine.window_bars["symbol"] == sym])


def test_a_window_that_cannot_be_read_is_reported_when_asked_for(engine):
    import dataclasses

    def broken():
        raise OSError("disk gone")

    stored = dataclasses.replace(engine.stored, window_bars=None)
    failing = LiveEngine(stored, window_loader=broken)
    assert len(failing.screen().top) == 25  # screens do not need it
    with pytest.raises(RuntimeError, match="window of bars could not be read: disk gone"):
        failing.window_bars


def test_another_n_cuts_the_same_ranking(engine, warm_template):
    ten = engine.screen(scan_settings(engine.day_settings, top_n=10, style="swing"))
    forty = engine.screen(scan_settings(engine.day_settings, top_n=40, style="swing"))
    assert forty.scored is ten.scored and forty.seconds == 0.0  # derived, not recomputed
    assert len(forty.top) == 40 and forty.top["symbol"].head(10).tolist() == ten.top["symbol"].tolist()
    assert forty.top["reasons"].str.len().min() > 0
    computed = engine._compute(engine.snapshot, forty.settings).top  # the whole chain under N = 40
    pd.testing.assert_frame_equal(forty.top.reset_index(drop=True), computed.reset_index(drop=True))
    # the 35th name's detail explains it although the first screen gave reasons to 10
    sym = forty.top["symbol"].iloc[34]
    detail = engine.symbol(sym, scan_settings(engine.day_settings, top_n=10, style="swing"))
    assert detail["rank"] == 35 and detail["reasons"] == forty.top["reasons"].iloc[34]
