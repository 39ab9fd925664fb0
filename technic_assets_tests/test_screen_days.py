"""The backtest's re-screen of many days at once (rescreen over core.screen_days) against the per-day
chain it replaced, kept here as the independent computation: a plain loop over the days calling
core.screen.prepare and screen_day on each day's stored inputs, forecasting the names no stored screen
forecast with core.alpha_model.forecasts_for_days one day at a time. Same symbols, same ranks, MERIT
to 1e-9, for hand and learned ranking, with and without peer groups, a sector list, ETFs, and days
where a setting keeps names with no stored forecast."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from technic_assets.config import ScanSettings
from technic_assets.storage import History
from technic_assets_tests.conftest import WEEK_FIRST, WEEK_LAST

pytestmark = pytest.mark.unit

# fixed learned weights for every month (a week is too little history to fit any): both paths then
# run the learned blend's second screen; the fit itself (core.blend) is one function both call
WEIGHTS = {"momentum": 0.2, "value": -0.05, "quality": 0.1, "growth": 0.05, "trend": 0.15, "volatility": 0.1,
           "liquidity": 0.05, "alpha": 0.2, "reversal": -0.05, "overbought": 0.05}


def per_day(history, days, settings, alpha_weight, weights=None):
    """The per-day chain, day by day: (scores: date, symbol, score in rank order; picks: date, symbol, rank;
    names forecast here)."""
    from technic_assets.core.alpha_model import forecasts_for_days, load_booster
    from technic_assets.core.calendar import nyse
    from technic_assets.core.factors import factor_panel
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.core.schema import empty_fundamentals
    from technic_assets.core.screen import prepare, screen_day
    from technic_assets.core.universe_filter import drop_reasons
    from technic_assets.rescreen import peers_for

    sessions = nyse().sessions
    first, last = days[0], days[-1]

    def of_day(name, columns=None):
        frame = history.read_span(name, first, last, columns)
        return {pd.Timestamp(d): rows.drop(columns="date").reset_index(drop=True) for d, rows in frame.groupby("date")}

    universe, indicators, reports = of_day("universe"), of_day("indicators"), of_day("fundamentals")
    regime = history.read_span("market_regime", first, last, ["date", "risk"]).set_index("date")["risk"]
    stored = of_day("alpha_forecasts", ["date", "symbol", "alpha_5d", "alpha_10d"])
    models = of_day("alpha_model") if alpha_weight > 0 else {}
    bars = history.read_span("price_bars", sessions[sessions.searchsorted(first) - LOOKBACK], last,
                             ["date", "symbol", "split_ratio"])
    peers = peers_for(history, days, sessions) if settings.peer_groups else None
    scores, picks, forecast = [], [], 0
    for day in days:
        listed, ind = universe[day], indicators[day]
        fund = reports.get(day, empty_fundamentals())
        start = sessions[sessions.searchsorted(day) - (LOOKBACK - 1)]
        window = bars[(bars["date"] >= start) & (bars["date"] <= day) & (bars["split_ratio"] != 1.0)]
        panel = factor_panel(listed[["symbol", "sector"]], ind[["symbol"]], fund, window)
        fc = (listed[["symbol"]].merge(stored.get(day, pd.DataFrame(columns=["symbol", "alpha_5d", "alpha_10d"])),
                                       on="symbol", how="left").set_index("symbol")[["alpha_5d", "alpha_10d"]]
              .astype(float))
        prep = prepare(listed, ind, panel.drop(columns=["symbol", "sector"]).reset_index(drop=True), fc)
        if day in models:
            _, reason, _ = drop_reasons(prep.merged, day, settings.filter_settings())
            lacking = reason.isna().to_numpy() & fc["alpha_5d"].isna().to_numpy()
            if lacking.any():
                rows = pd.DataFrame({"date": day, "symbol": listed["symbol"].to_numpy()[lacking]})
                made, _ = forecasts_for_days(rows, ind.assign(date=day), fund.assign(date=day),
                                             models[day].assign(date=day),
                                             lambda m: load_booster(history.model_bytes(m)))
                made = rows[["symbol"]].merge(made, on="symbol", how="left")
                fc = fc.copy()
                fc.loc[lacking, ["alpha_5d", "alpha_10d"]] = made[["alpha_5d", "alpha_10d"]].to_numpy(dtype=float)
                prep = dataclasses.replace(prep, forecasts=fc)
                forecast += int(lacking.sum())
        order = np.argsort(np.argsort(listed["symbol"].to_numpy().astype(str), kind="stable"))
        done = screen_day(prep, day, str(regime[day]), settings, order, alpha_weight,
                          peers=None if peers is None else peers[day], blend=weights)
        scores.append(pd.DataFrame({"date": day, "symbol": done.scored["symbol"].to_numpy(),
                                    "score": done.scored["merit_score"].to_numpy(dtype=float)}))
        picks.append(pd.DataFrame({"date": day, "symbol": done.top["symbol"].to_numpy(),
                                   "rank": done.top["rank"].to_numpy()}))
    return pd.concat(scores, ignore_index=True), pd.concat(picks, ignore_index=True), forecast


@pytest.fixture(scope="module")
def copied_week(warm_template, tmp_path_factory):
    """The warm store with WARM_DAY's stored inputs (listings, indicators with 2% noise each day, reports,
    regime, forecasts, models) copied to every session of the week: risk-off on the third and fourth
    days; no forecasts of half the names on the second day (its models forecast them) and no forecasts
    and no models on the fifth (a day without alpha)."""
    import shutil

    import duckdb

    from technic_assets.core.calendar import sessions
    from technic_assets_tests.conftest import WARM_DAY

    path = tmp_path_factory.mktemp("copied") / "store.duckdb"
    shutil.copy(warm_template, path)
    rng = np.random.default_rng(3)
    days = sessions(WEEK_FIRST, WEEK_LAST)
    conn = duckdb.connect(str(path))
    for table in ("universe", "indicators", "fundamentals", "market_regime", "alpha_forecasts", "alpha_model"):
        one = conn.execute(f"SELECT * FROM technic.{table} WHERE date = ?", [pd.Timestamp(WARM_DAY)]).fetchdf()
        for k, day in enumerate(days[1:], 1):
            part = one.assign(date=day)
            if table == "indicators":
                numeric = [c for c in part.columns if c not in ("n_bars",) and pd.api.types.is_float_dtype(part[c])]
                part[numeric] = part[numeric].to_numpy() * (1 + 0.02 * rng.standard_normal((len(part), len(numeric))))
                part["last_date"] = day
            if table == "market_regime" and k in (2, 3):
                part["risk"] = "risk_off"
            if table == "alpha_forecasts" and k == 1:
                part = part.iloc[::2]
            if table in ("alpha_forecasts", "alpha_model") and k == 4:
                continue
            part = part.astype({c: "datetime64[us]" for c in part.columns if pd.api.types.is_datetime64_any_dtype(part[c])})
            conn.register("part", part)
            conn.execute(f"INSERT INTO technic.{table} BY NAME SELECT * FROM part")
            conn.unregister("part")
    conn.close()
    return path


CASES = {
    "hand": (dict(ranking="hand", peer_groups=False), 0.0),
    "hand, peer groups, swing, min price 10": (dict(ranking="hand", style="swing", min_price=10.0), 0.0),
    "a sector list, position": (dict(ranking="hand", peer_groups=False, style="position",
                                     sectors=["Information Technology", "Health Care", "Unknown"]), 0.0),
    "alpha blended": (dict(ranking="hand"), 0.35),
    "ETFs and a looser filter, alpha blended": (dict(ranking="hand", include_etfs=True, min_price=1.0,
                                                     min_dollar_volume=50_000.0, top_n=30), 0.35),
    "learned, peer groups, alpha": (dict(ranking="learned", min_price=1.0, min_dollar_volume=50_000.0), 0.35),
    "learned, no peer groups, no tilt or penalties": (dict(ranking="learned", peer_groups=False, regime_tilt=False,
                                                           risk_penalties=False, style="swing"), 0.0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_stacked_days_screen_as_each_day_alone(copied_week, monkeypatch, case):
    import technic_assets.rescreen as rescreen_module
    from technic_assets.core.calendar import sessions

    fields, alpha_weight = CASES[case]
    settings = ScanSettings(**fields)
    learned = settings.ranking == "learned"
    if learned:  # every month gets WEIGHTS (what the fit returns is not under test here)
        monkeypatch.setattr(rescreen_module, "monthly_weights", lambda terms, labels, months, s: dict.fromkeys(
            months, WEIGHTS))
    history, days = History(str(copied_week)), sessions(WEEK_FIRST, WEEK_LAST)
    lead = days[:2] if learned else None  # training rows only: screened, not returned
    days = days[2:] if learned else days
    done = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight, lead=lead)
    scores, picks, forecast = per_day(history, days, settings, alpha_weight, WEIGHTS if learned else None)
    assert len(scores) > len(days) * 20 and len(picks) == len(days) * settings.top_n
    assert list(zip(done.scores["date"], done.scores["symbol"])) == list(zip(scores["date"], scores["symbol"]))
    np.testing.assert_allclose(done.scores["score"].to_numpy(), scores["score"].to_numpy(), rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(done.picks.reset_index(drop=True), picks, check_dtype=False)
    if alpha_weight > 0:  # names no stored screen forecast (the second day's, the looser filter's), forecast here
        assert forecast > 0


def test_every_days_rules_are_that_days_own(copied_week):
    """drop_reasons over stacked days equals one call per day (its bar day, its liquid sectors)."""
    from technic_assets.core.universe_filter import FilterSettings, drop_reasons

    history = History(str(copied_week))
    merged = history.read_span("universe", pd.Timestamp(WEEK_FIRST), pd.Timestamp(WEEK_LAST)).merge(
        history.read_span("indicators", pd.Timestamp(WEEK_FIRST), pd.Timestamp(WEEK_LAST)), on=["date", "symbol"])
    for settings in (FilterSettings(), FilterSettings(n_liquid_sectors=3, include_etfs=True),
                     FilterSettings(sectors=("Energy",))):
        _, stacked, _ = drop_reasons(merged, None, settings, days=merged["date"].to_numpy())
        for day, rows in merged.groupby("date"):
            _, alone, _ = drop_reasons(rows.reset_index(drop=True), day, settings)
            assert list(stacked[rows.index].fillna("kept")) == list(alone.fillna("kept"))


def test_settings_in_a_row_equal_fresh_ones_and_a_write_is_seen(copied_week, tmp_path, monkeypatch):
    """Settings one after another in one process share what rescreen keeps of the store (the span's
    listings, panel, forecasts made): each equals the per-day loop (the looser filter's names, which the
    tighter one before it never forecast, forecast once) and a re-screen with nothing kept, exactly;
    a learned one with lead days, and a hand one without, share one span. A write to the store between
    two calls (the third day's closes of ten kept names set to $0.50) is seen by the next: those names
    fall under the minimum price that day, as they do with nothing kept."""
    import shutil

    import technic_assets.rescreen as rescreen_module
    from technic_assets.core.calendar import sessions
    from technic_assets.storage.kept import forget as forget_kept
    from technic_assets.storage.kept_files import discard

    monkeypatch.setattr(rescreen_module, "monthly_weights", lambda terms, labels, months, s: dict.fromkeys(
        months, WEIGHTS))
    built = []  # the spans read from the store
    read = rescreen_module.Span.of
    monkeypatch.setattr(rescreen_module.Span, "of", classmethod(lambda cls, *a: built.append(a[1]) or read(*a)))
    path = tmp_path / "store.duckdb"
    shutil.copy(copied_week, path)
    history, week = History(str(path)), sessions(WEEK_FIRST, WEEK_LAST)
    lead, days = week[:2], week[2:]

    def forget():  # nothing kept, in the process or in files beside the store
        forget_kept()
        discard(history)

    asks = [(ScanSettings(ranking="hand", style="swing", min_price=10.0), 0.35, None),
            (ScanSettings(ranking="hand", include_etfs=True, min_price=1.0, min_dollar_volume=50_000.0, top_n=30),
             0.35, None),
            (ScanSettings(ranking="learned", style="position", min_price=1.0, min_dollar_volume=50_000.0), 0.35, lead),
            (ScanSettings(ranking="hand", peer_groups=False, style="medium", top_n=10), 0.0, lead)]
    forget()
    for k, (settings, alpha_weight, before) in enumerate(asks):
        reads = len(built)
        done = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight, lead=before)
        assert len(built) == reads + (k in (0, 2))  # the second and fourth find the span the fresh call left
        if before is None:  # the per-day loop has no lead days: the plain hand screens are checked by it
            scores, picks, _ = per_day(history, days, settings, alpha_weight)
            assert list(zip(done.scores["date"], done.scores["symbol"])) == list(zip(scores["date"], scores["symbol"]))
            np.testing.assert_allclose(done.scores["score"].to_numpy(), scores["score"].to_numpy(), rtol=0, atol=1e-9)
            pd.testing.assert_frame_equal(done.picks.reset_index(drop=True), picks, check_dtype=False)
        forget()
        fresh = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight, lead=before)
        pd.testing.assert_frame_equal(done.scores, fresh.scores, rtol=0, atol=0)
        pd.testing.assert_frame_equal(done.picks, fresh.picks, rtol=0, atol=0)
        assert done.weights == fresh.weights
    settings, alpha_weight, _ = asks[0]
    before = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight)
    day = days[0]  # the third session of the week
    cheap = list(before.scores.loc[before.scores["date"] == day, "symbol"][:10])
    rows = history.read_dates("indicators", [day])
    history.replace_dates("indicators", rows.assign(close=np.where(rows["symbol"].isin(cheap), 0.5, rows["close"])),
                          [day])
    reads = len(built)
    after = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight)
    assert len(built) == reads + 1
    that_day = set(after.scores.loc[after.scores["date"] == day, "symbol"])
    assert len(cheap) == 10 and not that_day & set(cheap)
    forget()
    fresh = rescreen_module.rescreen(history, days, settings, alpha_weight=alpha_weight)
    pd.testing.assert_frame_equal(after.scores, fresh.scores, rtol=0, atol=0)
    pd.testing.assert_frame_equal(after.picks, fresh.picks, rtol=0, atol=0)


def test_a_span_kept_beside_the_store_is_read_back_by_a_fresh_process(copied_week, tmp_path, monkeypatch):
    """What a re-screen reads and prepares of the store (the span, its Market and neutral groups) is
    kept in files beside it (storage.kept_files): a process that kept nothing in memory reads it back
    instead of reading the store or fitting peer groups, and screens exactly as with nothing kept. The
    span read back equals the one read from the store, column by column, dtypes included. A damaged
    file is read again from the store; a day's listings written again (the store then holds them last)
    screen as before; a write to the store is seen, and its older files removed."""
    import shutil

    import technic_assets.rescreen as rescreen_module
    from technic_assets.core.calendar import sessions
    from technic_assets.storage.kept import forget
    from technic_assets.storage.kept_files import Shelf, discard

    monkeypatch.setattr(rescreen_module, "monthly_weights", lambda terms, labels, months, s: dict.fromkeys(
        months, WEIGHTS))
    built, fitted = [], []
    read, fit = rescreen_module.Span.of, rescreen_module.monthly_peer_groups
    monkeypatch.setattr(rescreen_module.Span, "of", classmethod(lambda cls, *a: built.append(a[1]) or read(*a)))
    monkeypatch.setattr(rescreen_module, "monthly_peer_groups", lambda *a, **k: fitted.append(1) or fit(*a, **k))
    path = tmp_path / "store.duckdb"
    shutil.copy(copied_week, path)
    history, week = History(str(path)), sessions(WEEK_FIRST, WEEK_LAST)
    settings = ScanSettings(ranking="learned", min_price=1.0, min_dollar_volume=50_000.0)  # peer groups, Market
    forget()
    first = rescreen_module.rescreen(history, week[2:], settings, alpha_weight=0.35, lead=week[:2])
    assert (len(built), len(fitted)) == (1, 1)
    forget()  # a fresh process: nothing in memory, the files beside the store
    again = rescreen_module.rescreen(history, week[2:], settings, alpha_weight=0.35, lead=week[:2])
    assert (len(built), len(fitted)) == (1, 1)
    for name in ("scores", "picks", "terms"):
        if getattr(first, name) is not None:
            pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name), rtol=0, atol=0)

    kept = Shelf.of(history, "rescreen", (tuple(week.asi8),)).get("span")
    fresh = read(history, week)
    for part in ("merged", "panel", "raw", "forecasts", "shown"):
        pd.testing.assert_frame_equal(getattr(kept.prep, part), getattr(fresh.prep, part), rtol=0, atol=0)
    pd.testing.assert_frame_equal(kept.features, fresh.features, rtol=0, atol=0)
    pd.testing.assert_frame_equal(kept.models, fresh.models, rtol=0, atol=0)
    pd.testing.assert_series_equal(kept.regime, fresh.regime)
    for name in ("when", "symbol_rank", "lacking"):
        np.testing.assert_array_equal(getattr(kept, name), getattr(fresh, name))
    assert kept.have == fresh.have and kept.days.equals(fresh.days)

    folder = Shelf.of(history, "rescreen", (tuple(week.asi8),)).folder
    for memory in folder.glob("span.*.bin"):
        memory.write_bytes(b"")  # damaged: read again from the store
    forget()
    damaged = rescreen_module.rescreen(history, week[2:], settings, alpha_weight=0.35, lead=week[:2])
    assert len(built) == 2
    pd.testing.assert_frame_equal(first.scores, damaged.scores, rtol=0, atol=0)

    # the first day's listings written again, so the store holds them last: read in the store's
    # order, the span still stacks its days in date order, and screens as before
    history.replace_dates("universe", history.read_dates("universe", [week[0]]), [week[0]])
    assert not history.read_span("universe", week[0], week[-1], ["date"])["date"].is_monotonic_increasing
    forget()
    rewritten = rescreen_module.rescreen(history, week[2:], settings, alpha_weight=0.35, lead=week[:2])
    assert len(built) == 3
    pd.testing.assert_frame_equal(first.scores, rewritten.scores, rtol=0, atol=0)

    day = week[2]
    rows = history.read_dates("indicators", [day])
    cheap = list(first.scores.loc[first.scores["date"] == day, "symbol"][:10])
    history.replace_dates("indicators", rows.assign(close=np.where(rows["symbol"].isin(cheap), 0.5, rows["close"])),
                          [day])
    forget()
    after = rescreen_module.rescreen(history, week[2:], settings.model_copy(update={"min_price": 5.0}),
                                     alpha_weight=0.35, lead=week[:2])
    assert len(built) == 4 and not set(after.scores.loc[after.scores["date"] == day, "symbol"]) & set(cheap)
    assert [p.name.split("-")[0] for p in (tmp_path / "store.duckdb.kept").iterdir()].count("rescreen") == 1
    discard(history)
