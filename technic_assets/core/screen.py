"""One day's screen: the scoring chain on a whole cross-section, for any settings.

The assets compute each stage for every day of a partition and store it; this module runs the same
stage functions (drop_reasons, compute_factors, ics_score, merit_score, rank_top_n) on one day's
cross-section in a single call, with what no setting changes prepared once (`prepare`). The live
engine calls it on every version of the forming day, and the backtest on every stored day when the
settings differ from the stored screen's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.core.blend import blend_terms
from technic_assets.core.factors import FACTORS, compute_factors, raw_components
from technic_assets.core.indicators import INDICATOR_COLUMNS
from technic_assets.core.peers import neutral_groups
from technic_assets.core.scoring import TOP_COLUMNS, alpha_signal, ics_score, merit_score, rank_top_n
from technic_assets.core.universe_filter import REASONS, drop_reasons

# listing and indicator columns a screen's rows carry (TOP_COLUMNS' own, and the type)
LISTING_SHOWN = ["name", "type", "sector", *[c for c in TOP_COLUMNS if c in INDICATOR_COLUMNS]]


@dataclass
class Screened:
    """Every kept symbol scored and in rank order, the top N, and why the others fell."""

    top: pd.DataFrame                 # rank_top_n's rows (TOP_COLUMNS), the settings' top N
    scored: pd.DataFrame              # every kept symbol: MERIT, ICS, factors, contributions; by rank
    reasons: pd.Series                # symbol -> the first rule that dropped it (NA: kept)
    counts: dict                      # dropped per rule
    sectors_kept: list
    seconds: float


@dataclass(frozen=True)
class Prepared:
    merged: pd.DataFrame       # listings + indicators, one row per listing
    panel: pd.DataFrame        # factor_panel of every listing (same rows): what compute_factors reads
    raw: pd.DataFrame          # raw_components of that panel
    forecasts: pd.DataFrame    # alpha_5d, alpha_10d by symbol (same rows)
    shown: pd.DataFrame        # LISTING_SHOWN (same rows)


def prepare(universe: pd.DataFrame, indicators: pd.DataFrame, reports: pd.DataFrame,
            forecasts: pd.DataFrame) -> Prepared:
    """What every screen of a version shares: the listings merged with the indicators, the factor
    panel's raw components for every listing, the forecasts. `reports` (the report and the splits
    since it) and `forecasts` are per listing, in the listings' order. `indicators` None: `universe`
    holds them already, joined by the caller (many days' listings at once, core.screen_days)."""
    merged = universe if indicators is None else universe.merge(indicators, on="symbol", how="left")
    if len(merged) != len(universe):
        raise ValueError("rescan: the indicators hold a symbol twice; give one row per symbol")
    # factor_panel's rows, in the listings' order: the indicators merged now, the reports and the
    # splits since them (which no intraday update changes) joined once at load
    panel = side_by_side(columns_of(merged, ["symbol", "sector", *INDICATOR_COLUMNS]), reports)
    # MERIT blends the alpha by symbol: label the forecasts' rows with the listings' symbols
    forecasts = forecasts.set_axis(pd.Index(universe["symbol"].to_numpy(), name="symbol"))
    return Prepared(merged, columns_of(panel, ["symbol", "sector", "realized_vol_63", "adv_20", "roc_21", "rsi_14"]),
                    raw_components(panel), forecasts, columns_of(merged, LISTING_SHOWN))


def columns_of(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """These columns of `frame`, sharing its arrays: frame[columns] first merges a frame's blocks of
    one dtype into one, which for a many-day panel of millions of rows is a copy of every column."""
    return pd.DataFrame({c: frame[c] for c in columns}, index=frame.index, copy=False)


def side_by_side(*frames: pd.DataFrame) -> pd.DataFrame:
    """The frames' columns side by side, rows matched by label as pd.concat(axis=1) matches them, their
    arrays shared: pd.concat copies every column."""
    return pd.DataFrame({c: frame[c] for frame in frames for c in frame.columns}, copy=False)


def screen_day(prep: Prepared, day: pd.Timestamp, risk: str, settings, symbol_order: np.ndarray,
               alpha_weight: float, *, peers: pd.Series | None = None,
               blend: dict[str, float] | None = None) -> Screened:
    """The scoring chain on one day's cross-section under `settings` (a config.ScanSettings: style,
    top_n, filter_settings(), ranking switches), with the regime's `risk` state; `symbol_order` is each
    listing's place in symbol order (the ranking's last tie-break). Each stage is the core function the
    assets call per day: filter (drop_reasons), factors (compute_factors on the kept rows of the
    prepared panel, neutral within the sector, or the peer group of `peers` (symbol -> group, this
    month's core.peers fit) where the sector is missing and settings.peer_groups is on), ICS, MERIT with
    the regime and the alpha forecasts (or, with settings.ranking "learned", the month's `blend`
    weights of core.blend; without them the hand weights), the ranking (rank_top_n)."""
    started = time.perf_counter()
    df, reason, chosen = drop_reasons(prep.merged, day, settings.filter_settings())
    tally = reason.value_counts()
    counts = {name: int(tally.get(name, 0)) for name in REASONS}
    reasons = pd.Series(reason.to_numpy(), index=df["symbol"].to_numpy())
    mask = reason.isna().to_numpy()
    if not mask.any():
        empty = pd.DataFrame(columns=TOP_COLUMNS)
        return Screened(empty, empty, reasons, counts, chosen, time.perf_counter() - started)
    panel = prep.panel[mask]
    if getattr(settings, "peer_groups", False) and peers is not None:
        panel = panel.assign(sector=neutral_groups(panel["sector"], panel["symbol"], peers))
    z, _ = compute_factors(panel, settings.style, raw=prep.raw[mask])
    factors = pd.concat([panel[["symbol", "realized_vol_63", "adv_20"]], z], axis=1).set_index("symbol")
    ics = ics_score(factors[list(FACTORS)], settings.style)
    fc = prep.forecasts[mask][["alpha_5d", "alpha_10d"]]
    alpha = alpha_signal(fc) if bool(fc.notna().any().any()) else None
    learned = blend if getattr(settings, "ranking", "hand") == "learned" else None
    terms = blend_terms(factors, alpha, panel["roc_21"], panel["rsi_14"]) if learned is not None else None
    scored = merit_score(factors[list(FACTORS)], factors["realized_vol_63"], factors["adv_20"], settings.style,
                         risk, alpha=alpha, alpha_weight=alpha_weight, learned=learned, terms=terms,
                         tilt=getattr(settings, "regime_tilt", True), penalties=getattr(settings, "risk_penalties", True))
    # every frame here is in the kept rows' order (panel, forecasts and listings all follow the
    # listings' order), so columns are set side by side rather than joined on the symbol
    columns = {"symbol": factors.index.to_numpy(), **{c: scored[c].to_numpy() for c in scored.columns},
               "ics_score": ics["ics_score"].to_numpy(), "alpha_5d": fc["alpha_5d"].to_numpy(),
               "alpha_10d": fc["alpha_10d"].to_numpy(),
               "alpha_z": alpha.to_numpy(dtype=float) if alpha is not None else np.full(len(fc), np.nan),
               **{f: factors[f].to_numpy() for f in FACTORS}}
    listing = prep.shown[mask]
    columns.update({c: listing[c].to_numpy() for c in listing.columns if c not in columns})
    today = pd.DataFrame(columns)
    # rank_top_n's order (MERIT, then ICS, descending; then symbol), for every kept name
    order = np.lexsort((symbol_order[mask], -today["ics_score"].to_numpy(),
                        -today["merit_score"].to_numpy()))
    ordered = today.take(order).reset_index(drop=True)
    top = rank_top_n(ordered.head(settings.top_n), settings.top_n)[TOP_COLUMNS]
    ordered.insert(0, "rank", np.arange(1, len(ordered) + 1))
    ordered["reasons"] = ""
    ordered.loc[: len(top) - 1, "reasons"] = top["reasons"].to_numpy()
    return Screened(top, ordered, reasons, counts, chosen, time.perf_counter() - started)
