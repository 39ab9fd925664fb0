"""What the environment configures, read in one place when the definitions are built (never at import).

Each TECHNIC_* variable is checked here and an error names the variable, its value and what is
wrong. Secrets and URLs reach the resources as `EnvVar`s, resolved when a run starts, so the
launchpad and the run's config show the variable's name, never its value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from technic_assets.config import DEFAULT_REPLAY_SPEED, DEFAULT_SCHEDULE_TIME, DEFAULT_START_DATE, MAX_SYNTHETIC_STOCKS
from technic_assets.storage.iceberg import parse_store_url


def env_number(env: Mapping[str, str], name: str, default: float, low: float, high: float, kind=int):
    """A numeric environment setting, or an error naming the variable, its value and the range."""
    raw = env.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"{name}={raw[:40]!r} is not a{'n integer' if kind is int else ' number'}") from None
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is outside {low}..{high}")
    return value


def schedule_time(raw: str) -> tuple[int, int]:
    """(hour, minute) of an HH:MM New York time, or an error naming TECHNIC_SCHEDULE_TIME."""
    try:
        hour, minute = (int(x) for x in raw.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise ValueError(f"TECHNIC_SCHEDULE_TIME={raw!r} is not a time of day (want HH:MM, New York time)") from None
    return hour, minute


def env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A yes/no setting (1/true/yes/on, 0/false/no/off), or an error naming the variable."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={raw[:40]!r} is not a yes/no value (want true or false)")


def _addresses(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    found = tuple(a.strip() for a in env.get(name, "").split(",") if a.strip())
    for address in found:
        if address.count("@") != 1 or address.startswith("@") or address.endswith("@") or " " in address:
            raise ValueError(f"{name}: {address[:80]!r} is not an email address")
    return found


@dataclass(frozen=True)
class AlertSettings:
    """Where the evening alerts go: a Slack incoming webhook and/or email over SMTP; neither by default.
    The webhook URL and the SMTP password are secrets: only their variables' names are kept here."""

    webhook_url_var: str = ""
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password_var: str = ""
    smtp_starttls: bool = True
    sender: str = ""
    recipients: tuple[str, ...] = ()
    timeout_seconds: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url_var or self.smtp_host)

    @classmethod
    def read(cls, env: Mapping[str, str]) -> "AlertSettings":
        url = env.get("TECHNIC_SLACK_WEBHOOK_URL", "").strip()
        if url and not url.lower().startswith(("https://", "http://")):
            raise ValueError("TECHNIC_SLACK_WEBHOOK_URL is not an http(s) URL (its value is not shown: it is a secret)")
        host = env.get("TECHNIC_SMTP_HOST", "").strip()
        port = env_number(env, "TECHNIC_SMTP_PORT", 587, 1, 65_535)
        user = env.get("TECHNIC_SMTP_USER", "").strip()
        recipients = _addresses(env, "TECHNIC_ALERT_TO")
        senders = _addresses(env, "TECHNIC_ALERT_FROM")
        if len(senders) > 1:
            raise ValueError("TECHNIC_ALERT_FROM names more than one address: an email has one sender")
        sender = senders[0] if senders else user if "@" in user else ""
        smtp_names = [n for n in ("TECHNIC_SMTP_PORT", "TECHNIC_SMTP_USER", "TECHNIC_SMTP_PASSWORD",
                                  "TECHNIC_SMTP_STARTTLS", "TECHNIC_ALERT_FROM", "TECHNIC_ALERT_TO") if env.get(n)]
        if not host and smtp_names:
            raise ValueError(f"{smtp_names[0]} is set but TECHNIC_SMTP_HOST is not: email alerts need the SMTP server")
        if host and not recipients:
            raise ValueError(f"TECHNIC_SMTP_HOST={host!r} is set but TECHNIC_ALERT_TO is not: email alerts need "
                             "at least one recipient (comma-separated addresses)")
        if host and not sender:
            raise ValueError("TECHNIC_ALERT_FROM is not set (and TECHNIC_SMTP_USER is not an address): email "
                             "alerts need a sender address")
        if env.get("TECHNIC_SMTP_PASSWORD") and not user:
            raise ValueError("TECHNIC_SMTP_PASSWORD is set but TECHNIC_SMTP_USER is not: the login needs both")
        return cls(
            webhook_url_var="TECHNIC_SLACK_WEBHOOK_URL" if url else "",
            smtp_host=host, smtp_port=port, smtp_user=user,
            smtp_password_var="TECHNIC_SMTP_PASSWORD" if env.get("TECHNIC_SMTP_PASSWORD") else "",
            smtp_starttls=env_flag(env, "TECHNIC_SMTP_STARTTLS", port == 587),
            sender=sender, recipients=recipients,
            timeout_seconds=env_number(env, "TECHNIC_ALERT_TIMEOUT_SECONDS", 10.0, 0.1, 120.0, float),
        )


