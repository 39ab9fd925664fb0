"""A careful HTTP client for a market-data REST API, and the cache layers in front of it.

One `requests.Session` per client, (connect, read) timeouts on every call, retries with exponential
backoff and jitter on 429, 5xx, timeouts and dropped connections, honouring Retry-After (in full, even
beyond the backoff cap), for up to `retry_seconds` (2 minutes: a rate limit's minute or a short outage
is ridden out) or `max_retries` tries, whichever ends first, then a clear `ProviderError` naming the
endpoint (never the key: it travels in the Authorization header, and URLs are logged without their
query). One sliding-window rate limit is shared by every thread of a process, and by every process of
a run when Redis is configured. Every retry (WARNING) and every rate-limit wait over a second (INFO) is
logged on `technic.market` with the endpoint and the wait, so a long wait never looks like a hang.

Layers, each counted in `stats`: L1 an in-process LRU of parsed responses; L3 Redis (optional,
one-hour TTL by default, health-checked, dropped with a warning if it fails mid-run, so results stay
identical); L4 the provider. (L2, the DuckDB store, sits above the provider in the price_bars asset.)

Every wait and deadline (backoff sleeps, the retry window, the rate limit's windows) reads a clock:
an object with `monotonic()`, `sleep(seconds)` and `time()`, given to the client or the limiter, or
else the module's `CLOCK` (the `time` module) read at each call, so tests can swap in a virtual one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import orjson
import requests

from technic_assets.market.base import ProviderError

log = logging.getLogger("technic.market")

RETRY_STATUS = {429, 500, 502, 503, 504}
CLOCK = time  # the clock of clients and limiters built without one: monotonic(), sleep(seconds), time()


@dataclass
class Stats:
    """Counters per cache layer, safe to bump from many threads."""

    l1_hits: int = 0
    l3_hits: int = 0
    l3_misses: int = 0
    l3_errors: int = 0
    requests: int = 0
    retries: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}


# Atomic check-and-add on a sorted set of send times (epoch seconds), so every process sees one window:
# drop those at or before the cutoff, then add this request if fewer than the limit remain, else answer
# the oldest one's time (the caller waits until it leaves the window). Times come in as strings, from
# the caller's clock, so Redis's own number formatting loses no precision.
_SLIDING_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], 61000)
  return false
end
return redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
"""


class RateLimiter:
    """At most `per_minute` requests in any 60 s; shared through Redis when a client is given.

    Both are sliding windows: a fixed minute's counter would let 2N through around a minute boundary.
    """

    WINDOW = 60.0

    def __init__(self, per_minute: int, redis_client=None, key: str = "technic:ratelimit", *, clock=None):
        self.per_minute = per_minute
        self.redis = redis_client
        self.key = key
        self._clock = clock
        self._lock = threading.Lock()
        self._sent: list[float] = []
        self._script = redis_client.register_script(_SLIDING_WINDOW) if redis_client is not None else None

    @property
    def clock(self):
        return self._clock if self._clock is not None else CLOCK

    def acquire(self, where: str = "a request") -> float:
        """Wait for a place in the window, returning the seconds waited; a wait over a second is logged,
        so a long one is no silent hang."""
        waited = 0.0
        if self.per_minute <= 0:
            return waited
        while True:
            wait = self._try_redis() if self.redis is not None else self._try_local()
            if wait <= 0:
                return waited
            if wait > 1.0:
                log.info("rate limit: %d requests a minute reached; %s waits %.1f s", self.per_minute, where, wait)
            self.clock.sleep(wait)
            waited += wait

    def _try_local(self) -> float:
        with self._lock:
            now = self.clock.monotonic()
            self._sent = [t for t in self._sent if now - t < self.WINDOW]
            if len(self._sent) < self.per_minute:
                self._sent.append(now)
                return 0.0
            return self.WINDOW - (now - self._sent[0]) + 0.01

    def _try_redis(self) -> float:
        """0 when this request may go now (and it is counted), else the seconds until a place frees up."""
        try:
            now = self.clock.time()
            oldest = self._script(keys=[self.key], args=[repr(now), repr(now - self.WINDOW), self.per_minute,
                                                          f"{now!r}:{uuid.uuid4().hex}"])
            return 0.0 if oldest is None else max(0.0, float(oldest) + self.WINDOW - now) + 0.01
        except Exception as exc:  # noqa: BLE001 - Redis down: fall back to this process's own limit
            log.warning("rate limit: Redis unavailable (%s); limiting this process only", type(exc).__name__)
            self.redis = None
            return self._try_local()


