"""Dagster resources: the store, the market-data source behind it, the scan and the alpha settings.

Every field is typed, with its bounds or choices: choices show in the launchpad as enums it checks,
bounds are checked when a run starts, before any asset writes, and an error names the field and the
value. Nothing here reads the environment: `environment.Environment` does, once, for the definitions.
"""

from __future__ import annotations

from enum import Enum
from functools import lru_cache
from typing import Literal

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, field_validator, model_validator

from technic_assets.alerts.delivery import DeliveryError, post_webhook, scrub, send_email
from technic_assets.alerts.messages import Message
from technic_assets.core.universe_filter import GICS_SECTORS, FilterSettings
from technic_assets.environment import Environment
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.stored import StoredMarket
from technic_assets.storage import StoreIOManager, StoreResource

MAX_TOP_N = 500
MAX_SYNTHETIC_STOCKS = 100_000
DEFAULT_POLYGON_URL = "https://api.polygon.io"
SECTOR_LOOKUP_MINUTES = 10  # of a rate-limited plan's requests a run may spend on sectors by default


@lru_cache(maxsize=4)
def _synthetic(seed: int, n_stocks: int) -> MarketDataProvider:
    from technic_assets.market.synthetic import SyntheticMarket

    return SyntheticMarket(seed=seed, n_stocks=n_stocks)


def file_stamp(path: str) -> tuple:
    """Each file the path (or glob) names, with its size and modification time: a file source is read
    again once it changes, as a corrected file is, in a process that outlives one run."""
    import glob
    import os

    found = []
    for name in sorted(glob.glob(os.path.expanduser(path))) or [path]:
        try:
            st = os.stat(name)
            found.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            found.append((name, None, None))
    return tuple(found)


@lru_cache(maxsize=4)
def _parquet(path: str, sector_map: str | None, stamp: tuple = ()) -> MarketDataProvider:
    from technic_assets.market.parquet import ParquetMarket

    return ParquetMarket(path, sector_map)