@dataclass(frozen=True)
class ServeAccess:
    """Who may use `technic serve` (issue 23): bound beyond loopback, every request but /healthz and the
    login page needs TECHNIC_SERVE_TOKEN (live.access); cross-origin reads only from the origins named in
    TECHNIC_SERVE_CORS_ORIGINS (none by default: CORS off). The token is a secret: never in a repr."""

    token: str = field(default="", repr=False)
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> "ServeAccess":
        env = os.environ if env is None else env
        token = env.get("TECHNIC_SERVE_TOKEN", "").strip()
        if token and (len(token) < 16 or not token.isprintable() or " " in token):
            raise ValueError("TECHNIC_SERVE_TOKEN is shorter than 16 characters or holds spaces or control "
                             "characters (its value is not shown: it is a secret); e.g. "
                             "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
        origins = tuple(o.strip().rstrip("/") for o in env.get("TECHNIC_SERVE_CORS_ORIGINS", "").split(",")
                        if o.strip())
        for origin in origins:
            scheme, sep, rest = origin.partition("://")
            if origin != "*" and (scheme not in ("http", "https") or not sep or not rest or "/" in rest
                                  or " " in rest):
                raise ValueError(f"TECHNIC_SERVE_CORS_ORIGINS: {origin[:60]!r} is not an origin "
                                 "(scheme://host[:port], e.g. https://dash.example.org, or '*'; comma-separated)")
        return cls(token=token, cors_origins=origins)


@dataclass(frozen=True)
class ServeLimits:
    """What `technic serve` grants one client and all of them (issue 24: hostile input, greedy clients).

    allowed_hosts: names beyond the bound ones that the Host header (and a stream's Origin) may carry
    ("*.example.org" for a domain's names, "*" for any); stall_seconds: a stream that cannot take an event
    for that long is dropped; screen_workers: threads for per-client screens (below the feed's rescan);
    access: who may connect (ServeAccess), read with the limits so a bad setting is refused with them."""

    allowed_hosts: tuple[str, ...] = ()
    max_streams: int = 64
    max_streams_per_client: int = 8
    stall_seconds: float = 30.0
    screen_workers: int = 2
    access: ServeAccess = ServeAccess()  # the token and the CORS origins, read with the limits

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> "ServeLimits":
        env = os.environ if env is None else env
        hosts = tuple(h.strip().lower().rstrip(".") for h in env.get("TECHNIC_SERVE_ALLOWED_HOSTS", "").split(",")
                      if h.strip())
        for host in hosts:
            if host != "*" and ("*" in host[1:] or (host.startswith("*") and not host.startswith("*."))
                                or any(c in host for c in "/: @")):
                raise ValueError(f"TECHNIC_SERVE_ALLOWED_HOSTS: {host[:60]!r} is not a host name "
                                 "(a name, an address, '*.domain' or '*'; comma-separated, no ports)")
        return cls(
            allowed_hosts=hosts,
            max_streams=env_number(env, "TECHNIC_SERVE_MAX_STREAMS", 64, 1, 100_000),
            max_streams_per_client=env_number(env, "TECHNIC_SERVE_MAX_STREAMS_PER_CLIENT", 8, 1, 100_000),
            stall_seconds=env_number(env, "TECHNIC_SERVE_STALL_SECONDS", 30.0, 0.01, 86_400.0, float),
            screen_workers=env_number(env, "TECHNIC_SERVE_SCREEN_WORKERS", 2, 1, 64),
            access=ServeAccess.read(env),
        )


def screens_file(env: Mapping[str, str]) -> str:
    """TECHNIC_SCREENS when set (empty: no file), else ~/.technic/screens.yaml when it exists."""
    if "TECHNIC_SCREENS" in env:
        return env["TECHNIC_SCREENS"]
    path = Path("~/.technic/screens.yaml").expanduser()
    return str(path) if path.exists() else ""


LIVE_SOURCES = ("off", "replay", "polygon")


def live_source(raw: str) -> str:
    """TECHNIC_LIVE, checked: off (the stored day only), replay or polygon."""
    value = raw.strip().lower()
    if value not in LIVE_SOURCES:
        raise ValueError(f"TECHNIC_LIVE={raw[:40]!r} is not one of {', '.join(LIVE_SOURCES)}")
    return value


def url_setting(name: str, raw: str, schemes: tuple[str, ...], example: str) -> str:
    """An optional URL setting, checked: empty, or one starting with one of `schemes`; an error names
    the variable, its value (cut) and an example."""
    value = raw.strip()
    if value and not value.startswith(schemes):
        kinds = " or ".join(scheme.removesuffix("://") + "://" for scheme in schemes)
        raise ValueError(f"{name}={value[:60]!r} is not a {kinds} URL (e.g. {example})")
    return value


def store_setting(raw: str) -> str:
    """"TECHNIC_STORE" if it names an Iceberg store (checked: an error hides any password), else ""."""
    if not raw.strip():
        return ""
    parse_store_url(raw.strip())
    return "TECHNIC_STORE"


def executor_setting(env: Mapping[str, str]) -> str:
    """TECHNIC_EXECUTOR: 'multiprocess' (the default, one machine) or 'celery' (needs TECHNIC_BROKER_URL)."""
    raw = env.get("TECHNIC_EXECUTOR", "").strip() or "multiprocess"
    if raw not in ("multiprocess", "celery"):
        raise ValueError(f"TECHNIC_EXECUTOR={raw[:40]!r} is not an executor; known: 'multiprocess', 'celery'")
    if raw == "celery" and not env.get("TECHNIC_BROKER_URL", "").strip():
        raise ValueError("TECHNIC_EXECUTOR=celery needs TECHNIC_BROKER_URL (redis://host:6379/0 or "
                         "amqp://user:password@host:5672//)")
    return raw


def celery_backend_var(env: Mapping[str, str]) -> str:
    """The variable naming Celery's result backend: TECHNIC_CELERY_BACKEND if set; else the broker's own
    URL for a Redis broker; else '' (Celery's rpc:// over the broker, e.g. RabbitMQ)."""
    if env.get("TECHNIC_CELERY_BACKEND", "").strip():
        return "TECHNIC_CELERY_BACKEND"
    return "TECHNIC_BROKER_URL" if env.get("TECHNIC_BROKER_URL", "").startswith(("redis://", "rediss://")) else ""


@dataclass(frozen=True)
class Environment:
    """The TECHNIC_* settings (and the Polygon key's variable), checked."""

    start_date: str = DEFAULT_START_DATE
    duckdb_path: str = ""
    market: str = "synthetic"
    n_stocks: int = 6000
    sector_map: str = ""
    screens_path: str = ""  # the saved screens file ("": one screen, "default")
    schedule: tuple[int, int] = (18, 0)
    xgb_device: str = "cpu"
    alpha_weight: float = 0.35
    api_key_var: str = ""  # which variable holds the Polygon key (its value is read when a run starts)
    base_url_var: str = ""
    rate_per_minute: int = 0
    sector_lookups: int | None = None
    redis_url_var: str = ""
    cache_ttl_seconds: int = 3600
    http_retry_seconds: float = 120.0
    http_timeout_seconds: float = 20.0
    alerts: AlertSettings = AlertSettings()
    live: str = "off"  # the intraday source of `technic serve`: off | replay | polygon
    replay_speed: float = DEFAULT_REPLAY_SPEED  # market minutes per second of a replay (0: no pause)
    polygon_ws_url: str = ""  # TECHNIC_LIVE=polygon: the WebSocket of minute aggregates; empty: poll the snapshot
    store_var: str = ""  # TECHNIC_STORE when it names an Iceberg store (its value, with any password, is read at run start)
    executor: str = "multiprocess"  # or "celery" (TECHNIC_EXECUTOR)
    broker_var: str = ""  # TECHNIC_BROKER_URL, for the celery executor
    backend_var: str = ""  # the variable naming Celery's result backend ('' means rpc://)
    pushgateway_url: str = ""  # TECHNIC_PUSHGATEWAY_URL: where each evening run pushes its figures (run_metrics)

    @classmethod
    def read(cls, env: Mapping[str, str] | None = None) -> "Environment":
        env = os.environ if env is None else env
        return cls(
            start_date=env.get("TECHNIC_START_DATE", "") or DEFAULT_START_DATE,
            duckdb_path=env.get("TECHNIC_DUCKDB_PATH", ""),
            market=env.get("TECHNIC_MARKET", "") or "synthetic",
            n_stocks=env_number(env, "TECHNIC_SYNTHETIC_STOCKS", 6000, 50, MAX_SYNTHETIC_STOCKS),
            sector_map=env.get("TECHNIC_SECTOR_MAP", ""),
            screens_path=screens_file(env),
            schedule=schedule_time(env.get("TECHNIC_SCHEDULE_TIME", "") or DEFAULT_SCHEDULE_TIME),
            xgb_device=env.get("TECHNIC_XGB_DEVICE", "") or "cpu",
            alpha_weight=env_number(env, "TECHNIC_ALPHA_WEIGHT", 0.35, 0.0, 1.0, float),
            api_key_var=next((v for v in ("POLYGON_API_KEY", "MASSIVE_API_KEY") if env.get(v)), ""),
            base_url_var="TECHNIC_POLYGON_BASE_URL" if env.get("TECHNIC_POLYGON_BASE_URL") else "",
            rate_per_minute=env_number(env, "TECHNIC_POLYGON_RATE_PER_MINUTE", 0, 0, 100_000),
            sector_lookups=(env_number(env, "TECHNIC_POLYGON_SECTOR_LOOKUPS", 0, 0, 100_000)
                            if env.get("TECHNIC_POLYGON_SECTOR_LOOKUPS") else None),
            redis_url_var="TECHNIC_REDIS_URL" if env.get("TECHNIC_REDIS_URL") else "",
            cache_ttl_seconds=env_number(env, "TECHNIC_CACHE_TTL_SECONDS", 3600, 1, 30 * 86_400),
            http_retry_seconds=env_number(env, "TECHNIC_HTTP_RETRY_SECONDS", 120.0, 0.0, 3600.0, float),
            http_timeout_seconds=env_number(env, "TECHNIC_HTTP_TIMEOUT_SECONDS", 20.0, 0.1, 600.0, float),
            alerts=AlertSettings.read(env),
            live=live_source(env.get("TECHNIC_LIVE", "") or "off"),
            replay_speed=env_number(env, "TECHNIC_REPLAY_SPEED", DEFAULT_REPLAY_SPEED, 0.0, 100_000.0, float),
            polygon_ws_url=url_setting("TECHNIC_POLYGON_WS_URL", env.get("TECHNIC_POLYGON_WS_URL", ""),
                                       ("ws://", "wss://"), "wss://socket.polygon.io/stocks"),
            store_var=store_setting(env.get("TECHNIC_STORE", "")),
            executor=executor_setting(env),
            broker_var="TECHNIC_BROKER_URL" if env.get("TECHNIC_BROKER_URL") else "",
            backend_var=celery_backend_var(env),
            pushgateway_url=url_setting("TECHNIC_PUSHGATEWAY_URL", env.get("TECHNIC_PUSHGATEWAY_URL", ""),
                                        ("http://", "https://"), "http://pushgateway:9091"),
        )
