"""Polygon (Massive) live feeds: the full-market snapshot polled over REST, and the per-minute
aggregates (`AM.*`) over the WebSocket where the plan has them.

What the real feeds do, and what is done about it:
- the snapshot's day bar is all zeros before a symbol's first regular-hours trade: no forming bar yet
  (the symbol keeps its last close's indicators), neither an error nor a malformed row;
- a halted or silent symbol's bar stops moving while the market goes on: every update carries each
  symbol's data age (`updated`, or the minute's end, against the newest data);
- a feed that stops or lags: a failed poll or a dropped socket sets the status `stale` with the
  error (the last update, with its `as_of`, stays what is served) and polling or reconnecting goes
  on; the next data sets it `live` again;
- malformed messages or rows (not JSON, missing or non-numeric fields, high below low) are counted
  in the status and skipped, the rest of the message is used;
- a refused key (HTTP 401/403, `auth_failed`) stops the feed with status `refused` and a message that
  names the endpoint, never the key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from urllib.parse import urlsplit

import numpy as np

from technic_assets.live.feed import FeedStatus, FormingBars
from technic_assets.market.base import ProviderError

log = logging.getLogger("technic.live")
SNAPSHOT_PATH = "/v2/snapshot/locale/us/markets/stocks/tickers"
DEFAULT_WS_URL = "wss://socket.polygon.io/stocks"
# The websockets library logs every frame at DEBUG, the auth frame with the key included: its
# connection logs go to a logger of their own that never passes DEBUG on.
WS_LOG = logging.getLogger("technic.live.websocket")
WS_LOG.setLevel(logging.INFO)


def _number(x) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError("not a number")
    value = float(x)
    if not math.isfinite(value) or value < 0:
        raise ValueError("not a finite non-negative number")
    return value


def parse_snapshot(body) -> tuple[dict, int, int]:
    """The traded symbols' day bars of a snapshot answer: (columns symbol, open, high, low, close,
    volume, updated [epoch s]), the count of malformed rows, and of symbols not traded yet."""
    tickers = body.get("tickers") if isinstance(body, dict) else None
    if not isinstance(tickers, list):
        raise ValueError("the snapshot has no list of tickers")
    cols = {k: [] for k in ("symbol", "open", "high", "low", "close", "volume", "updated")}
    malformed = untraded = 0
    for t in tickers:
        try:
            symbol, day = t["ticker"], t["day"]
            if not isinstance(symbol, str) or not symbol:
                raise TypeError("no ticker")
            o, h, l, c, v = (_number(day[k]) for k in ("o", "h", "l", "c", "v"))
            stamp = t.get("updated") or (t.get("lastTrade") or {}).get("t")
            updated = _number(stamp) / 1e9 if stamp is not None else math.nan
        except (KeyError, TypeError, ValueError):
            malformed += 1
            continue
        if c == 0.0 and o == 0.0:  # no regular-hours trade yet today
            untraded += 1
            continue
        if min(o, h, l, c) <= 0 or l > h:
            malformed += 1
            continue
        for k, x in zip(cols, (symbol, o, h, l, c, v, updated)):
            cols[k].append(x)
    return cols, malformed, untraded


def fetch_snapshot(client) -> dict:
    """One full-market snapshot through the HTTP client (never cached: it is the news)."""
    return client.get(SNAPSHOT_PATH, {}, what="full-market snapshot", cache=False)


def refused(exc: ProviderError) -> bool:
    """The key or the plan was refused (HttpClient's 401/403 message): retrying will not help."""
    return "HTTP 401" in str(exc) or "HTTP 403" in str(exc)


class SnapshotFeed:
    """The full-market snapshot, one request for the whole market every `interval` seconds, through
    the project's HTTP client (its retries, rate limit and timeouts; the key in a header). Answers whose
    newest data has not moved for `stale_after` seconds set the state stale (the provider lags)."""

    source = "polygon-snapshot"

    def __init__(self, client, *, interval: float = 5.0, split_ratios: dict[str, float] | None = None,
                 stale_after: float = 60.0, sleep=asyncio.sleep):
        self.client, self.interval, self.stale_after, self._sleep = client, interval, stale_after, sleep
        self.split_ratios = split_ratios or {}
        self.status = FeedStatus(self.source)

    def poll(self) -> dict:
        return fetch_snapshot(self.client)

    async def updates(self):
        bars = FormingBars()
        bars.set_split_ratios(self.split_ratios)
        newest, moved = -math.inf, time.monotonic()
        while True:
            try:
                cols, bad, untraded = await asyncio.to_thread(lambda: parse_snapshot(self.poll()))  # off the loop
            except ProviderError as exc:
                if refused(exc):
                    self.status.failed(str(exc), state="refused")
                    log.error("live feed stopped: %s", exc)
                    return
                self.status.failed(str(exc))
                if "not valid JSON" in str(exc):
                    self.status.malformed += 1
                log.warning("live feed: %s; polling again in %.0f s", exc, self.interval)
                await self._sleep(self.interval)
                continue
            except ValueError as exc:
                self.status.malformed += 1
                self.status.failed(f"full-market snapshot: {exc}")
                await self._sleep(self.interval)
                continue
            self.status.malformed += bad
            self.status.extra["not_traded_yet"] = untraded
            if cols["symbol"]:
                updated = np.asarray(cols["updated"], dtype=float)
                fallback = np.nanmax(updated) if np.isfinite(updated).any() else time.time()
                bars.set_day(cols["symbol"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                             np.where(np.isnan(updated), fallback, updated))
                update = bars.update()
                latest = bars.latest()
                if latest > newest:
                    newest = latest
                    self.status.received(update.as_of)
                    yield update
                    moved = time.monotonic()
                elif time.monotonic() - moved > self.stale_after:  # the provider lags (or the market closed)
                    self.status.failed(f"the snapshot's data has not moved for {time.monotonic() - moved:.0f} s")
            await self._sleep(self.interval)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}{parts.path}"


class Refused(Exception):
    pass


def parse_aggregates(raw) -> tuple[list[dict], int]:
    """The minute aggregates (`AM` events) of one WebSocket message, and the count of malformed
    events (or 1 for a message that is not a JSON list of events)."""
    try:
        events = json.loads(raw)
    except (TypeError, ValueError):
        return [], 1
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list):
        return [], 1
    good, bad = [], 0
    for e in events:
        if not isinstance(e, dict) or e.get("ev") != "AM":
            bad += not (isinstance(e, dict) and e.get("ev") == "status")
            continue
        try:
            sym = e["sym"]
            if not isinstance(sym, str) or not sym:
                raise TypeError
            row = {"sym": sym, **{k: _number(e[k]) for k in ("o", "h", "l", "c", "v", "e")}}
            row["op"] = _number(e["op"]) if "op" in e else math.nan
            row["av"] = _number(e["av"]) if "av" in e else math.nan
        except (KeyError, TypeError, ValueError):
            bad += 1
            continue
        if min(row["o"], row["h"], row["l"], row["c"]) <= 0 or row["l"] > row["h"]:
            bad += 1
            continue
        good.append(row)
    return good, bad


