"""One materialized day, read from the store once, read-only, for the live engine.

Everything a screen or an intraday rescan needs that does not change during the day: the listings,
the day's indicators, point-in-time fundamentals, the splits of the window, the regime, the alpha
forecasts of every listed symbol (the day's models; a forecast is a per-symbol prediction, so one
for every listing serves any screen), the stored top N, and the LOOKBACK-session window of raw bars
(the intraday continuation and the charts read it).

The day is one saved screen's (the primary, "default", unless asked): the tables a screen changes
(filtered_universe, factors, ics, merit, ranked_top_n) are read for it alone. The settings the day was
built with are not a table of their own; they are read back from what the
day's tables hold: the style from the ICS contributions (contribution = weight x factor z-score),
the alpha weight from MERIT's alpha contribution (weight x alpha z-score), the sectors and ETFs from
the filtered universe, N from the top N. Price and liquidity bounds are the scan's defaults; the
engine checks that they give back the stored filtered universe and says so (`settings_match`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from technic_assets.core.factors import FACTORS
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.schema import GICS_SECTORS
from technic_assets.core.scoring import ICS_WEIGHTS
from technic_assets.storage.connection import SCHEMA, column_exists, connect, quoted, table, table_exists
from technic_assets.storage.history import stored_columns, with_added_columns


class DayNotFound(LookupError):
    """The store has no scanned day to serve (or not the one asked for)."""


@dataclass
class StoredDay:
    path: str
    day: pd.Timestamp
    sessions: pd.DatetimeIndex          # the trading calendar (every NYSE session)
    universe: pd.DataFrame              # LISTING_COLUMNS (+ valid_ticker), no date
    indicators: pd.DataFrame            # symbol, last_date, n_bars, INDICATOR_COLUMNS, split_unverified
    fundamentals: pd.DataFrame          # FUNDAMENTAL_COLUMNS, no date
    splits: pd.DataFrame                # date, symbol, split_ratio: the window's split events
    window_bars: pd.DataFrame | None    # BAR_COLUMNS, raw, the LOOKBACK sessions ending on the day (None: not read yet)
    regime: dict                        # the market_regime row
    forecasts: pd.DataFrame             # symbol, alpha_5d, alpha_10d for every listing (NaN: no model)
    ranked_top_n: pd.DataFrame          # the stored top N, by rank
    filtered_symbols: set               # the stored filtered universe
    style: str
    alpha_weight: float
    top_n: int
    sectors: tuple[str, ...]
    include_etfs: bool
    stats: dict = field(default_factory=dict)
    screen: str = "default"             # the saved screen read (a learned blend's weights are its own)


SCREENED = ("filtered_universe", "factors", "ics", "merit", "ranked_top_n")


def _screened(conn, name: str) -> str:
    """The SQL condition on a screen (bound as the last parameter) where the table has screens."""
    return " AND coalesce(screen, 'default') = ?" if column_exists(conn, SCHEMA, name, "screen") else ""


def latest_scanned_day(conn, screen: str = "default") -> pd.Timestamp:
    if not table_exists(conn, "ranked_top_n"):
        raise DayNotFound("the store has no ranked_top_n yet; run `technic scan` first")
    where = _screened(conn, "ranked_top_n")
    found = conn.execute(f"SELECT max(date) FROM {SCHEMA}.ranked_top_n WHERE true{where}",
                         [screen] if where else []).fetchone()[0]
    if found is None:
        raise DayNotFound(f"the store's ranked_top_n holds no day of the screen {screen!r}; run `technic scan` first")
    return pd.Timestamp(found)


def _day_rows(conn, name: str, day: pd.Timestamp, screen: str = "default") -> pd.DataFrame:
    if not table_exists(conn, name):
        return pd.DataFrame()
    where = _screened(conn, name) if name in SCREENED else ""
    rows = conn.execute(f"SELECT * FROM {SCHEMA}.{table(name)} WHERE date = ?{where}",
                        [day.to_pydatetime(), *([screen] if where else [])]).fetchdf()
    return rows.drop(columns=[c for c in ("date", "screen") if c in rows.columns])


def _style(factors: pd.DataFrame, ics: pd.DataFrame) -> str:
    """The style whose ICS weights turn the stored factor z-scores into the stored contributions."""
    both = factors.merge(ics, on="symbol")
    errors = {style: max(float(np.nanmax(np.abs(both[f"contrib_{f}"] - both[f] * w[f]))) for f in FACTORS)
              for style, w in ICS_WEIGHTS.items()}
    return min(errors, key=errors.get)


def _alpha_weight(merit: pd.DataFrame, default: float) -> float:
    """MERIT's alpha contribution over the alpha z-score; `default` where the day blended no alpha."""
    z = merit["alpha_z"].to_numpy(dtype=float)
    usable = np.isfinite(z) & (np.abs(z) > 1e-6)
    if not usable.any():
        return default
    return float(np.median(merit["merit_contrib_alpha"].to_numpy(dtype=float)[usable] / z[usable]))


