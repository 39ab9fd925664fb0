"""One screen of a cross-section: the core stages the assets chain, on one version's inputs.

A screen runs core.pipeline's stages on the whole cross-section of a version: the smart filter
(drop_reasons, which names each symbol's rule), sector-neutral factor z-scores (compute_factors),
ICS, regime-tilted MERIT blended with the alpha forecasts, and the top N with its reasons (rank_top_n);
what no setting changes is prepared once per version (`prepare`). The engine (live.engine) owns the
versions; this module only computes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from technic_assets.core.factors import FACTORS, compute_factors, raw_components
from technic_assets.core.indicators import INDICATOR_COLUMNS
from technic_assets.core.scoring import TOP_COLUMNS, alpha_signal, ics_score, merit_score, rank_top_n
from technic_assets.core.universe_filter import REASONS, drop_reasons

LIQUIDITY_COLUMNS = ["adv_20", "price_cv_63"]  # kept at the last close's values intraday
# listing and indicator columns a screen's rows carry (TOP_COLUMNS' own, and the type)
LISTING_SHOWN = ["name", "type", "sector", *[c for c in TOP_COLUMNS if c in INDICATOR_COLUMNS]]


@dataclass(frozen=True)
class Snapshot:
    """One version of the cross-section's inputs: what a rescan changes."""

    version: int
    day: pd.Timestamp                 # the session the indicators are for (the forming day intraday)
    as_of: pd.Timestamp               # when the data is from (UTC)
    source: str                       # "store", "replay", "polygon", ...
    indicators: pd.DataFrame          # symbol, last_date, n_bars, INDICATOR_COLUMNS, split_unverified
    risk: str                         # the regime's risk state
    ages: pd.Series | None = None     # symbol -> seconds since its last data
    rel_volume: pd.Series | None = None  # symbol -> volume so far / 20-day average volume
    published: float = field(default_factory=time.time)

    def meta(self) -> dict:
        ages = self.ages.dropna() if self.ages is not None else None
        return {"version": self.version, "day": f"{self.day:%Y-%m-%d}", "as_of": self.as_of.isoformat(),
                "source": self.source,
                "data_age_s": None if ages is None or ages.empty else round(float(ages.median()), 3),
                "data_age_max_s": None if ages is None or ages.empty else round(float(ages.max()), 3)}


@dataclass
class ScreenResult:
    """A screen of one version: every kept symbol scored and in rank order, and why the others fell."""

    snapshot: Snapshot
    settings: object                  # ScanSettings
    top: pd.DataFrame                 # rank_for_days' rows (TOP_COLUMNS), the settings' top N
    scored: pd.DataFrame              # every kept symbol: MERIT, ICS, factors, contributions; by rank
    reasons: pd.Series                # symbol -> the first rule that dropped it (NA: kept)
    counts: dict                      # dropped per rule
    sectors_kept: list
    seconds: float

    @property
    def as_of(self) -> pd.Timestamp:
        return self.snapshot.as_of

    @property
    def source(self) -> str:
        return self.snapshot.source

    @property
    def version(self) -> int:
        return self.snapshot.version


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
    since it) and `forecasts` are per listing, in the listings' order."""
    merged = universe.merge(indicators, on="symbol", how="left")
    if len(merged) != len(universe):
        raise ValueError("rescan: the indicators hold a symbol twice; give one row per symbol")
    # factor_panel's rows, in the listings' order: the indicators merged now, the reports and the
    # splits since them (which no intraday update changes) joined once at load
    panel = pd.concat([merged[["symbol", "sector", *INDICATOR_COLUMNS]], reports], axis=1)
    return Prepared(merged, panel[["symbol", "sector", "realized_vol_63", "adv_20"]], raw_components(panel),
                    forecasts, merged[LISTING_SHOWN])


def screen_cross_section(prep: Prepared, snap: Snapshot, settings, symbol_order: np.ndarray,
                     alpha_weight: float) -> ScreenResult:
    """core.pipeline's chain on one cross-section (`symbol_order`: each listing's place in symbol order): filter (drop_reasons), factors (compute_factors
    on the kept rows of the version's panel), ICS, MERIT with the regime and the alpha forecasts,
    the ranking (rank_top_n); each stage the core function the assets call per day."""
    started = time.perf_counter()
    df, reason, chosen = drop_reasons(prep.merged, snap.day, settings.filter_settings())
    tally = reason.value_counts()
    counts = {name: int(tally.get(name, 0)) for name in REASONS}
    reasons = pd.Series(reason.to_numpy(), index=df["symbol"].to_numpy())
    mask = reason.isna().to_numpy()
    if not mask.any():
        empty = pd.DataFrame(columns=TOP_COLUMNS)
        return ScreenResult(snap, settings, empty, empty, reasons, counts, chosen, time.perf_counter() - started)
    panel = prep.panel[mask]
    z, _ = compute_factors(panel, settings.style, raw=prep.raw[mask])
    factors = pd.concat([panel[["symbol", "realized_vol_63", "adv_20"]], z], axis=1).set_index("symbol")
    ics = ics_score(factors[list(FACTORS)], settings.style)
    fc = prep.forecasts[mask][["alpha_5d", "alpha_10d"]]
    alpha = alpha_signal(fc) if bool(fc.notna().any().any()) else None
    scored = merit_score(factors[list(FACTORS)], factors["realized_vol_63"], factors["adv_20"], settings.style,
                         snap.risk, alpha=alpha, alpha_weight=alpha_weight)
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
    return ScreenResult(snap, settings, top, ordered, reasons, counts, chosen, time.perf_counter() - started)


def with_top_n(result: ScreenResult, settings) -> ScreenResult:
    """The same screen under another N: rank_top_n on the head of the ranking already computed."""
    head = result.scored.head(settings.top_n).drop(columns=["rank", "reasons"])
    top = rank_top_n(head, settings.top_n)[TOP_COLUMNS] if len(head) else result.top.iloc[:0]
    return ScreenResult(result.snapshot, settings, top, result.scored, result.reasons, result.counts,
                        result.sectors_kept, 0.0)
