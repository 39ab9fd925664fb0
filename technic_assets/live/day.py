"""One materialized day, read from the store once, read-only, for the live engine.

Everything a screen or an intraday rescan needs that does not change during the day: the listings,
the day's indicators, point-in-time fundamentals, the splits of the window, the regime, the alpha
forecasts of every listed symbol (the day's models; a forecast is a per-symbol prediction, so one
for every listing serves any screen), the stored top N, and the LOOKBACK-session window of raw bars
(the intraday continuation and the charts read it).

The day is one saved screen's (the primary, "default", unless asked): the tables a screen changes
(filtered_universe, factors, ics, merit, ranked_top_n) are read for it alone. Every read goes through
the storage interface (storage.history), so a DuckDB file and an Iceberg store serve alike.

The settings the day was built with are stored with its top N (`settings`, JSON) and read back. A
store written before they were has none: for such a day alone they are inferred from what its tables
hold (the style from the ICS contributions, the alpha weight from MERIT's, the sectors and ETFs from
the filtered universe, N from the top N, bounds at their defaults), and `settings_stored` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from technic_assets.config import ScanSettings, scan_settings, settings_from_record
from technic_assets.core.alpha_model import forecasts_for_days, load_booster
from technic_assets.core.calendar import nyse
from technic_assets.core.factors import FACTORS
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.schema import BAR_COLUMNS, GICS_SECTORS
from technic_assets.core.scoring import ICS_WEIGHTS
from technic_assets.storage.connection import SCHEMA, quoted
from technic_assets.storage.history import History, screen_span, stored_columns, with_added_columns
from technic_assets.storage.iceberg import is_iceberg, redacted
from technic_assets.storage.resource import history_for


class DayNotFound(LookupError):
    """The store has no scanned day to serve (or not the one asked for)."""


@dataclass
class StoredDay:
    path: str                           # the store's location: a DuckDB file or an Iceberg store URL
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
    settings: ScanSettings              # what the day's screen was run with
    alpha_weight: float                 # the share of MERIT given to the forecasts
    settings_stored: bool               # read back (True) or inferred from an older store's tables (False)
    stats: dict = field(default_factory=dict)
    screen: str = "default"             # the saved screen read (a learned blend's weights are its own)

    @property
    def style(self) -> str:
        return self.settings.style

    @property
    def top_n(self) -> int:
        return self.settings.top_n


def _reader(location: str) -> History:
    """The store's history, read-only; a missing DuckDB file is DayNotFound, not an empty store."""
    if not is_iceberg(location) and not Path(location).exists():
        raise DayNotFound(f"no store at {location}; run `technic scan` first")
    return history_for(location, read_only=True)


def _where(location: str) -> str:
    return redacted(location) if is_iceberg(location) else location


def latest_scanned_day(history: History, screen: str = "default") -> pd.Timestamp:
    head = history.query("ranked_top_n", f"SELECT * FROM {SCHEMA}.ranked_top_n LIMIT 0", [])
    if head is None:
        raise DayNotFound("the store has no ranked_top_n yet; run `technic scan` first")
    where = " WHERE coalesce(screen, 'default') = ?" if "screen" in head.columns else ""
    found = history.query("ranked_top_n", f"SELECT max(date) AS day FROM {SCHEMA}.ranked_top_n{where}",
                          [screen] if where else [])["day"].iloc[0]
    if pd.isna(found):
        raise DayNotFound(f"the store's ranked_top_n holds no day of the screen {screen!r}; run `technic scan` first")
    return pd.Timestamp(found)


def _day_rows(history: History, name: str, day: pd.Timestamp, screen: str = "default") -> pd.DataFrame:
    """Table `name`'s rows of `day` (of `screen`, where the table is one a screen changes: it has the
    column), without the date and screen columns; none where the table is not there."""
    rows = with_added_columns(name, screen_span(history, name, day, day, None, screen))
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


def _inferred_settings(history: History, day: pd.Timestamp, screen: str, top: pd.DataFrame, kept: pd.DataFrame,
                       default_alpha_weight: float) -> tuple[ScanSettings, float]:
    """An older store's settings, read back from its scores (see the module's docstring)."""
    factors, ics, merit = (_day_rows(history, n, day, screen) for n in ("factors", "ics", "merit"))
    sectors = set(kept["sector"]) - {"ETF", "Unknown"}
    settings = scan_settings(style=_style(factors, ics), top_n=len(top),
                             sectors=[s for s in GICS_SECTORS if s in sectors],
                             include_etfs=bool((kept["type"] == "ETF").any()))
    return settings, _alpha_weight(merit, default_alpha_weight)


