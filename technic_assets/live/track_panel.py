"""The page's track-record panel (issue 20): the record of the screen on view, or of settings tried on
the page, as JSON for its chart and tables. The record is technic_assets.track.stored_record, the one
`technic backtest` prints (core.track_record computes it); nothing is computed here.

    GET /api/track?screen=&horizon=5&cost_bps=10&benchmark=SPY&<the screen's parameters>

Settings equal to the screen's (the day's, or the saved screen `screen=` names) read its stored
evenings' picks: about a second over 600 sessions. Other settings re-screen every stored evening
(technic_assets.rescreen), which can take many seconds. Either runs on the server's screen pool (off
the event loop, below the feed's rescans), at most `screen_workers - 1` records at once (one at least)
so that screens keep a thread, and once per (store version, screen, settings, horizon, costs,
benchmark): the answer is kept, and requests for a record that is running wait on the same job. A
request waits up to WAIT_SECONDS; a record not done by then is HTTP 202 with its progress
(`{"status": "running", "done": 3, "of": 7}`: evenings re-screened), and the page asks again. A record
nobody has asked after for ABANDON_SECONDS (the page was closed, or its settings changed) is dropped:
before it starts, or at its next evening re-screened (a re-screen of 600 evenings takes minutes); so is
every record when the server stops, so that `technic serve` still stops within a second or so.

The store version is the store file's modification time and size: an evening run that writes a day
makes every record anew.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool

from technic_assets.config import settings_json, settings_key
from technic_assets.output import plain
from technic_assets.storage.resource import history_for
from technic_assets.track import stored_record

log = logging.getLogger("technic.serve")
WAIT_SECONDS = 1.0   # a request waits this long for its record before it is told to ask again (202)
ABANDON_SECONDS = 30.0  # a record not asked after for this long is dropped (the page asks every half second)
KEPT = 32            # records kept (their JSON), the most recently asked
TRACK_PARAMS = ("horizon", "cost_bps", "benchmark")
DEFAULTS = {"horizon": 5, "cost_bps": 10.0, "benchmark": "SPY"}  # technic backtest's
MAX_HORIZON, MAX_COST_BPS = 252, 10_000.0
TICKER = re.compile(r"[A-Z][A-Z0-9.\-]{0,11}")
UNITS = ("fractions, not percent: ann_return (CAGR, net of costs), ann_return_gross, volatility, "
         "excess_vs_universe (mean daily excess x 252), max_drawdown, turnover (one-sided, a day), total_return "
         "(by year, not annualized); ratios: sharpe, information_ratio; rank_ic: the mean daily Spearman "
         "correlation of the screen's MERIT score (a score, not a return) with the next `horizon` sessions' "
         "return, t_nw its Newey-West t; curve: each book's value, 1 at the first entry's close, net of costs "
         "(top_n_gross without)")


class BadTrackInput(ValueError):
    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


@dataclass(frozen=True)
class Ask:
    """One record asked for: the stored screen (whose evenings are re-screened where `adhoc`), the
    settings, and how the books are held."""

    screen: str
    settings: object          # ScanSettings
    adhoc: bool               # settings other than the screen's: re-screen its evenings
    horizon: int
    cost_bps: float
    benchmark: str

    @property
    def key(self) -> tuple:
        return (self.screen, settings_key(self.settings) if self.adhoc else None, self.horizon, self.cost_bps,
                self.benchmark)


def track_ask(query, screen: str, settings, base) -> Ask:
    """The Ask of a request's query (its screen parameters already parsed into `settings` over `base`);
    BadTrackInput naming a bad horizon, cost_bps or benchmark."""
    raw = {name: query.get(name, "").strip() for name in TRACK_PARAMS}
    try:
        horizon = int(raw["horizon"]) if raw["horizon"] else DEFAULTS["horizon"]
    except ValueError:
        raise BadTrackInput("horizon", f"{raw['horizon'][:20]!r} is not a whole number of sessions") from None
    if not 1 <= horizon <= MAX_HORIZON:
        raise BadTrackInput("horizon", f"{horizon} sessions: want 1 to {MAX_HORIZON}")
    try:
        cost = float(raw["cost_bps"]) if raw["cost_bps"] else DEFAULTS["cost_bps"]
    except ValueError:
        raise BadTrackInput("cost_bps", f"{raw['cost_bps'][:20]!r} is not a number") from None
    if not math.isfinite(cost) or not 0 <= cost <= MAX_COST_BPS:
        raise BadTrackInput("cost_bps", f"{raw['cost_bps'][:20]!r}: costs are 0 to {MAX_COST_BPS:g} bps a side")
    benchmark = raw["benchmark"].upper() or DEFAULTS["benchmark"]
    if not TICKER.fullmatch(benchmark):
        raise BadTrackInput("benchmark", f"{raw['benchmark'][:20]!r} is not a ticker")
    return Ask(screen, settings, settings_key(settings) != settings_key(base), horizon, cost, benchmark)


def _parameter(message: str) -> str:
    """The input an error of the record names (its first word where that is one)."""
    first = message.split(" ", 1)[0].rstrip(":")
    if first in TRACK_PARAMS:
        return first
    return "screen" if "screen" in message.split(":")[0] else "settings"


class Abandoned(Exception):
    """Nobody asks after the record any more, or the server stops: its re-screen stops."""


def record_json(path: str, ask: Ask, fallback_screen: str, alpha_weight: float, tick) -> dict:
    """The record's JSON (on a pool thread): stored_record over the store at `path`, `tick(done, of)`
    called after each evening re-screened. A saved screen with no stored evenings is re-screened over
    `fallback_screen`'s (the served screen's)."""
    history = history_for(path, read_only=True)
    stored = history.query("ranked_top_n", "SELECT DISTINCT coalesce(screen, 'default') AS screen "
                                           "FROM technic.ranked_top_n", [])
    screens = set() if stored is None else set(stored["screen"])
    screen, adhoc = ask.screen, ask.adhoc
    if screen not in screens:
        screen, adhoc = fallback_screen, True

    started = time.perf_counter()
    record = stored_record(history, screen, None, None, horizon=ask.horizon, cost_bps=ask.cost_bps,
                           benchmark=ask.benchmark, settings=ask.settings if adhoc else None,
                           alpha_weight=alpha_weight, progress=tick)
    daily = record.daily
    curve = {"date": [f"{d:%Y-%m-%d}" for d in daily.index],
             **{book: daily[book].tolist() for book in ("top_n", "top_n_gross", "universe", "benchmark")}}
    return plain({"status": "done", "screen": ask.screen, "evenings_of": screen, "adhoc": adhoc,
                  "settings": settings_json(ask.settings), "alpha_weight": alpha_weight,
                  "seconds": round(time.perf_counter() - started, 3), "units": UNITS,
                  "summary": record.summary, "curve": curve})


def _dumps(payload) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


@dataclass
class Job:
    progress: dict
    task: asyncio.Future | None = None
    started: float = field(default_factory=time.monotonic)
    asked: float = field(default_factory=time.monotonic)  # when a request last asked after it
    stopping: Callable[[], bool] = field(default=lambda: False)  # whether the server stops (`closing` is set)

    def why_dropped(self) -> str | None:
        if self.stopping():
            return "the server is stopping"
        if time.monotonic() - self.asked > ABANDON_SECONDS:
            return f"nobody asked after it for {ABANDON_SECONDS:.0f} s; ask again"
        return None

    def tick(self, done: int, of: int) -> None:
        """Progress from the pool thread; stops a re-screen nobody waits for, or when the server stops."""
        self.progress.update(done=done, of=of)
        why = self.why_dropped()
        if why is not None:
            raise Abandoned(why)


class TrackPanel:
    """The records asked of one server: kept answers, the jobs running, and the slots they run in."""

    def __init__(self, service):
        self.service = service
        self.slots = asyncio.Semaphore(max(1, service.limits.screen_workers - 1))
        self.jobs: dict[tuple, Job] = {}
        self.kept: collections.OrderedDict[tuple, tuple[int, str]] = collections.OrderedDict()

    @property
    def engine(self):
        return self.service.engine

    async def answer(self, ask: Ask) -> tuple[int, str]:
        """(HTTP status, JSON text): the record (200), a refusal naming the input (400), or its progress
        while it runs (202)."""
        key = (history_for(self.engine.stored.path, read_only=True).version(), ask.key)
        if key in self.kept:
            self.kept.move_to_end(key)
            return self.kept[key]
        job = self.jobs.get(key)
        if job is None:
            job = self.jobs[key] = Job(progress={"status": "queued", "done": 0, "of": None},
                                       stopping=self.service.closing.is_set)
            job.task = asyncio.ensure_future(self._run(key, ask, job))
        job.asked = time.monotonic()
        await asyncio.wait({job.task}, timeout=WAIT_SECONDS)
        if job.task.done():
            return job.task.result()
        return 202, _dumps({**job.progress, "elapsed_s": round(time.monotonic() - job.started, 1), "adhoc": ask.adhoc})

    async def _run(self, key: tuple, ask: Ask, job: Job) -> tuple[int, str]:
        try:
            async with self.slots:
                if job.why_dropped() is not None:
                    raise Abandoned(job.why_dropped())
                job.progress["status"] = "running"
                # the window's read-only connection must be closed before the store is opened to read
                if not self.engine.window_ready:
                    await run_in_threadpool(lambda: self.engine.window_bars)
                body = await self.service.pool.run(record_json, self.engine.stored.path, ask,
                                                   self.engine.stored.screen, self.engine.stored.alpha_weight,
                                                   job.tick)
            result = (200, _dumps(body))
        except Abandoned as exc:
            log.info("dropped the track record of %s: %s", ask.screen, exc)
            self.jobs.pop(key, None)
            return 503, _dumps({"error": f"the record was dropped: {exc}"})
        except ValueError as exc:  # bad input: one line naming it, the same answer every time
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result = (400, _dumps({"error": message, "parameter": _parameter(message)}))
        except Exception as exc:  # noqa: BLE001 - a failure is told, not kept: the next request tries again
            log.exception("the track record of %s failed", ask.screen)
            self.jobs.pop(key, None)
            return 500, _dumps({"error": f"the track record failed: {type(exc).__name__}: {exc}"})
        self.jobs.pop(key, None)
        self.kept[key] = result
        while len(self.kept) > KEPT:
            self.kept.popitem(last=False)
        return result