class AggregatesFeed:
    """Polygon's WebSocket per-minute aggregates of every symbol (`AM.*`), aggregated into forming bars.
    `snapshot` (optional: a function answering the full-market snapshot) is read once at the start, so
    a feed that starts mid-session has the day so far (the morning's high and low) before the next
    minute; `session` keeps the regular session's minutes only (the socket also carries pre- and
    after-market ones); no message for `stale_after` seconds sets the state stale."""

    source = "polygon-ws"

    def __init__(self, url: str, api_key: str, *, snapshot=None, split_ratios: dict[str, float] | None = None,
                 reconnect_seconds: float = 2.0, open_timeout: float = 10.0,
                 session: tuple[float, float] | None = None, stale_after: float = 120.0):
        if not api_key:
            raise ValueError("no API key: set POLYGON_API_KEY (or MASSIVE_API_KEY)")
        self.url, self._key = url, api_key
        self.snapshot = snapshot
        self.bars = FormingBars()
        self.bars.set_split_ratios(split_ratios or {})
        self.reconnect_seconds, self.open_timeout, self.stale_after = reconnect_seconds, open_timeout, stale_after
        self.session = session  # (open, close) epoch seconds: minutes outside (pre- and after-market) are left out
        self.status = FeedStatus(self.source)

    def __repr__(self) -> str:
        return f"AggregatesFeed({_safe_url(self.url)})"

    async def _login(self, ws) -> None:
        await ws.send(json.dumps({"action": "auth", "params": self._key}))
        while True:
            events, _ = _status_events(await asyncio.wait_for(ws.recv(), self.open_timeout))
            for e in events:
                if e.get("status") == "auth_success":
                    await ws.send(json.dumps({"action": "subscribe", "params": "AM.*"}))
                    return
                if e.get("status") in ("auth_failed", "error"):
                    raise Refused(f"WebSocket {_safe_url(self.url)}: the API key was refused or the plan has no "
                                  f"WebSocket aggregates ({str(e.get('message', ''))[:80]})".replace(self._key, "***"))

    async def updates(self):
        import websockets

        where = _safe_url(self.url)
        if self.snapshot is not None:
            first = await self._day_so_far()
            if first is not None:
                yield first
        while True:
            try:
                async with websockets.connect(self.url, open_timeout=self.open_timeout, logger=WS_LOG) as ws:
                    await self._login(ws)
                    while True:
                        try:
                            raw = await asyncio.wait_for(ws.recv(), self.stale_after)
                        except asyncio.TimeoutError:  # connected, but nothing comes: lagging, or the market closed
                            self.status.failed(f"WebSocket {where}: no message for {self.stale_after:g} s")
                            continue
                        events, bad = parse_aggregates(raw)
                        self.status.malformed += bad
                        if self.session is not None:
                            inside = [e for e in events if self.session[0] < e["e"] / 1e3 <= self.session[1]]
                            extra = self.status.extra
                            extra["outside_session"] = extra.get("outside_session", 0) + len(events) - len(inside)
                            events = inside
                        if not events:
                            continue
                        self.bars.add_minutes([e["sym"] for e in events], *(
                            [e[k] for e in events] for k in ("o", "h", "l", "c", "v")),
                            updated=[e["e"] / 1e3 for e in events],
                            day_open=[e["op"] for e in events], day_volume=[e["av"] for e in events])
                        update = self.bars.update()
                        self.status.received(update.as_of)
                        yield update
            except Refused as exc:
                self.status.failed(str(exc), state="refused")
                log.error("live feed stopped: %s", exc)
                return
            except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
                self.status.failed(f"WebSocket {where}: {type(exc).__name__}; reconnecting in "
                                   f"{self.reconnect_seconds:g} s")
                log.warning("live feed: %s", self.status.error)
                await asyncio.sleep(self.reconnect_seconds)

    async def _day_so_far(self):
        """The snapshot's day bars as the starting point (None, and a warning, where it fails)."""
        try:
            cols, bad, _ = await asyncio.to_thread(lambda: parse_snapshot(self.snapshot()))
        except (ProviderError, ValueError) as exc:
            log.warning("live feed: the day so far could not be read (%s); starting from the next minutes", exc)
            return None
        self.status.malformed += bad
        if not cols["symbol"]:
            return None
        updated = np.asarray(cols["updated"], dtype=float)
        fallback = np.nanmax(updated) if np.isfinite(updated).any() else time.time()
        self.bars.set_day(cols["symbol"], cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"],
                          np.where(np.isnan(updated), fallback, updated))
        update = self.bars.update()
        self.status.received(update.as_of)
        return update


def _status_events(raw) -> tuple[list[dict], int]:
    try:
        events = json.loads(raw)
    except (TypeError, ValueError):
        return [], 1
    events = [events] if isinstance(events, dict) else events
    return ([e for e in events if isinstance(e, dict)], 0) if isinstance(events, list) else ([], 1)
