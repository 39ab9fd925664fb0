"""Dagster resources: the market-data provider and the user's scan settings.

Settings are validated when a run starts (before any asset writes), and every error names the
setting and the value that is wrong.
"""

from __future__ import annotations

import os
from functools import lru_cache

from dagster import ConfigurableResource
from pydantic import Field

from technic_assets.core.factors import STYLES
from technic_assets.core.universe_filter import GICS_SECTORS, FilterSettings
from technic_assets.market.base import MarketDataProvider

MAX_TOP_N = 500
MAX_SYNTHETIC_STOCKS = 100_000


def env_number(name: str, default: float, low: float, high: float, kind=int):
    """A numeric environment setting, or an error naming the variable, its value and the range."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw[:40]!r} is not a{'n integer' if kind is int else ' number'}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is outside {low}..{high}")
    return value


@lru_cache(maxsize=4)
def _synthetic(seed: int, n_stocks: int) -> MarketDataProvider:
    from technic_assets.market.synthetic import SyntheticMarket

    return SyntheticMarket(seed=seed, n_stocks=n_stocks)


@lru_cache(maxsize=4)
def _parquet(path: str, sector_map: str | None) -> MarketDataProvider:
    from technic_assets.market.parquet import ParquetMarket

    return ParquetMarket(path, sector_map)


@lru_cache(maxsize=4)
def _polygon(base_url: str, api_key: str, per_minute: int, redis_url: str | None, ttl: int,
             sector_map: str | None, retry_seconds: float, read_timeout: float) -> MarketDataProvider:
    """One client per process: its session, rate limit and L1 cache serve every asset of the step."""
    from technic_assets.market.http import HttpClient, RateLimiter, ResponseCache, Stats
    from technic_assets.market.polygon import PolygonMarket

    stats = Stats()
    cache = ResponseCache(stats, redis_url=redis_url, ttl_seconds=ttl)
    limiter = RateLimiter(per_minute, cache.redis, key="technic:polygon:rate")
    client = HttpClient(base_url, api_key, stats=stats, cache=cache, limiter=limiter,
                        retry_seconds=retry_seconds, timeout=(3.05, read_timeout))
    return PolygonMarket(client, sector_map=sector_map)


class MarketResource(ConfigurableResource):
    """Where bars come from. `synthetic` (the default) is the built-in market: no key, no network."""

    market: str = Field(default="", description="Data source: 'synthetic', 'parquet:PATH' (a file or glob, Parquet or CSV) or 'polygon'; empty reads TECHNIC_MARKET (default synthetic).")
    seed: int = Field(default=7, description="Seed of the built-in market.")
    n_stocks: int = Field(default=0, description="Common stocks in the built-in market (plus ~300 ETFs); 0 reads TECHNIC_SYNTHETIC_STOCKS, default 6000.")

    sector_map: str = Field(default="", description="CSV of Symbol,Sector for a file source; empty reads TECHNIC_SECTOR_MAP.")

    @property
    def source(self) -> str:
        return self.market or os.environ.get("TECHNIC_MARKET", "") or "synthetic"

    def provider(self) -> MarketDataProvider:
        source = self.source
        if source.startswith("parquet:"):
            return _parquet(source.removeprefix("parquet:"),
                            self.sector_map or os.environ.get("TECHNIC_SECTOR_MAP", "") or None)
        if source == "polygon":
            env = os.environ
            return _polygon(
                env.get("TECHNIC_POLYGON_BASE_URL", "https://api.polygon.io"),
                env.get("POLYGON_API_KEY") or env.get("MASSIVE_API_KEY") or "",
                env_number("TECHNIC_POLYGON_RATE_PER_MINUTE", 0, 0, 100_000),
                env.get("TECHNIC_REDIS_URL") or None,
                env_number("TECHNIC_CACHE_TTL_SECONDS", 3600, 1, 30 * 86_400),
                self.sector_map or env.get("TECHNIC_SECTOR_MAP", "") or None,
                env_number("TECHNIC_HTTP_RETRY_SECONDS", 120.0, 0.0, 3600.0, float),
                env_number("TECHNIC_HTTP_TIMEOUT_SECONDS", 20.0, 0.1, 600.0, float),
            )
        if source != "synthetic":
            raise ValueError(f"market {source!r} (TECHNIC_MARKET or the market resource's config) "
                             "is not a known data source; known: 'synthetic', 'parquet:PATH', 'polygon'")
        n_stocks = self.n_stocks or env_number("TECHNIC_SYNTHETIC_STOCKS", 6000, 50, MAX_SYNTHETIC_STOCKS)
        if not 50 <= n_stocks <= MAX_SYNTHETIC_STOCKS:
            raise ValueError(f"n_stocks={n_stocks} (the market resource's config) must be between 50 and "
                             f"{MAX_SYNTHETIC_STOCKS}")
        return _synthetic(self.seed, n_stocks)


class ScanSettings(ConfigurableResource):
    """What the user asks of a scan: trade style, filters and how many picks."""

    style: str = Field(default="medium", description="Trade style: swing, medium or position.")
    top_n: int = Field(default=25, description=f"Picks to publish (1..{MAX_TOP_N}).")
    sectors: list[str] = Field(default=[], description="GICS sectors to keep; empty keeps the 8 most liquid.")
    min_price: float = Field(default=5.0, description="Drop closes below this ($).")
    max_price: float = Field(default=0.0, description="Drop closes above this ($); 0 means no cap.")
    min_dollar_volume: float = Field(default=500_000.0, description="Minimum 20-day average dollar volume ($).")
    max_price_cv: float = Field(default=0.5, description="Maximum coefficient of variation of close over 63 sessions.")
    min_history: int = Field(default=200, description="Minimum bars of history in the lookback window.")
    include_etfs: bool = Field(default=False, description="Rank plain (unleveraged) ETFs too.")

    def setup_for_execution(self, context) -> None:
        self.validated()

    def validated(self) -> "ScanSettings":
        problems = []
        if self.style not in STYLES:
            problems.append(f"style={self.style!r} is not one of {', '.join(STYLES)}")
        if not 1 <= self.top_n <= MAX_TOP_N:
            problems.append(f"top_n={self.top_n} must be between 1 and {MAX_TOP_N}")
        unknown = [s for s in self.sectors if s not in GICS_SECTORS]
        if unknown:
            problems.append(f"sectors={unknown!r} are not GICS sectors (known: {', '.join(GICS_SECTORS)})")
        if self.min_price < 0:
            problems.append(f"min_price={self.min_price} must not be negative")
        if self.max_price and self.max_price <= self.min_price:
            problems.append(f"max_price={self.max_price} must be above min_price={self.min_price}")
        if self.min_dollar_volume < 0:
            problems.append(f"min_dollar_volume={self.min_dollar_volume} must not be negative")
        if not self.max_price_cv > 0:
            problems.append(f"max_price_cv={self.max_price_cv} must be positive")
        if not 1 <= self.min_history <= 300:
            problems.append(f"min_history={self.min_history} must be between 1 and 300 (the lookback)")
        if problems:
            raise ValueError("invalid scan settings: " + "; ".join(problems))
        return self

    def filter_settings(self) -> FilterSettings:
        return FilterSettings(
            min_price=self.min_price, max_price=self.max_price or None,
            min_dollar_volume=self.min_dollar_volume, max_price_cv=self.max_price_cv,
            min_history=self.min_history, sectors=tuple(self.sectors), include_etfs=self.include_etfs,
        )


RETRAIN_CADENCES = ("month", "week")


class AlphaSettings(ConfigurableResource):
    """The machine-learned alpha: how often models are retrained, where XGBoost runs, how much MERIT
    listens to them."""

    weight: float = Field(default=0.35, description="Share of MERIT's blend given to the alpha forecasts (0..1); the factor blend gets the rest.")
    retrain: str = Field(default="month", description="Retrain cadence: 'month' (a model per month, trained for its first session) or 'week'.")
    device: str = Field(default="", description="XGBoost device: 'cpu' or 'cuda'; empty reads TECHNIC_XGB_DEVICE, default cpu.")
    training_sessions: int = Field(default=504, description="Signal days a model learns from at most (two years).")

    @property
    def xgb_device(self) -> str:
        return self.device or os.environ.get("TECHNIC_XGB_DEVICE", "") or "cpu"

    def setup_for_execution(self, context) -> None:
        self.validated()

    def validated(self) -> "AlphaSettings":
        from technic_assets.core.alpha_model import DEVICES

        problems = []
        if not 0.0 <= self.weight <= 1.0:
            problems.append(f"weight={self.weight} must be between 0 and 1")
        if self.retrain not in RETRAIN_CADENCES:
            problems.append(f"retrain={self.retrain!r} is not one of {', '.join(RETRAIN_CADENCES)}")
        if self.xgb_device not in DEVICES:
            problems.append(f"device={self.xgb_device!r} (or TECHNIC_XGB_DEVICE) is not one of {', '.join(DEVICES)}")
        if not 60 <= self.training_sessions <= 2520:
            problems.append(f"training_sessions={self.training_sessions} must be between 60 and 2520")
        if problems:
            raise ValueError("invalid alpha settings: " + "; ".join(problems))
        return self
