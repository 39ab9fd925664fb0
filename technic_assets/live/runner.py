"""The intraday loop: a live feed's forming bars -> the incremental indicators -> the engine's rescan.

`technic serve` starts `run_live(engine, feed)` beside the server, with the feed `feed_from_env`
picks by TECHNIC_LIVE (off: none, the stored day only; replay: the session after the loaded day,
cut into minutes from the built-in market or the Parquet source, at TECHNIC_REPLAY_SPEED; polygon:
the full-market snapshot polled, or the WebSocket minute aggregates when TECHNIC_POLYGON_WS_URL is
set; `start` is the server's start-up hook). Each rescan recomputes the forming day's indicators
from the carried state for the newest update and re-ranks the whole cross-section (one version each);
updates that arrive meanwhile are superseded by the newest, which holds the whole day so far. The
update and the rescan run on a worker thread so the server's event loop keeps answering. Nothing here
writes to the store: intraday results never enter the daily partitions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Mapping

import pandas as pd

from technic_assets.live.feed import Feed, IdleFeed
from technic_assets.live.incremental import IntradayIndicators
from technic_assets.market.factory import is_local, provider

log = logging.getLogger("technic.live")
STATUS_SECONDS = 1.0  # how often the feed's state is passed to the engine (healthz), updates or not


def _report(engine, feed: Feed) -> None:
    if hasattr(engine, "set_feed"):
        status = feed.status.as_dict()
        engine.set_feed(status.pop("state"), **status)


def _rescan(engine, intraday: IntradayIndicators, update, source: str):
    indicators = intraday.update(update.forming)
    volume = pd.Series(update.forming["volume"].to_numpy(float), index=update.forming["symbol"].to_numpy())
    indicators["volume"] = volume.reindex(indicators["symbol"].to_numpy()).to_numpy()  # relative volume
    return engine.rescan(indicators, as_of=update.as_of, source=source, ages=update.ages)


async def run_live(engine, feed: Feed, *, intraday: IntradayIndicators | None = None) -> None:
    """Rescan the engine on the feed's updates until the feed ends (a replay's close, a refused key)
    or the task is cancelled. The feed is read at its own pace and the newest update wins: forming bars
    hold the whole day so far, so an update that arrives while a rescan runs replaces the one waiting
    (nothing is lost, and a burst of messages costs one rescan, not one each). The feed's state
    reaches the engine every STATUS_SECONDS."""
    if intraday is None:
        intraday = await asyncio.to_thread(IntradayIndicators, engine.window_bars, engine.day, engine.sessions)
    waiting: list = []  # at most one update: the newest not rescanned yet
    wake = asyncio.Event()
    finished = False

    async def pump():
        nonlocal finished
        try:
            async for update in feed.updates():
                waiting[:] = [update]
                wake.set()
                await asyncio.sleep(0)
        finally:
            finished = True
            wake.set()

    async def keep_reporting():
        while True:
            _report(engine, feed)
            await asyncio.sleep(STATUS_SECONDS)

    reporter = asyncio.create_task(keep_reporting())
    pumping = asyncio.create_task(pump())
    try:
        while True:
            if not waiting and not finished:
                await wake.wait()
                wake.clear()
            if waiting:
                update = waiting.pop()
                try:
                    await asyncio.to_thread(_rescan, engine, intraday, update, feed.source)
                except ValueError as exc:  # a forming frame the indicators refuse: counted, the loop goes on
                    feed.status.malformed += 1
                    log.warning("live: an update was refused: %s", exc)
                _report(engine, feed)
                continue
            if finished:
                break
        await pumping  # a feed that failed raises here
    finally:
        reporter.cancel()
        pumping.cancel()
        if feed.status.state in ("live", "starting"):
            feed.status.ended()
        _report(engine, feed)


def forming_day(engine) -> pd.Timestamp:
    sessions = engine.sessions
    pos = sessions.get_loc(pd.Timestamp(engine.day))
    if pos + 1 >= len(sessions):
        raise ValueError(f"the calendar holds no session after {engine.day:%Y-%m-%d}")
    return sessions[pos + 1]


def replay_bars(env, day: pd.Timestamp) -> pd.DataFrame:
    """The day's raw bars from the built-in market or the Parquet source of TECHNIC_MARKET."""
    if not is_local(env.market):
        raise ValueError(f"TECHNIC_LIVE=replay replays the built-in market or a Parquet file, not "
                         f"TECHNIC_MARKET={env.market!r}")
    source = provider(env.market, n_stocks=env.n_stocks, sector_map=env.sector_map)
    bars = source.daily_bars(day.date(), day.date())
    if bars.empty:
        raise ValueError(f"TECHNIC_LIVE=replay: TECHNIC_MARKET={env.market!r} has no bars for {day:%Y-%m-%d}, "
                         "the session after the loaded day")
    return bars