@lru_cache(maxsize=4)
def _polygon(base_url: str, api_key: str, per_minute: int, redis_url: str | None, ttl: int,
             sector_map: str | None, retry_seconds: float, read_timeout: float,
             sector_lookups: int | None) -> MarketDataProvider:
    """One client per process: its session, rate limit and L1 cache serve every asset of the step.
    Sector lookups default to ten minutes' worth a run at a rate limit, and no cap without one."""
    from technic_assets.market.http import HttpClient, RateLimiter, ResponseCache, Stats
    from technic_assets.market.polygon import PolygonMarket

    stats = Stats()
    cache = ResponseCache(stats, redis_url=redis_url, ttl_seconds=ttl)
    limiter = RateLimiter(per_minute, cache.redis, key="technic:polygon:rate")
    client = HttpClient(base_url, api_key, stats=stats, cache=cache, limiter=limiter,
                        retry_seconds=retry_seconds, timeout=(3.05, read_timeout))
    if sector_lookups is None and per_minute:
        sector_lookups = SECTOR_LOOKUP_MINUTES * per_minute
    # at a few requests a minute, parallel requests only queue in the limiter (and count against the
    # retry window's patience); a request in flight per ten a minute, up to eight
    workers = min(8, max(1, per_minute // 10)) if per_minute else 8
    return PolygonMarket(client, workers=workers, sector_map=sector_map, sector_lookups=sector_lookups)


class MarketResource(ConfigurableResource):
    """Where bars come from, with the store in front. `synthetic` (the default) is the built-in
    market: no key, no network."""

    market: str = Field(default="synthetic", description="Data source: 'synthetic', 'parquet:PATH' (a file or glob, Parquet or CSV) or 'polygon' (TECHNIC_MARKET).")
    seed: int = Field(default=7, description="Seed of the built-in market.")
    n_stocks: int = Field(default=6000, ge=50, le=MAX_SYNTHETIC_STOCKS, description=f"Common stocks in the built-in market (plus ~300 ETFs), 50..{MAX_SYNTHETIC_STOCKS} (TECHNIC_SYNTHETIC_STOCKS).")
    sector_map: str = Field(default="", description="CSV of Symbol,Sector for a file source or Polygon (TECHNIC_SECTOR_MAP).")
    api_key: str = Field(default="", description="Polygon/Massive API key: set it as an env var (POLYGON_API_KEY or MASSIVE_API_KEY).")
    base_url: str = Field(default=DEFAULT_POLYGON_URL, description="Polygon's REST base URL (TECHNIC_POLYGON_BASE_URL).")
    rate_per_minute: int = Field(default=0, ge=0, le=100_000, description="Polygon requests per minute, 0 = no limit; 5 on the free tier (TECHNIC_POLYGON_RATE_PER_MINUTE).")
    sector_lookups: int | None = Field(default=None, ge=0, le=100_000, description=f"Most Polygon ticker-detail (sector) requests a run, the most liquid symbols first; unset: {SECTOR_LOOKUP_MINUTES} minutes' worth at the rate limit, no cap without one (TECHNIC_POLYGON_SECTOR_LOOKUPS).")
    redis_url: str = Field(default="", description="Redis for the shared response cache and rate limit, optional (TECHNIC_REDIS_URL).")
    cache_ttl_seconds: int = Field(default=3600, ge=1, le=30 * 86_400, description="How long Redis keeps a response (TECHNIC_CACHE_TTL_SECONDS).")
    http_retry_seconds: float = Field(default=120.0, ge=0.0, le=3600.0, description="How long one request is retried (TECHNIC_HTTP_RETRY_SECONDS).")
    http_timeout_seconds: float = Field(default=20.0, ge=0.1, le=600.0, description="Read timeout of one request (TECHNIC_HTTP_TIMEOUT_SECONDS).")
    store: StoreResource

    @field_validator("market")
    @classmethod
    def _known_source(cls, value: str) -> str:
        if value not in ("synthetic", "polygon") and not (value.startswith("parquet:") and len(value) > 8):
            raise ValueError(f"market {value!r} (TECHNIC_MARKET or the market resource's config) is not a known "
                             "data source; known: 'synthetic', 'parquet:PATH', 'polygon'")
        return value

    def source(self) -> MarketDataProvider:
        """The data source itself, without the store (what the sensor asks for the latest session)."""
        if self.market.startswith("parquet:"):
            path = self.market.removeprefix("parquet:")
            return _parquet(path, self.sector_map or None, file_stamp(path))
        if self.market == "polygon":
            return _polygon(self.base_url, self.api_key, self.rate_per_minute, self.redis_url or None,
                            self.cache_ttl_seconds, self.sector_map or None, self.http_retry_seconds,
                            self.http_timeout_seconds, self.sector_lookups)
        return _synthetic(self.seed, self.n_stocks)

    def provider(self) -> StoredMarket:
        """The source with the store in front of it: what the assets read."""
        return StoredMarket(self.source(), self.store.history)


Style = Literal["swing", "medium", "position"]
Sector = Enum("Sector", {name: name for name in GICS_SECTORS}, type=str)  # the launchpad lists the 11


class ScanSettings(ConfigurableResource):
    """What the user asks of a scan: trade style, filters and how many picks."""

    style: Style = Field(default="medium", description="Trade style: swing, medium or position.")
    top_n: int = Field(default=25, ge=1, le=MAX_TOP_N, description=f"Picks to publish, 1..{MAX_TOP_N}.")
    sectors: list[Sector] = Field(default=[], description="GICS sectors to keep; empty keeps the 8 most liquid.")
    min_price: float = Field(default=5.0, ge=0.0, description="Drop closes below this ($), >= 0.")
    max_price: float = Field(default=0.0, ge=0.0, description="Drop closes above this ($); 0 means no cap.")
    min_dollar_volume: float = Field(default=500_000.0, ge=0.0, description="Minimum 20-day average dollar volume ($), >= 0.")
    max_price_cv: float = Field(default=0.5, gt=0.0, description="Maximum coefficient of variation of close over 63 sessions, > 0.")
    min_history: int = Field(default=200, ge=1, le=300, description="Minimum bars of history in the 300-session window, 1..300.")
    include_etfs: bool = Field(default=False, description="Rank plain (unleveraged) ETFs too.")

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

    def train_config(self):
        from technic_assets.core.alpha_model import TrainConfig

        return TrainConfig(training_sessions=self.training_sessions, rounds=self.rounds)


class AlertsResource(ConfigurableResource):
    """Where the evening alerts go: a Slack incoming webhook and/or email over SMTP (TECHNIC_SLACK_WEBHOOK_URL,
    TECHNIC_SMTP_*, TECHNIC_ALERT_*). The URL and the password arrive as EnvVars; `send` never raises
    for a channel that fails, it reports the failure with the secrets scrubbed."""

    slack_webhook_url: str = Field(default="", description="Slack incoming-webhook URL, a secret: set it as an env var (TECHNIC_SLACK_WEBHOOK_URL).")
    smtp_host: str = Field(default="", description="SMTP server for email alerts; empty sends none (TECHNIC_SMTP_HOST).")
    smtp_port: int = Field(default=587, ge=1, le=65_535, description="SMTP port (TECHNIC_SMTP_PORT).")
    smtp_user: str = Field(default="", description="SMTP login, empty for none (TECHNIC_SMTP_USER).")
    smtp_password: str = Field(default="", description="SMTP password, a secret: set it as an env var (TECHNIC_SMTP_PASSWORD).")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS (TECHNIC_SMTP_STARTTLS; default on at port 587).")
    sender: str = Field(default="", description="From address (TECHNIC_ALERT_FROM, else TECHNIC_SMTP_USER).")
    recipients: list[str] = Field(default=[], description="To addresses (TECHNIC_ALERT_TO, comma-separated).")
    timeout_seconds: float = Field(default=10.0, gt=0.0, le=120.0, description="How long one delivery may take (TECHNIC_ALERT_TIMEOUT_SECONDS).")

    def channels(self) -> list[str]:
        return [name for name, on in (("slack", self.slack_webhook_url), ("email", self.smtp_host)) if on]

    def secrets(self) -> list[str]:
        return [s for s in (self.slack_webhook_url, self.smtp_password) if s]

    def send(self, message: Message) -> tuple[list[str], list[str]]:
        """Deliver `message` on every configured channel: (the channels that took it, a warning for
        each that did not)."""
        secrets = self.secrets()
        message = Message(scrub(message.subject, secrets), scrub(message.body, secrets))
        sent, warnings = [], []
        for channel in self.channels():
            try:
                if channel == "slack":
                    post_webhook(self.slack_webhook_url, message, timeout=self.timeout_seconds)
                else:
                    send_email(message, host=self.smtp_host, port=self.smtp_port, sender=self.sender,
                               recipients=self.recipients, user=self.smtp_user, password=self.smtp_password,
                               starttls=self.smtp_starttls, timeout=self.timeout_seconds)
                sent.append(channel)
            except DeliveryError as exc:
                warnings.append(f"alert not sent: {exc}")
        return sent, warnings


def alerts_resource(env: Environment) -> AlertsResource:
    a = env.alerts
    return AlertsResource(
        slack_webhook_url=EnvVar(a.webhook_url_var) if a.webhook_url_var else "",
        smtp_host=a.smtp_host, smtp_port=a.smtp_port, smtp_user=a.smtp_user,
        smtp_password=EnvVar(a.smtp_password_var) if a.smtp_password_var else "",
        smtp_starttls=a.smtp_starttls, sender=a.sender, recipients=list(a.recipients),
        timeout_seconds=a.timeout_seconds)


def build_resources(env: Environment) -> dict:
    """Every resource, configured from the environment (secrets and URLs as EnvVars)."""
    store = StoreResource(database=env.duckdb_path, url=EnvVar(env.store_var) if env.store_var else "")
    market = MarketResource(
        market=env.market, n_stocks=env.n_stocks, sector_map=env.sector_map,
        api_key=EnvVar(env.api_key_var) if env.api_key_var else "",
        base_url=EnvVar(env.base_url_var) if env.base_url_var else DEFAULT_POLYGON_URL,
        rate_per_minute=env.rate_per_minute, sector_lookups=env.sector_lookups,
        redis_url=EnvVar(env.redis_url_var) if env.redis_url_var else "",
        cache_ttl_seconds=env.cache_ttl_seconds, http_retry_seconds=env.http_retry_seconds,
        http_timeout_seconds=env.http_timeout_seconds, store=store,
    )
    from technic_assets.screens import Screens

    out = {"io_manager": StoreIOManager(store=store), "store": store, "market": market,
           "scan": ScanSettings(), "screens": Screens(path=env.screens_path),
           "alpha": AlphaSettings(device=env.xgb_device, weight=env.alpha_weight)}
    if env.alerts.configured:
        out["alerts"] = alerts_resource(env)
    return out
