"""One screen of a version: a version of the cross-section's inputs (Snapshot) and what core.screen's
chain makes of it under some settings (ScreenResult). The engine (live.engine) owns the versions;
this module only says what they are.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd

from technic_assets.core.scoring import TOP_COLUMNS, rank_top_n
from technic_assets.core.screen import Prepared, Screened, screen_day

LIQUIDITY_COLUMNS = ["adv_20", "price_cv_63"]  # kept at the last close's values intraday


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


@dataclass(kw_only=True)
class ScreenResult(Screened):
    """core.screen's result for one version of the cross-section, under some settings."""

    snapshot: Snapshot
    settings: object                  # ScanSettings

    @property
    def as_of(self) -> pd.Timestamp:
        return self.snapshot.as_of

    @property
    def source(self) -> str:
        return self.snapshot.source

    @property
    def version(self) -> int:
        return self.snapshot.version


def screen_cross_section(prep: Prepared, snap: Snapshot, settings, symbol_order: np.ndarray,
                         alpha_weight: float, **ranking) -> ScreenResult:
    """core.screen's chain on one version's cross-section (`ranking`: the month's peers and blend)."""
    done = screen_day(prep, snap.day, snap.risk, settings, symbol_order, alpha_weight, **ranking)
    return ScreenResult(**{f.name: getattr(done, f.name) for f in fields(Screened)}, snapshot=snap,
                        settings=settings)


def with_top_n(result: ScreenResult, settings) -> ScreenResult:
    """The same screen under another N: rank_top_n on the head of the ranking already computed."""
    head = result.scored.head(settings.top_n).drop(columns=["rank", "reasons"])
    top = rank_top_n(head, settings.top_n)[TOP_COLUMNS] if len(head) else result.top.iloc[:0]
    return replace(result, settings=settings, top=top, seconds=0.0)
