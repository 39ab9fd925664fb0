"""Where a source's name becomes a provider: the one place that knows the names `synthetic`,
`parquet:PATH` and `polygon`. The resources, the live server's replay and the labels shown to people
all ask here, so a new source is a module beside the others and a branch in this file.

Providers are cached per process by their settings: a Polygon client's session, rate limit and
in-memory cache serve every asset of a step.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from technic_assets.config import DEFAULT_POLYGON_URL, SECTOR_LOOKUP_MINUTES
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.http import HttpClient, RateLimiter, ResponseCache, Stats
from technic_assets.market.parquet import ParquetMarket
from technic_assets.market.polygon import PolygonMarket
from technic_assets.market.synthetic import SyntheticMarket

KNOWN = "'synthetic', 'parquet:PATH', 'polygon'"


@dataclass(frozen=True)
class PolygonOptions:
    """How the Polygon client behaves (the key and URLs are resolved values, never logged)."""

    base_url: str = DEFAULT_POLYGON_URL
    api_key: str = ""
    rate_per_minute: int = 0
    redis_url: str | None = None
    cache_ttl_seconds: int = 3600
    retry_seconds: float = 120.0
    read_timeout: float = 20.0
    sector_lookups: int | None = None


def check_source(name: str) -> str:
    """`name` if it names a known source, else an error listing the known ones."""
    if name not in ("synthetic", "polygon") and not (name.startswith("parquet:") and len(name) > 8):
        raise ValueError(f"market {name!r} (TECHNIC_MARKET or the market resource's config) is not a known "
                         f"data source; known: {KNOWN}")
    return name


def is_remote(name: str) -> bool:
    """Whether the source is asked over the network (and so has requests worth planning)."""
    return name == "polygon"


def is_local(name: str) -> bool:
    """Whether the source's bars are on this machine (the built-in market or a file): what a replay replays."""
    return name == "synthetic" or name.startswith("parquet:")


def label(name: str) -> str:
    """What the data came from, as a person would name it: "simulated" for the built-in market."""
    if name == "synthetic":
        return "simulated"
    if name.startswith("parquet:"):
        return f"file {Path(name.removeprefix('parquet:')).name}"
    return name


def provider(name: str, *, seed: int = 7, n_stocks: int = 6000, sector_map: str = "",
             polygon: PolygonOptions = PolygonOptions()) -> MarketDataProvider:
    """The source `name` names (checked), built once per process for the same settings."""
    check_source(name)
    if name.startswith("parquet:"):
        path = name.removeprefix("parquet:")
        return _parquet(path, sector_map or None, file_stamp(path))
    if name == "polygon":
        return _polygon(polygon, sector_map or None)
    return _synthetic(seed, n_stocks)


@lru_cache(maxsize=4)
def _synthetic(seed: int, n_stocks: int) -> MarketDataProvider:
    return SyntheticMarket(seed=seed, n_stocks=n_stocks)


def file_stamp(path: str) -> tuple:
    """Each file the path (or glob) names, with its size and modification time: a file source is read
    again once it changes, as a corrected file is, in a process that outlives one run."""
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
    return ParquetMarket(path, sector_map)


@lru_cache(maxsize=4)
def _polygon(options: PolygonOptions, sector_map: str | None) -> MarketDataProvider:
    """Sector lookups default to ten minutes' worth a run at a rate limit, and no cap without one."""
    per_minute = options.rate_per_minute
    stats = Stats()
    cache = ResponseCache(stats, redis_url=options.redis_url, ttl_seconds=options.cache_ttl_seconds)
    limiter = RateLimiter(per_minute, cache.redis, key="technic:polygon:rate")
    client = HttpClient(options.base_url, options.api_key, stats=stats, cache=cache, limiter=limiter,
                        retry_seconds=options.retry_seconds, timeout=(3.05, options.read_timeout))
    lookups = options.sector_lookups
    if lookups is None and per_minute:
        lookups = SECTOR_LOOKUP_MINUTES * per_minute
    # at a few requests a minute, parallel requests only queue in the limiter (and count against the
    # retry window's patience); a request in flight per ten a minute, up to eight
    workers = min(8, max(1, per_minute // 10)) if per_minute else 8
    return PolygonMarket(client, workers=workers, sector_map=sector_map, sector_lookups=lookups)
