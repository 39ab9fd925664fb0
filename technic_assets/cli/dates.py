"""The dates a command is given, checked in one line each: an NYSE session, a day that can be scanned
(a whole history window behind it, its close passed), or the source's latest complete session."""

from __future__ import annotations

import pandas as pd

from technic_assets.core.calendar import is_session, latest_closed_session, nyse, utc_now
from technic_assets.core.indicators import LOOKBACK
from technic_assets.environment import Environment
from technic_assets.market.base import ProviderError
from technic_assets.partitions import build_partitions, first_scannable
from technic_assets.resources import MarketResource, build_resources


def scannable_range(env: Environment, now: pd.Timestamp) -> tuple[str, str]:
    """(the first session with a whole history window, the latest closed session as of `now`), or one
    line saying that TECHNIC_START_DATE leaves no day to scan yet (never a range that ends before it starts)."""
    partitions = build_partitions(env.start_date)
    earliest, latest = first_scannable(partitions), latest_closed_session(now)
    if earliest == "none yet" or earliest > latest:
        first = (f"past the end of the NYSE calendar ({nyse().last_session:%Y-%m-%d})" if earliest == "none yet"
                 else f"{earliest}, after the latest closed session ({latest})")
        raise SystemExit(f"error: TECHNIC_START_DATE={env.start_date} leaves no day to scan yet: partitions start on "
                         f"{partitions.get_first_partition_key()} and the first day with {LOOKBACK} sessions of "
                         f"history is {first}")
    return earliest, latest


def check_scannable(day: str, env: Environment, now: pd.Timestamp, what: str = "scan date") -> str:
    """`day` itself, or one line naming it and the range of days that can be scanned."""
    earliest, latest = scannable_range(env, now)
    if day > latest:
        raise SystemExit(f"error: {what} {day} has not closed yet (the latest closed session is {latest}); "
                         f"days that can be scanned: {earliest} .. {latest}")
    if day < earliest:
        raise SystemExit(f"error: {what} {day} needs {LOOKBACK} sessions of history from TECHNIC_START_DATE "
                         f"({env.start_date}) on; days that can be scanned: {earliest} .. {latest}")
    return day


def parse_session(raw: str, flag: str = "--date") -> str:
    """A YYYY-MM-DD that is an NYSE session, or one line saying what it is instead. A day beyond the
    calendar's years passes: check_scannable refuses it, naming the days that can be scanned."""
    try:
        stamp = pd.Timestamp(raw)
    except ValueError:
        raise SystemExit(f"error: {flag} {raw!r} is not a date (want YYYY-MM-DD)") from None
    cal = nyse()
    if cal.first_session <= stamp <= cal.last_session and not is_session(stamp):
        raise SystemExit(f"error: {flag} {raw} is not an NYSE trading day (weekend, holiday or closure)")
    return stamp.strftime("%Y-%m-%d")


def resolve_date(raw: str | None, env: Environment, source=None, now: pd.Timestamp | None = None) -> str:
    """The scan date: a given NYSE session, or else the configured source's latest complete one, as
    the sensor takes it (a closed session the provider has not published yet would scan nothing);
    either checked against the days that can be scanned as of `now` (default: the wall clock).
    `source` is that provider, or a MarketResource to take it from; None builds it from `env`."""
    now = utc_now() if now is None else now
    if raw is None:
        try:
            day = source_of(env, source).latest_session(now)
        except ProviderError as exc:
            raise SystemExit(f"error: the latest session could not be asked of the data source: {exc}") from None
    else:
        day = parse_session(raw)
    return check_scannable(day, env, now)


def source_of(env: Environment, given=None):
    """The data source: `given` if it is one, else that of the market resource given or built from
    `env`, its settings (EnvVars) read as a run reads them."""
    if given is not None and not isinstance(given, MarketResource):
        return given
    with (given or build_resources(env)["market"]).process_config_and_initialize_cm() as market:
        return market.source()


def resolve_stored_date(raw: str | None, latest, flag: str = "--date") -> str:
    """A stored day asked for (any date: the store says whether it holds it), or the latest stored."""
    if raw is None:
        return f"{pd.Timestamp(latest):%Y-%m-%d}"
    try:
        return f"{pd.Timestamp(raw):%Y-%m-%d}"
    except ValueError:
        raise SystemExit(f"error: {flag} {raw!r} is not a date (want YYYY-MM-DD)") from None