def _forecasts(path: str, day: pd.Timestamp, conn, universe, indicators, fundamentals) -> pd.DataFrame:
    """The day's models applied to every listing (core.alpha_model.forecasts_for_days)."""
    from technic_assets.core.alpha_model import forecasts_for_days, load_booster

    models = _day_rows(conn, "alpha_model", day)
    everyone = pd.DataFrame({"date": day, "symbol": universe["symbol"].to_numpy()})
    if models.empty:
        return everyone.drop(columns="date").assign(alpha_5d=np.nan, alpha_10d=np.nan)
    boosters = {}
    for model_id in models["model_id"]:
        blob = conn.execute(f"SELECT model FROM {SCHEMA}.alpha_models WHERE model_id = ?", [model_id]).fetchone()
        if blob is None:
            raise DayNotFound(f"alpha model {model_id!r} of {day:%Y-%m-%d} is not in the store {path}")
        boosters[model_id] = load_booster(bytes(blob[0]))
    out, _ = forecasts_for_days(everyone, indicators.assign(date=day), fundamentals.assign(date=day),
                                models.assign(date=day), boosters.__getitem__)
    return out[["symbol", "alpha_5d", "alpha_10d"]]


def window_start(day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    return sessions[max(0, sessions.get_loc(day) - (LOOKBACK - 1))]


def read_window(path: str, day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """The raw bars (BAR_COLUMNS) of the LOOKBACK sessions ending on `day`, sorted by symbol and date."""
    from technic_assets.core.schema import BAR_COLUMNS

    conn = connect(path, read_only=True)
    try:
        have = {r[0] for r in conn.execute(f"DESCRIBE SELECT * FROM {SCHEMA}.price_bars").fetchall()}
        names = ", ".join(quoted(c) for c in stored_columns("price_bars", BAR_COLUMNS, have))
        found = conn.execute(f"SELECT {names} FROM {SCHEMA}.price_bars WHERE date >= ? AND date <= ? "
                             "ORDER BY symbol, date",
                             [window_start(day, sessions).to_pydatetime(), day.to_pydatetime()]).fetchdf()
    finally:
        conn.close()
    return with_added_columns("price_bars", found, BAR_COLUMNS)


def load_day(path: str, day=None, *, screen: str = "default", default_alpha_weight: float = 0.35,
             sessions: pd.DatetimeIndex | None = None, window: bool = True) -> StoredDay:
    """Read one scanned day of `screen` (the latest with its ranked_top_n when `day` is None) from the
    store file; without `window`, all but the window of bars (read_window reads it; the splits in it
    are read here)."""
    if not Path(path).exists():
        raise DayNotFound(f"no store at {path}; run `technic scan` first")
    if sessions is None:
        from technic_assets.core.calendar import nyse

        sessions = nyse().sessions
    conn = connect(path, read_only=True)
    try:
        day = latest_scanned_day(conn, screen) if day is None else pd.Timestamp(day)
        top = _day_rows(conn, "ranked_top_n", day, screen)
        if top.empty:
            raise DayNotFound(f"the store {path} holds no ranked_top_n of the screen {screen!r} for "
                              f"{day:%Y-%m-%d}; run `technic scan --date {day:%Y-%m-%d}` first")
        universe = _day_rows(conn, "universe", day)
        indicators = _day_rows(conn, "indicators", day)
        fundamentals = _day_rows(conn, "fundamentals", day)
        regime = _day_rows(conn, "market_regime", day).iloc[0].to_dict()
        factors, ics, merit = (_day_rows(conn, n, day, screen) for n in ("factors", "ics", "merit"))
        kept = _day_rows(conn, "filtered_universe", day, screen)
        splits = conn.execute(f"SELECT date, symbol, split_ratio FROM {SCHEMA}.price_bars WHERE date >= ? "
                              "AND date <= ? AND split_ratio <> 1.0 ORDER BY symbol, date",
                              [window_start(day, sessions).to_pydatetime(), day.to_pydatetime()]).fetchdf()
        forecasts = _forecasts(path, day, conn, universe, indicators, fundamentals)
    finally:
        conn.close()
    bars = read_window(path, day, sessions) if window else None
    sectors = set(kept["sector"]) - {"ETF", "Unknown"}
    return StoredDay(
        path=path, day=day, sessions=sessions, universe=universe, indicators=indicators,
        fundamentals=fundamentals, splits=splits, window_bars=bars, regime=regime, forecasts=forecasts,
        ranked_top_n=top.sort_values("rank").reset_index(drop=True), filtered_symbols=set(kept["symbol"]),
        style=_style(factors, ics), alpha_weight=_alpha_weight(merit, default_alpha_weight), top_n=len(top),
        sectors=tuple(s for s in GICS_SECTORS if s in sectors), include_etfs=bool((kept["type"] == "ETF").any()),
        screen=screen,
    )