class ResponseCache:
    """L1 (bounded, in process) and L3 (Redis, optional) for JSON responses, keyed without secrets."""

    def __init__(self, stats: Stats, *, redis_url: str | None = None, ttl_seconds: int = 3600,
                 l1_bytes: int = 16 * 2**20, namespace: str = "technic:http"):
        self.stats, self.ttl, self.namespace = stats, ttl_seconds, namespace
        self._l1: OrderedDict[str, tuple[dict, int]] = OrderedDict()
        self._l1_budget, self._l1_used = l1_bytes, 0
        self._lock = threading.Lock()
        self.redis = None
        self.warnings: list[str] = []
        if redis_url:
            self.redis = self._connect(redis_url)

    def _connect(self, url: str):
        import redis

        try:
            client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
            client.ping()
            return client
        except Exception as exc:  # noqa: BLE001 - optional layer
            self._degrade(f"Redis at {_safe(url)} is not answering ({type(exc).__name__}); running without L3")
            return None

    def _degrade(self, message: str) -> None:
        self.redis = None
        self.warnings.append(message)
        log.warning(message)

    def key(self, path: str, params: dict) -> str:
        canonical = json.dumps([path, sorted(params.items())], default=str)
        return f"{self.namespace}:{hashlib.sha256(canonical.encode()).hexdigest()}"

    def get(self, key: str) -> dict | None:
        with self._lock:
            if key in self._l1:
                self._l1.move_to_end(key)
                self.stats.add(l1_hits=1)
                return self._l1[key][0]
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(key)
        except Exception as exc:  # noqa: BLE001
            self.stats.add(l3_errors=1)
            self._degrade(f"Redis failed mid-run ({type(exc).__name__}); continuing without L3, results unchanged")
            return None
        if raw is None:
            self.stats.add(l3_misses=1)
            return None
        self.stats.add(l3_hits=1)
        value = orjson.loads(raw)
        self._remember(key, value, len(raw))
        return value

    def put(self, key: str, value: dict, raw: bytes) -> None:
        self._remember(key, value, len(raw))
        if self.redis is None:
            return
        try:
            self.redis.set(key, raw, ex=self.ttl)
        except Exception as exc:  # noqa: BLE001
            self.stats.add(l3_errors=1)
            self._degrade(f"Redis failed mid-run ({type(exc).__name__}); continuing without L3, results unchanged")

    def _remember(self, key: str, value: dict, size: int) -> None:
        """Keep a parsed response, evicting the least recently used beyond the byte budget
        (parsed JSON takes several times its text, so the budget counts the text)."""
        if size > self._l1_budget // 64:
            return  # a whole market's day: the store (L2) and Redis (L3) keep those
        with self._lock:
            if key in self._l1:
                self._l1_used -= self._l1.pop(key)[1]
            self._l1[key] = (value, size)
            self._l1_used += size
            while self._l1_used > self._l1_budget:
                self._l1_used -= self._l1.popitem(last=False)[1][1]


