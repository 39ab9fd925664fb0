"""Any settings over the stored history, without re-running the graph: each stored day re-screened from
what the evening stored (listings, indicators, point-in-time reports, the window's splits, the regime,
the forecasts) through core.screen's chain, the one the live engine runs.

Nothing dated after a day reaches its screen: each day reads its own rows, the splits up to it, and
forecasts made by that day's models. A name that the new settings keep but no stored screen kept has
no stored forecast; it is forecast here by the day's own stored models (as the live engine forecasts
every listing), so a looser filter is scored exactly as the graph would have scored it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd

from technic_assets.core.alpha_model import forecasts_for_days, load_booster
from technic_assets.core.calendar import nyse
from technic_assets.core.factors import factor_panel
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.screen import prepare, screen_day
from technic_assets.core.universe_filter import drop_reasons


@dataclasses.dataclass
class Rescreened:
    scores: pd.DataFrame    # date, symbol, score (MERIT) of every name the settings keep
    picks: pd.DataFrame     # date, symbol, rank: each day's top N
    seconds: dict           # read, screen, forecast


def _by_day(frame: pd.DataFrame) -> dict[pd.Timestamp, pd.DataFrame]:
    return {pd.Timestamp(d): rows.drop(columns="date").reset_index(drop=True)
            for d, rows in frame.groupby("date", sort=True)}


def rescreen(history, days: pd.DatetimeIndex, settings, *, alpha_weight: float, progress=None) -> Rescreened:
    """Each of `days` (stored sessions) screened under `settings` (a config.ScanSettings) from its stored
    inputs; an error names a day whose inputs the store lacks. `progress(done, of)`, if given, is called
    after each day (the live page shows how far a re-screen has come)."""
    started = time.perf_counter()
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
    read = time.perf_counter() - started
    boosters: dict = {}
    scores, picks, forecast_seconds = [], [], 0.0
    for done_days, day in enumerate(days, 1):
        missing = [name for name, part in (("universe", universe), ("indicators", indicators),
                                           ("market_regime", regime)) if day not in part]
        if missing:
            raise ValueError(f"{day:%Y-%m-%d}: the store holds no {' or '.join(missing)} for it; scan it first")
        listed = universe[day]
        ind = indicators[day]
        fund = reports.get(day, pd.DataFrame(columns=["symbol", "published"]))
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
        done = screen_day(prep, day, str(regime[day]), settings, order, alpha_weight)
        scores.append(pd.DataFrame({"date": day, "symbol": done.scored["symbol"].to_numpy(),
                                    "score": done.scored["merit_score"].to_numpy(dtype=float)}))
        picks.append(pd.DataFrame({"date": day, "symbol": done.top["symbol"].to_numpy(),
                                   "rank": done.top["rank"].to_numpy()}))
        if progress is not None:
            progress(done_days, len(days))
    total = time.perf_counter() - started
    return Rescreened(pd.concat(scores, ignore_index=True), pd.concat(picks, ignore_index=True),
                      {"read": read, "screen": total - read - forecast_seconds, "forecast": forecast_seconds})


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