def _forecasts(history: History, day: pd.Timestamp, universe, indicators, fundamentals) -> pd.DataFrame:
    """The day's models applied to every listing (core.alpha_model.forecasts_for_days)."""
    models = _day_rows(history, "alpha_model", day)
    everyone = pd.DataFrame({"date": day, "symbol": universe["symbol"].to_numpy()})
    if models.empty:
        return everyone.drop(columns="date").assign(alpha_5d=np.nan, alpha_10d=np.nan)
    boosters = {model_id: load_booster(history.model_bytes(model_id)) for model_id in models["model_id"]}
    out, _ = forecasts_for_days(everyone, indicators.assign(date=day), fundamentals.assign(date=day),
                                models.assign(date=day), boosters.__getitem__)
    return out[["symbol", "alpha_5d", "alpha_10d"]]


def window_start(day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    return sessions[max(0, sessions.get_loc(day) - (LOOKBACK - 1))]


def read_window(location: str, day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """The raw bars (BAR_COLUMNS) of the LOOKBACK sessions ending on `day`, sorted by symbol and date."""
    history = _reader(location)
    with history.reading():
        head = history.query("price_bars", f"SELECT * FROM {SCHEMA}.price_bars LIMIT 0", [])
        names = ", ".join(quoted(c) for c in stored_columns("price_bars", BAR_COLUMNS, head.columns))
        found = history.query("price_bars", f"SELECT {names} FROM {SCHEMA}.price_bars WHERE date >= ? AND "
                              "date <= ? ORDER BY symbol, date",
                              [window_start(day, sessions).to_pydatetime(), day.to_pydatetime()])
    return with_added_columns("price_bars", found, BAR_COLUMNS)


def load_day(location: str, day=None, *, screen: str = "default", default_alpha_weight: float = 0.35,
             sessions: pd.DatetimeIndex | None = None, window: bool = True) -> StoredDay:
    """Read one scanned day of `screen` (the latest with its ranked_top_n when `day` is None) from the
    store (a DuckDB file's path or an Iceberg store's URL); without `window`, all but the window of bars
    (read_window reads it; the splits in it are read here)."""
    history = _reader(location)
    with history.reading():
        sessions = nyse().sessions if sessions is None else sessions
        day = latest_scanned_day(history, screen) if day is None else pd.Timestamp(day)
        top = _day_rows(history, "ranked_top_n", day, screen)
        if top.empty:
            raise DayNotFound(f"the store {_where(location)} holds no ranked_top_n of the screen {screen!r} for "
                              f"{day:%Y-%m-%d}; run `technic scan --date {day:%Y-%m-%d}` first")
        universe = _day_rows(history, "universe", day)
        indicators = _day_rows(history, "indicators", day)
        fundamentals = _day_rows(history, "fundamentals", day)
        regime = _day_rows(history, "market_regime", day).iloc[0].to_dict()
        kept = _day_rows(history, "filtered_universe", day, screen)
        splits = history.query("price_bars", f"SELECT date, symbol, split_ratio FROM {SCHEMA}.price_bars "
                               "WHERE date >= ? AND date <= ? AND split_ratio <> 1.0 ORDER BY symbol, date",
                               [window_start(day, sessions).to_pydatetime(), day.to_pydatetime()])
        forecasts = _forecasts(history, day, universe, indicators, fundamentals)
        recorded = top["settings"].dropna().unique()
        if len(recorded):
            settings, weight = settings_from_record(recorded[0])
        else:
            settings, weight = _inferred_settings(history, day, screen, top, kept, default_alpha_weight)
    bars = read_window(location, day, sessions) if window else None
    return StoredDay(
        path=location, day=day, sessions=sessions, universe=universe, indicators=indicators,
        fundamentals=fundamentals, splits=splits, window_bars=bars, regime=regime, forecasts=forecasts,
        ranked_top_n=top.drop(columns="settings").sort_values("rank").reset_index(drop=True),
        filtered_symbols=set(kept["symbol"]), settings=settings, alpha_weight=weight,
        settings_stored=bool(len(recorded)), screen=screen,
    )