def _safe(url: str) -> str:
    """A URL without its query or credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class HttpClient:
    """GET JSON from one API with a key, retries, a rate limit and the cache layers."""

    def __init__(self, base_url: str, api_key: str, *, stats: Stats | None = None,
                 cache: ResponseCache | None = None, limiter: RateLimiter | None = None,
                 timeout: tuple[float, float] = (3.05, 20.0), max_retries: int = 40, retry_seconds: float = 120.0,
                 backoff: float = 0.5, max_backoff: float = 30.0, pool_size: int = 16, clock=None):
        if not api_key:
            raise ProviderError("no API key: set POLYGON_API_KEY (or MASSIVE_API_KEY)")
        self.base_url = base_url.rstrip("/")
        self.stats = stats or Stats()
        self.cache = cache
        self.limiter = limiter or RateLimiter(0)
        self.timeout, self.max_retries, self.retry_seconds = timeout, max_retries, retry_seconds
        self.backoff, self.max_backoff = backoff, max_backoff
        self._clock = clock
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {api_key}", "User-Agent": "technic"})
        adapter = requests.adapters.HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @property
    def clock(self):
        return self._clock if self._clock is not None else CLOCK

    def get(self, path: str, params: dict | None = None, *, what: str, cache: bool = True) -> dict:
        """One JSON document; `what` names the request in errors (e.g. 'grouped daily 2024-01-02')."""
        params = dict(params or {})
        key = self.cache.key(path, params) if (cache and self.cache) else None
        if key is not None and (hit := self.cache.get(key)) is not None:
            return hit
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        body, raw = self._fetch(url, params, what)
        if key is not None:
            self.cache.put(key, body, raw)
        return body

    def _fetch(self, url: str, params: dict, what: str) -> tuple[dict, bytes]:
        where = f"{what} ({_safe(url)})"
        clock = self.clock
        deadline = clock.monotonic() + self.retry_seconds
        for attempt in range(self.max_retries + 1):
            # the retry window is for the server's trouble, not for our own queue: on a 5-a-minute plan a
            # request can wait minutes for its place, and that must not use up its retries
            deadline += self.limiter.acquire(where)
            self.stats.add(requests=1)
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except (requests.Timeout, requests.ConnectionError) as exc:
                if attempt == self.max_retries or clock.monotonic() >= deadline:
                    raise ProviderError(f"{where}: no answer after {attempt + 1} tries "
                                        f"({type(exc).__name__}){self._over(clock, deadline)}") from None
                self._sleep(clock, attempt, None, where, type(exc).__name__, deadline)
                continue
            self.stats.add(bytes=len(response.content))
            if response.status_code in RETRY_STATUS:
                if attempt == self.max_retries or clock.monotonic() >= deadline:
                    raise ProviderError(f"{where}: HTTP {response.status_code} after {attempt + 1} tries"
                                        f"{self._over(clock, deadline)}")
                self._sleep(clock, attempt, response.headers.get("Retry-After"), where, f"HTTP {response.status_code}",
                            deadline)
                continue
            if response.status_code in (401, 403):
                raise ProviderError(f"{where}: HTTP {response.status_code}: the API key was refused or the plan "
                                    "is not entitled to this endpoint")
            if response.status_code != 200:
                raise ProviderError(f"{where}: HTTP {response.status_code}")
            try:
                return orjson.loads(response.content), response.content
            except orjson.JSONDecodeError:
                raise ProviderError(f"{where}: the answer is not valid JSON ({len(response.content)} bytes)") from None
        raise AssertionError("unreachable")

    def _over(self, clock, deadline: float) -> str:
        return f" over {self.retry_seconds - (deadline - clock.monotonic()):.0f} s"

    def _sleep(self, clock, attempt: int, retry_after: str | None, where: str, why: str, deadline: float) -> None:
        """Back off before the next try. The server's Retry-After is waited in full, beyond the backoff cap
        (a shorter wait only hits the limit again); one that ends past the deadline fails now."""
        left = max(0.0, deadline - clock.monotonic())
        delay = min(self.max_backoff, self.backoff * 2**attempt) * (0.5 + random.random() / 2)
        asked = _retry_after_seconds(retry_after, clock.time()) if retry_after else 0.0
        if asked > left:
            raise ProviderError(f"{where}: {why} after {attempt + 1} tries; the server asks to wait {asked:.0f} s "
                                f"(Retry-After), past the {self.retry_seconds:.0f} s retry window ({left:.0f} s left)")
        delay = max(asked, min(delay, left))  # a backoff is cut to try once more at the deadline
        self.stats.add(retries=1)
        log.warning("%s: %s, retry %d in %.1f s%s", where, why, attempt + 1, delay, " (Retry-After)" if asked else "")
        clock.sleep(delay)

    def paginate(self, path: str, params: dict, *, what: str, max_pages: int = 1000) -> Iterator[dict]:
        """Every result of a paginated endpoint, following `next_url` and refusing a cursor loop."""
        seen: set[str] = set()
        page = self.get(path, params, what=what)
        for count in range(1, max_pages + 1):
            yield from page.get("results") or []
            next_url = page.get("next_url")
            if not next_url:
                return
            if next_url in seen:
                raise ProviderError(f"{what}: pagination repeats a cursor after {count} pages")
            seen.add(next_url)
            page = self.get(next_url, {}, what=f"{what}, page {count + 1}")
        raise ProviderError(f"{what}: pagination did not end after {max_pages} pages")


def _retry_after_seconds(value: str, now: float) -> float:
    """Retry-After in seconds: a number of them, or an HTTP date (`now` is the epoch time)."""
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now)
        except (TypeError, ValueError):
            return 0.0
