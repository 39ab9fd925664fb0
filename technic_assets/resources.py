"""Dagster resources: the store, the market-data source behind it, the alerts; every one built from the
environment by `build_resources` (the scan and alpha settings themselves are config.py's).

Every field is typed, with its bounds or choices: choices show in the launchpad as enums it checks,
bounds are checked when a run starts, before any asset writes, and an error names the field and the
value. Nothing here reads the environment: `environment.Environment` does, once, for the definitions.
"""

from __future__ import annotations

from dagster import ConfigurableResource, EnvVar
from pydantic import Field, field_validator

from technic_assets.alerts.delivery import DeliveryError, post_webhook, scrub, send_email
from technic_assets.alerts.messages import Message
from technic_assets.config import (
    DEFAULT_POLYGON_URL,
    MAX_SYNTHETIC_STOCKS,
    SECTOR_LOOKUP_MINUTES,
    AlphaSettings,
    ScanSettings,
)
from technic_assets.environment import Environment
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.factory import PolygonOptions, check_source, provider
from technic_assets.market.stored import StoredMarket
from technic_assets.screens import Screens
from technic_assets.storage import StoreIOManager, StoreResource


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
        return check_source(value)

    def source(self) -> MarketDataProvider:
        """The data source itself, without the store (what the sensor asks for the latest session)."""
        return provider(self.market, seed=self.seed, n_stocks=self.n_stocks, sector_map=self.sector_map,
                        polygon=PolygonOptions(self.base_url, self.api_key, self.rate_per_minute,
                                               self.redis_url or None, self.cache_ttl_seconds,
                                               self.http_retry_seconds, self.http_timeout_seconds,
                                               self.sector_lookups))

    def provider(self) -> StoredMarket:
        """The source with the store in front of it: what the assets read."""
        return StoredMarket(self.source(), self.store.history)


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
    out = {"io_manager": StoreIOManager(store=store), "store": store, "market": market,
           "scan": ScanSettings(), "screens": Screens(path=env.screens_path),
           "alpha": AlphaSettings(device=env.xgb_device, weight=env.alpha_weight)}
    if env.alerts.configured:
        out["alerts"] = alerts_resource(env)
    return out
