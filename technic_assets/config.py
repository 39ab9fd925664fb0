"""The user's settings, one home for each: the scan's and the alpha models' settings as typed models
(Dagster resources, so the launchpad shows and checks them), their bounds, and the defaults the
environment falls back to. The screens file, the CLI, the live engine and the HTTP parser all build
these same models, so a field added here is known everywhere.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field, field_validator, model_validator

from technic_assets.core.alpha_model import TrainConfig
from technic_assets.core.sectors import SECTOR_CHOICES, resolve_sector
from technic_assets.core.universe_filter import FilterSettings

DEFAULT_START_DATE = "2024-01-02"
DEFAULT_SCHEDULE_TIME = "18:00"
MAX_TOP_N = 500
MAX_SYNTHETIC_STOCKS = 100_000
DEFAULT_POLYGON_URL = "https://api.polygon.io"
# A replay's pace: 2 market minutes a second plays a 390-minute session in 3 min 15 s, a version every
# half second that a person can follow (at 60 the session was over in 6.5 s, before the page loaded).
DEFAULT_REPLAY_SPEED = 2.0
SECTOR_LOOKUP_MINUTES = 10  # of a rate-limited plan's requests a run may spend on sectors by default


Style = Literal["swing", "medium", "position"]
Sector = Enum("Sector", {name: name for name in SECTOR_CHOICES}, type=str)  # the launchpad lists the 11 and Unknown


class ScanSettings(ConfigurableResource):
    """What the user asks of a scan: trade style, filters and how many picks."""

    style: Style = Field(default="medium", title="Style", description="Trade style: swing, medium or position.")
    top_n: int = Field(default=25, title="Top", ge=1, le=MAX_TOP_N, description=f"Picks to publish, 1..{MAX_TOP_N}.")
    sectors: list[Sector] = Field(default=[], title="Sectors", description="GICS sectors to keep (or Unknown: names "
                                  "without one); a unique start or a common name (tech, health) will do; empty keeps "
                                  "the 8 most liquid.")
    min_price: float = Field(default=5.0, title="Min price", ge=0.0, description="Drop closes below this ($), >= 0.")
    max_price: float = Field(default=0.0, title="Max price", ge=0.0, description="Drop closes above this ($); 0 means no cap.")
    min_dollar_volume: float = Field(default=500_000.0, title="Min $ volume", ge=0.0, description="Minimum 20-day average dollar volume ($), >= 0.")
    max_price_cv: float = Field(default=0.5, title="Max price CV", gt=0.0, description="Maximum coefficient of variation of close over 63 sessions, > 0.")
    min_history: int = Field(default=200, title="Min history", ge=1, le=300, description="Minimum bars of history in the 300-session window, 1..300.")
    include_etfs: bool = Field(default=False, title="ETFs", description="Rank plain (unleveraged) ETFs too.")
    ranking: Literal["hand", "learned"] = Field(default="learned", title="Ranking", description="MERIT's blend: the style's hand weights, or the blend learned walk-forward each month (core/blend.py).")
    regime_tilt: bool = Field(default=True, title="Regime tilt", description="Tilt the hand weights by the market regime.")
    risk_penalties: bool = Field(default=True, title="Risk penalties", description="Subtract MERIT's volatility and liquidity penalties.")
    peer_groups: bool = Field(default=True, title="Peer groups", description="Neutralize names without a sector within return-correlation peer groups (core/peers.py).")

    @field_validator("sectors", mode="before")
    @classmethod
    def _sector_words(cls, value):
        """Every surface's sectors through core.sectors: `tech` is Information Technology everywhere."""
        return [resolve_sector(v) for v in value] if isinstance(value, (list, tuple)) else value

    @model_validator(mode="after")
    def _price_band(self):
        if self.max_price and self.max_price <= self.min_price:
            raise ValueError(f"max_price={self.max_price} must be above min_price={self.min_price}")
        return self

    def filter_settings(self) -> FilterSettings:
        return FilterSettings(
            min_price=self.min_price, max_price=self.max_price or None,
            min_dollar_volume=self.min_dollar_volume, max_price_cv=self.max_price_cv,
            min_history=self.min_history, sectors=tuple(Sector(s).value for s in self.sectors), include_etfs=self.include_etfs,
        )


class AlphaSettings(ConfigurableResource):
    """The machine-learned alpha: how often models are retrained, where XGBoost runs, how much MERIT
    listens to them."""

    weight: float = Field(default=0.35, ge=0.0, le=1.0, description="Share of MERIT's blend given to the alpha forecasts, 0..1; 0 turns the models off (nothing is trained).")
    retrain: Literal["month", "week"] = Field(default="month", description="Retrain cadence: a model per month (trained for its first session) or per week.")
    device: Literal["cpu", "cuda"] = Field(default="cpu", description="Where XGBoost trains and predicts (TECHNIC_XGB_DEVICE).")
    training_sessions: int = Field(default=504, ge=60, le=2520, description="Signal days a model learns from at most, 60..2520 (two years by default).")
    rounds: int = Field(default=100, ge=1, le=5000, description="Boosting rounds per model.")

    def train_config(self) -> TrainConfig:
        return TrainConfig(training_sessions=self.training_sessions, rounds=self.rounds)


def settings_key(settings: ScanSettings, without: tuple[str, ...] = ()) -> tuple:
    """Every field of `settings` (but those named in `without`) in a canonical, hashable form: the live
    engine's cache key, built from the model's fields so that a new field can never be left out of it."""
    values = settings.model_dump(mode="json", exclude=set(without))
    return tuple((name, tuple(sorted(value)) if isinstance(value, list) else value)
                 for name, value in sorted(values.items()))


def scan_settings(values=None, **overrides) -> ScanSettings:
    """A ScanSettings from a ScanSettings, a mapping of its fields, or keywords (checked by pydantic:
    a bad value raises a ValidationError naming the field)."""
    if isinstance(values, ScanSettings) and not overrides:
        return values
    fields = dict(values.model_dump() if isinstance(values, ScanSettings) else (values or {}))
    return ScanSettings(**{**fields, **overrides})


def settings_json(settings: ScanSettings) -> dict:
    """The settings as JSON values (sectors by name)."""
    return settings.model_dump(mode="json")


def settings_record(settings: ScanSettings, alpha_weight: float) -> str:
    """What a screen's rows were made with, stored beside them as JSON (every field, and the alpha
    weight MERIT blended), so that a reader gets them back instead of inferring them from the scores."""
    return json.dumps({**settings_json(settings), "alpha_weight": float(alpha_weight)}, sort_keys=True)


def settings_from_record(text: str) -> tuple[ScanSettings, float]:
    """(ScanSettings, alpha weight) of a stored settings_record; a field this version no longer knows is
    an error naming it (the rows were made by settings it cannot reproduce)."""
    values = json.loads(text)
    weight = values.pop("alpha_weight")
    return ScanSettings(**values), float(weight)
