"""Any settings over the stored history, without re-running the graph: each stored day re-screened from
what the evening stored (listings, indicators, point-in-time reports, the window's splits, the regime,
the forecasts) through core.screen's chain, the one the live engine runs.

Nothing dated after a day reaches its screen: each day reads its own rows, the splits up to it, and
forecasts made by that day's models. A name that the new settings keep but no stored screen kept has
no stored forecast; it is forecast here by the day's own stored models (as the live engine forecasts
every listing), so a looser filter is scored exactly as the graph would have scored it.

With `peer_groups` on, each month's peer groups (core.peers) are fitted from the stored bars before the
month's first session. With `ranking: learned`, the days are screened twice: first with the hand
weights (and the `lead` days before them, stored days that only serve as training rows), which gives
every day's blend terms; then each month's weights are fitted from the terms and the tradable returns
of the days before it (core.blend.monthly_weights: purged, embargoed) and the month's days are
screened again with them. A month with too little history keeps the hand weights.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from technic_assets.core.alpha_model import forecasts_for_days, load_booster
from technic_assets.core.blend import blend_terms, forward_returns, monthly_weights
from technic_assets.core.calendar import nyse
from technic_assets.core.factors import FACTORS, factor_panel
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.peers import WINDOW as PEER_WINDOW
from technic_assets.core.peers import daily_returns, month_start, monthly_peer_groups
from technic_assets.core.schema import empty_fundamentals
from technic_assets.core.screen import prepare, screen_day
from technic_assets.core.track_record import market_from_bars
from technic_assets.core.universe_filter import drop_reasons


@dataclasses.dataclass
class Rescreened:
    scores: pd.DataFrame    # date, symbol, score (MERIT) of every name the settings keep
    picks: pd.DataFrame     # date, symbol, rank: each day's top N
    seconds: dict           # read, screen, forecast
    terms: pd.DataFrame | None = None    # date, symbol, BLEND_TERMS, realized_vol_63, adv_20, alpha_z, label (keep_terms)
    weights: dict | None = None          # month's first session -> learned weights (None: hand weights)


def _by_day(frame: pd.DataFrame) -> dict[pd.Timestamp, pd.DataFrame]:
    return {pd.Timestamp(d): rows.drop(columns="date").reset_index(drop=True)
            for d, rows in frame.groupby("date", sort=True)}


def stored_market(history, start, end):
    """core.track_record's Market of the stored bars and dividends dated start..end."""
    bars = history.read_span("price_bars", start, end, ["date", "symbol", "close", "split_ratio", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    return market_from_bars(bars.drop(columns="dividend"), pd.DataFrame(
        {"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]}))


def peers_for(history, days, sessions) -> dict:
    """Each of `days` -> its month's peer groups (core.peers), fitted from the stored bars before the month."""
    start = sessions[max(0, sessions.searchsorted(month_start(days[0], sessions)) - PEER_WINDOW - 5)]
    return monthly_peer_groups(daily_returns(stored_market(history, start, days[-1])), days, sessions)


def _terms(day, scored: pd.DataFrame) -> pd.DataFrame:
    f = scored.set_index("symbol")
    alpha = f["alpha_z"] if f["alpha_z"].notna().any() else None
    out = blend_terms(f[list(FACTORS)], alpha, f["roc_21"], f["rsi_14"])
    out[["realized_vol_63", "adv_20", "alpha_z"]] = f[["realized_vol_63", "adv_20", "alpha_z"]].astype(float)
    return out.reset_index().assign(date=day)


def rescreen(history, days: pd.DatetimeIndex, settings, *, alpha_weight: float, lead: pd.DatetimeIndex | None = None,
             keep_terms: bool = False, progress=None) -> Rescreened:
    """Each of `days` (stored sessions) screened under `settings` (a config.ScanSettings) from its stored
    inputs; `lead`: stored days before them that a learned blend may learn from (not returned). An
    error names a day whose inputs the store lacks. `progress(done, of)`, if given, is called after each
    day screened (the live page shows how far a re-screen has come; a learned blend screens the days of
    a month with weights twice, and the count grows by them once they are known)."""
    started = time.perf_counter()
    learned = getattr(settings, "ranking", "hand") == "learned"
    wanted = days
    days = wanted if lead is None or not (learned or keep_terms) else pd.DatetimeIndex(lead).append(wanted)
    first, last = days[0], days[-1]
    sessions = nyse().sessions
    window_start = sessions[max(0, sessions.searchsorted(first) - (LOOKBACK - 1))]
    universe = _by_day(history.read_span("universe", first, last))
    indicators = _by_day(history.read_span("indicators", first, last))
    reports = _by_day(history.read_span("fundamentals", first, last))
    regime = history.read_span("market_regime", first, last, ["date", "risk"]).set_index("date")["risk"]
    stored = history.read_span("alpha_forecasts", first, last, ["date", "symbol", "alpha_5d", "alpha_10d"])
    forecasts = _by_day(stored.drop_duplicates(["date", "symbol"]))
    models = _by_day(history.read_span("alpha_model", first, last)) if alpha_weight > 0 else {}
    splits = history.read_span("price_bars", window_start, last, ["date", "symbol", "split_ratio"])
    splits = splits[splits["split_ratio"] != 1.0]
    market = peers = None
    if learned or keep_terms or getattr(settings, "peer_groups", False):
        bars_from = sessions[max(0, sessions.searchsorted(month_start(first, sessions)) - PEER_WINDOW - 5)]
        market = stored_market(history, bars_from, last)
    if getattr(settings, "peer_groups", False):
        peers = monthly_peer_groups(daily_returns(market), days, sessions)
    read = time.perf_counter() - started
    boosters: dict = {}
    scores, picks, terms, forecast_seconds = {}, {}, [], 0.0

    def screened(day, blend=None):
        nonlocal forecast_seconds
        missing = [name for name, part in (("universe", universe), ("indicators", indicators),
                                           ("market_regime", regime)) if day not in part]
        if missing:
            raise ValueError(f"{day:%Y-%m-%d}: the store holds no {' or '.join(missing)} for it; scan it first")
        listed = universe[day]
        ind = indicators[day]
        fund = reports.get(day, empty_fundamentals())  # a source without fundamentals stores none
        day_start = sessions[max(0, sessions.searchsorted(day) - (LOOKBACK - 1))]
        window = splits[(splits["date"] >= day_start) & (splits["date"] <= day)]
        panel = factor_panel(listed[["symbol", "sector"]], ind[["symbol"]], fund, window)
        # by symbol, in the listings' order, as core.screen blends them into MERIT by symbol
        fc = (listed[["symbol"]].merge(forecasts.get(day, pd.DataFrame(columns=["symbol", "alpha_5d", "alpha_10d"])),
                                       on="symbol", how="left").set_index("symbol")[["alpha_5d", "alpha_10d"]]
              .astype(float))
        prep = prepare(listed, ind, panel.drop(columns=["symbol", "sector"]).reset_index(drop=True), fc)
        if day in models:
            tick = time.perf_counter()
            _, reason, _ = drop_reasons(prep.merged, day, settings.filter_settings())
            lacking = (reason.isna().to_numpy() & fc["alpha_5d"].isna().to_numpy())
            if lacking.any():
                fc = _forecast(history, day, listed, ind, fund, models[day], lacking, fc, boosters)
                prep = dataclasses.replace(prep, forecasts=fc)
            forecast_seconds += time.perf_counter() - tick
        order = np.argsort(np.argsort(listed["symbol"].to_numpy().astype(str), kind="stable"))
        return screen_day(prep, day, str(regime[day]), settings, order, alpha_weight,
                          peers=None if peers is None else peers[day], blend=blend)

    for step, day in enumerate(days, 1):
        done = screened(day)
        if learned or keep_terms:
            terms.append(_terms(day, done.scored))
        scores[day], picks[day] = _rows(day, done)
        if progress is not None:
            progress(step, len(days))
    weights = None
    if learned or keep_terms:
        terms = pd.concat(terms, ignore_index=True)
        terms["label"] = forward_returns(market.growth, market.symbols, market.sessions, terms)
    if learned:
        months = sorted({month_start(day, sessions) for day in wanted})
        weights = monthly_weights(terms, terms["label"], months, sessions)
        again = [day for day in wanted if weights[month_start(day, sessions)] is not None]
        for step, day in enumerate(again, len(days) + 1):  # the count grows by the days screened again
            scores[day], picks[day] = _rows(day, screened(day, weights[month_start(day, sessions)]))
            if progress is not None:
                progress(step, len(days) + len(again))
    total = time.perf_counter() - started
    return Rescreened(pd.concat([scores[d] for d in wanted], ignore_index=True),
                      pd.concat([picks[d] for d in wanted], ignore_index=True),
                      {"read": read, "screen": total - read - forecast_seconds, "forecast": forecast_seconds},
                      terms if keep_terms else None, weights)


def _rows(day, done) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (pd.DataFrame({"date": day, "symbol": done.scored["symbol"].to_numpy(),
                          "score": done.scored["merit_score"].to_numpy(dtype=float)}),
            pd.DataFrame({"date": day, "symbol": done.top["symbol"].to_numpy(), "rank": done.top["rank"].to_numpy()}))


def _forecast(history, day, listed, ind, fund, models, lacking, fc, boosters) -> pd.DataFrame:
    """`fc` with the names in `lacking` forecast by the day's stored models (core.alpha_model)."""
    for model_id in models["model_id"]:
        if model_id not in boosters:
            boosters[model_id] = load_booster(history.model_bytes(model_id))
    rows = pd.DataFrame({"date": day, "symbol": listed["symbol"].to_numpy()[lacking]})
    made, _ = forecasts_for_days(rows, ind.assign(date=day), fund.assign(date=day), models.assign(date=day),
                                 boosters.__getitem__)
    made = rows[["symbol"]].merge(made, on="symbol", how="left")
    out = fc.copy()
    out.loc[lacking, ["alpha_5d", "alpha_10d"]] = made[["alpha_5d", "alpha_10d"]].to_numpy(dtype=float)
    return out