def feed_from_env(env, engine, environ: Mapping[str, str] | None = None, now: pd.Timestamp | None = None):
    """The live feed TECHNIC_LIVE asks for (None for off), for the session after the engine's day
    (`now`, for polygon: the wall clock unless given)."""
    environ = os.environ if environ is None else environ
    if env.live == "off":
        return None
    day = forming_day(engine)
    if env.live == "replay":
        from technic_assets.live.replay import ReplayFeed

        return ReplayFeed(replay_bars(env, day), day, speed=env.replay_speed)
    return polygon_feed(env, day, environ, pd.Timestamp.now(tz="UTC") if now is None else now)


def not_current(day: pd.Timestamp, now: pd.Timestamp) -> str | None:
    """Why a live market feed cannot continue the loaded day (None if it can): the market's bars are
    those of the session forming now (or next, outside one), which must be the loaded day's next."""
    from technic_assets.core.calendar import TIMEZONE, nyse

    cal = nyse()
    today = cal.date_to_session(now.tz_convert(TIMEZONE).tz_localize(None).normalize(), "next")
    if cal.session_close(today) <= now:  # after today's close: the next session forms next
        today = cal.next_session(today)
    if day == today:
        return None
    return (f"TECHNIC_LIVE=polygon: the loaded day's next session is {day:%Y-%m-%d}, but the session the market "
            f"is forming is {today:%Y-%m-%d}; serving the stored day only (scan the latest session, then serve it)")


def polygon_feed(env, day: pd.Timestamp, environ: Mapping[str, str], now: pd.Timestamp):
    from technic_assets.config import DEFAULT_POLYGON_URL
    from technic_assets.live.polygon_feed import AggregatesFeed, SnapshotFeed, fetch_snapshot
    from technic_assets.market.base import ProviderError
    from technic_assets.market.http import HttpClient, RateLimiter
    from technic_assets.market.polygon import PolygonMarket

    key = environ.get(env.api_key_var, "") if env.api_key_var else ""
    if not key:
        raise ValueError("TECHNIC_LIVE=polygon needs an API key: set POLYGON_API_KEY (or MASSIVE_API_KEY)")
    why = not_current(day, now)
    if why is not None:
        log.warning("live: %s", why)
        return IdleFeed("polygon", why)
    base = (environ.get(env.base_url_var, "") if env.base_url_var else "") or DEFAULT_POLYGON_URL
    # a live poll must not hang for minutes on an outage: short retries, then shown as stale
    client = HttpClient(base, key, retry_seconds=min(env.http_retry_seconds, 10.0),
                        timeout=(3.05, min(env.http_timeout_seconds, 10.0)), limiter=RateLimiter(env.rate_per_minute))
    try:
        splits = PolygonMarket(client).splits(day, day)
        ratios = dict(zip(splits["symbol"], splits["ratio"].astype(float)))
    except ProviderError as exc:
        log.warning("live: today's splits could not be read (%s); forming bars are taken as unsplit", exc)
        ratios = {}
    if env.polygon_ws_url:
        from technic_assets.core.calendar import nyse

        cal = nyse()
        session = (cal.session_open(day).timestamp(), cal.session_close(day).timestamp())
        return AggregatesFeed(env.polygon_ws_url, key, snapshot=functools.partial(fetch_snapshot, client),
                              split_ratios=ratios, session=session)
    return SnapshotFeed(client, split_ratios=ratios)


class LiveTask:
    """The running intraday loop of `technic serve`: `stop()` cancels it and waits for it to end."""

    def __init__(self, feed, task: asyncio.Task):
        self.feed, self.task = feed, task

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def start(engine, mode: str, env=None) -> LiveTask | None:
    """Start the loop for TECHNIC_LIVE=`mode` in the running event loop (the server's start-up hook);
    a feed that cannot be built (no key, no bars to replay) raises here, before serving."""
    import dataclasses

    from technic_assets.environment import Environment

    env = dataclasses.replace(env or Environment.read(), live=mode)
    feed = feed_from_env(env, engine)
    if feed is None:
        return None

    async def guarded():
        try:
            await run_live(engine, feed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the server keeps serving the last version; healthz says why
            feed.status.failed(f"the live loop stopped: {type(exc).__name__}: {exc}", state="stopped")
            _report(engine, feed)
            log.exception("live loop stopped")

    return LiveTask(feed, asyncio.get_running_loop().create_task(guarded()))
