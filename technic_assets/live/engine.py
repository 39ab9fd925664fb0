"""The live engine: one scanned day in memory, screened and re-ranked on demand, published as versions.

    engine = LiveEngine.load(store_path)              # the latest scanned day, read once, read-only
    engine.screen(ScanSettings(style="swing", sectors=["Energy"]))   # any settings, whole cross-section
    engine.rescan(indicators, as_of=now, source="replay")             # a forming day's indicators
    async for version in engine.subscribe(): ...                      # the newest version each time (SSE)

A screen runs the same core stages the assets chain (core.pipeline): the smart filter, sector-neutral
factor z-scores, ICS, regime-tilted MERIT blended with the alpha forecasts, and the ranking, over the
whole cross-section, so a screen with the day's own settings gives back the stored ranked_top_n.

State has one owner and one update path: a `Snapshot` (the indicators of a version, its as_of, source
and data ages) is immutable; `rescan` builds the next one and swaps the reference, so a screen running
on another thread reads one consistent version. Intraday, the liquidity rules keep the last close's
20-day figures (adv_20, price_cv_63 from the stored day: volume so far is a fraction of a day) and the
relative volume so far (against what an average day has traded by that minute, core.volume_profile) is
shown beside them; fundamentals, splits and the alpha forecasts are the stored day's; the regime is
re-read from the live ETF indicators.

A subscriber holds at most one version: the newest published since it last took one (a client that is
behind wants the latest, not the history), so a client that stops reading costs nothing more as versions
go on. Versions are numbered from 1 in each run of the engine; `run` (its start, epoch milliseconds) tells
one run's version 3 from another's, so an id from before a restart is recognised as foreign.
Screens other than the rescan's wait while a rescan runs (`wait_for_rescan`): the feed comes first.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time

import numpy as np
import pandas as pd

from technic_assets.config import scan_settings, settings_json, settings_key
from technic_assets.core.factors import FACTORS, factor_panel
from technic_assets.core.indicators import INDICATOR_COLUMNS
from technic_assets.core.regime import classify_regime
from technic_assets.core.scoring import explain
from technic_assets.core.screen import Prepared, prepare
from technic_assets.core.volume_profile import share_traded, u_weights
from technic_assets.live.day import StoredDay, load_day, read_window
from technic_assets.live.screen import LIQUIDITY_COLUMNS, ScreenResult, Snapshot, screen_cross_section, with_top_n
from technic_assets.storage import db_path
from technic_assets.storage.iceberg import is_iceberg
from technic_assets.storage.resource import history_for

__all__ = ["LIQUIDITY_COLUMNS", "LiveEngine", "ScreenResult", "Snapshot", "scan_settings", "settings_json",
           "settings_key"]

HISTORY_VERSIONS = 60  # versions kept for resuming subscribers (Last-Event-ID): an hour of minutes


class LiveEngine:
    """A scanned day held in memory; screens and rescans over it; versions to subscribers."""

    def __init__(self, stored: StoredDay, window_loader=None, *, run: str | None = None, ranking: dict | None = None):
        """`window_loader`, where stored.window_bars is None: a function returning the window, run on
        a thread so that screens are served while it loads (`window_bars` waits for it). `run` names this
        run of the engine in version ids (default: its start, epoch milliseconds)."""
        self.run = run if run is not None else str(time.time_ns() // 1_000_000)
        self.stored = stored
        self.day = stored.day
        self.sessions = stored.sessions
        self.universe = stored.universe
        self._window_ready, self._window_error = threading.Event(), None
        if stored.window_bars is not None:
            self._set_window(stored.window_bars)
        elif window_loader is not None:
            # not a daemon: the interpreter's exit waits for the read (one query) to end, where it would
            # stop a daemon thread inside DuckDB's C++ and abort the process ("terminate called")
            threading.Thread(target=self._load_window, args=(window_loader,), name="technic-window").start()
        else:
            raise ValueError("LiveEngine: the stored day has no window of bars and nothing to load it with")
        self._forecasts = stored.forecasts
        self._liquidity = stored.indicators.set_index("symbol")[LIQUIDITY_COLUMNS]
        # each listing's place in symbol order (the ranking's last tie-break, as an integer)
        self._symbol_order = np.argsort(np.argsort(stored.universe["symbol"].to_numpy().astype(str), kind="stable"))
        # per listing, in the listings' order: its point-in-time report and the splits since it
        # (core.factors.factor_panel's columns beyond the indicators), and its alpha forecasts
        reports = factor_panel(stored.universe[["symbol", "sector"]], stored.indicators[["symbol"]],
                               stored.fundamentals, stored.splits)
        self._reports = reports.drop(columns=["symbol", "sector"]).reset_index(drop=True)
        self._listed_forecasts = (stored.universe[["symbol"]].merge(stored.forecasts, on="symbol", how="left")
                                  .set_index("symbol")[["alpha_5d", "alpha_10d"]])
        if len(self._reports) != len(stored.universe) or len(self._listed_forecasts) != len(stored.universe):
            raise ValueError(f"the stored day {stored.day:%Y-%m-%d} lists a symbol twice")
        self._lock = threading.Lock()
        self._fit_lock = threading.Lock()  # _ranking_inputs' fits, apart from the cache's lock
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._prep: dict[int, Prepared] = {}
        self._ranking: dict = dict(ranking or {})  # the month's peer groups and learned weights (load reads them)
        self._history: collections.deque[Snapshot] = collections.deque(maxlen=HISTORY_VERSIONS)
        self._subscribers: set = set()
        self._rescans, self._quiet = 0, threading.Condition(threading.Lock())
        # observers (the server's metrics): each rescan's seconds; each screen look-up, hit or not
        self.on_rescan: list = []
        self.on_screen_cache: list = []
        self.feed = {"state": "off", "detail": "the stored day only (TECHNIC_LIVE=off)"}
        first = Snapshot(1, stored.day, _close_time(stored.day, stored.sessions), "store", stored.indicators,
                         str(stored.regime["risk"]))
        self._snapshot = first
        self._history.append(first)
        self.day_settings = self._day_settings()
        self.settings_match = set(self.screen(self.day_settings).scored["symbol"]) == stored.filtered_symbols

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, store_path, day=None, *, screen: str = "default", default_alpha_weight: float | None = None,
             sessions: pd.DatetimeIndex | None = None, wait_for_window: bool = True) -> "LiveEngine":
        """The scanned `day` (default: the latest with a ranked_top_n) of the store (a DuckDB file's path
        or an Iceberg store's URL), read once.
        Without `wait_for_window` (technic serve) the window of raw bars (the charts' and the intraday
        loop's) is read on a thread: screens are served meanwhile, and `window_bars` waits for it.
        (DuckDB refuses a read-write connection to the file in the same process while that thread
        reads, so the default waits.)"""
        if default_alpha_weight is None:
            from technic_assets.environment import Environment

            default_alpha_weight = Environment.read().alpha_weight
        path = str(store_path) if is_iceberg(str(store_path)) else db_path(str(store_path))
        stored = load_day(path, day, screen=screen, default_alpha_weight=default_alpha_weight, sessions=sessions,
                          window=False)
        # the month's peer groups and learned weights, read before the window's thread holds the file
        ranking = {"peers": _store_peers(path, stored), "blend": _store_blend(path, stored)}
        engine = cls(stored, window_loader=lambda: read_window(path, stored.day, stored.sessions), ranking=ranking)
        if wait_for_window:
            engine.window_bars  # noqa: B018 - waits
        return engine

    def _load_window(self, loader) -> None:
        try:
            self._set_window(loader())
        except BaseException as exc:  # noqa: BLE001 - handed to whoever asks for the window
            self._window_error = exc
            self._window_ready.set()

    def _set_window(self, bars: pd.DataFrame) -> None:
        self._bar_rows = _symbol_rows(bars)
        self._avg_volume = _average_volume(bars, self._bar_rows, 20)
        self.stored.window_bars = bars
        self._window_ready.set()

    @property
    def window_ready(self) -> bool:
        """Whether the window of bars has been read (or failed to be): `window_bars` answers at once."""
        return self._window_ready.is_set()

    @property
    def window_bars(self) -> pd.DataFrame:
        """The raw bars (the store's price_bars columns) of the LOOKBACK sessions ending on the day,
        sorted by symbol and date; waits while they are still being read."""
        self._window_ready.wait()
        if self._window_error is not None:
            raise RuntimeError(f"the window of bars could not be read: {self._window_error}") from self._window_error
        return self.stored.window_bars

    def _day_settings(self):
        """The settings the day was built with, as stored with it; for an older store's day, inferred
        (live.day), sectors as the default focus where that gives the same sectors."""
        s = self.stored
        if s.settings_stored:
            return s.settings
        default = scan_settings(s.settings, sectors=[])
        kept = set(self.screen(default).scored["symbol"])
        return default if kept == s.filtered_symbols else s.settings

    # -- reading ------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def version(self) -> int:
        return self._snapshot.version

    def screen(self, settings=None, *, snapshot: Snapshot | None = None):
        """The whole cross-section re-filtered, re-standardized and re-ranked under `settings`
        (a ScanSettings or its fields; default: the day's own), on the current version."""
        settings = self.day_settings if settings is None else scan_settings(settings)
        snap = snapshot or self._snapshot
        fields = settings_key(settings)
        key = (snap.version, fields)
        hit = self._cached(key)
        for observe in self.on_screen_cache:
            observe(hit is not None)
        if hit is None:
            # the same settings with another N: the ranking is there, only its head is cut anew
            any_key = (snap.version, settings_key(settings, without=("top_n",)), "any N")
            any_n = self._cached(any_key)
            hit = self._compute(snap, settings) if any_n is None else with_top_n(any_n, settings)
            self._store(key, hit)
            self._store(any_key, hit)
        return hit

    def _cached(self, key):
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def cached_screen(self, settings, snapshot: Snapshot | None = None):
        """The screen of `settings` on the version if it is already computed (a dictionary look-up, fit
        for an event loop), else None."""
        snap = snapshot or self._snapshot
        return self._cached((snap.version, settings_key(scan_settings(settings))))

    def _store(self, key, result) -> None:
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > 128:  # two keys a screen (its N, any N)
                self._cache.popitem(last=False)

    def top(self, n: int | None = None, settings=None) -> pd.DataFrame:
        result = self.screen(settings)
        return result.top if n is None else self.screen(scan_settings(result.settings, top_n=n)).top

    def symbol(self, symbol: str, settings=None, *, snapshot: Snapshot | None = None) -> dict | None:
        """Everything known of a listed symbol under a screen (of the current version, or `snapshot`'s):
        rank, scores, factor z-scores, contributions, indicators, the rule that dropped it; None if it is
        not listed."""
        result = self.screen(settings, snapshot=snapshot)
        listing = self.universe[self.universe["symbol"] == symbol]
        if listing.empty:
            return None
        snap = result.snapshot
        ind = snap.indicators[snap.indicators["symbol"] == symbol]
        out = {"symbol": symbol, **_plain(listing.iloc[0][["name", "type", "sector", "exchange"]].to_dict()),
               "indicators": _plain(ind.iloc[0][INDICATOR_COLUMNS].to_dict()) if len(ind) else None,
               "n_bars": int(ind.iloc[0]["n_bars"]) if len(ind) else 0,
               "last_date": f"{pd.Timestamp(ind.iloc[0]['last_date']):%Y-%m-%d}" if len(ind) else None}
        if snap.rel_volume is not None and symbol in snap.rel_volume.index:
            out["rel_volume"] = plain_value(snap.rel_volume[symbol])
        if snap.ages is not None and symbol in snap.ages.index:
            out["data_age_s"] = plain_value(snap.ages[symbol])
        reason = result.reasons.get(symbol, pd.NA)
        if pd.notna(reason):
            return {**out, "passed": False, "dropped_by": reason, "rank": None}
        row = result.scored[result.scored["symbol"] == symbol].iloc[0]
        contrib = {k.removeprefix("merit_contrib_"): plain_value(row[k]) for k in row.index
                   if k.startswith("merit_contrib_")}
        return {**out, "passed": True, "dropped_by": None, "rank": int(row["rank"]),
                "merit_score": plain_value(row["merit_score"]), "merit_pct": plain_value(row["merit_pct"]),
                "merit_raw": plain_value(row["merit_raw"]), "ics_score": plain_value(row["ics_score"]),
                "alpha_5d": plain_value(row["alpha_5d"]), "alpha_10d": plain_value(row["alpha_10d"]),
                "factors": {f: plain_value(row[f]) for f in FACTORS}, "contributions": contrib,
                "penalties": {"volatility": plain_value(row["volatility_penalty"]),
                              "liquidity": plain_value(row["liquidity_penalty"])},
                "regime": snap.risk, "reasons": row["reasons"] or explain(row)}

    def bars(self, symbol: str) -> pd.DataFrame:
        """The symbol's raw bars of the window (the chart's data)."""
        bars = self.window_bars
        start, end = self._bar_rows.get(symbol, (0, 0))
        return bars.iloc[start:end]

    # -- updating -----------------------------------------------------------------------------
    def rescan(self, indicators: pd.DataFrame, *, as_of: pd.Timestamp, source: str,
               ages: pd.Series | None = None) -> ScreenResult:
        """Publish a new version from a forming day's indicators (the columns indicators_for_days
        gives: date, symbol, last_date, n_bars, INDICATOR_COLUMNS; optionally `volume`, the day's
        volume so far, for the relative volume): every symbol's rank is redone, since z-scores are
        cross-sectional. Returns the day's-settings screen of the new version."""
        missing = [c for c in ("date", "symbol", "last_date", "n_bars", *INDICATOR_COLUMNS) if c not in indicators]
        if missing:
            raise ValueError(f"rescan: indicators lack the columns {', '.join(missing)}")
        with self._quiet:
            self._rescans += 1
        try:
            started = time.perf_counter()
            result = self._rescan(indicators, as_of=as_of, source=source, ages=ages)
            for observe in self.on_rescan:
                observe(time.perf_counter() - started)
            return result
        finally:
            with self._quiet:
                self._rescans -= 1
                self._quiet.notify_all()

    def wait_for_rescan(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) while a rescan runs; True if none runs now. The server's
        per-client screens call it before they start, so the feed's next version is never queued behind
        them (a screen already running is not stopped: screens take tens of milliseconds)."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._rescans == 0, timeout)

    def _rescan(self, indicators: pd.DataFrame, *, as_of: pd.Timestamp, source: str,
                ages: pd.Series | None) -> ScreenResult:
        day = pd.Timestamp(indicators["date"].iloc[0]) if len(indicators) else self.day
        ind = indicators.drop(columns=[c for c in ("date", "volume") if c in indicators]).set_index("symbol")
        # the liquidity rules stay on the last close's 20-day figures
        ind[LIQUIDITY_COLUMNS] = self._liquidity.reindex(ind.index).to_numpy()
        if "split_unverified" not in ind:
            stored = self.stored.indicators.set_index("symbol")["split_unverified"]
            ind["split_unverified"] = stored.reindex(ind.index).fillna(False).astype(bool).to_numpy()
        rel = None
        if "volume" in indicators:
            so_far = pd.Series(indicators["volume"].to_numpy(dtype=float), index=indicators["symbol"].to_numpy())
            self._window_ready.wait()
            # against what an average day has traded by this minute, not against the whole day
            rel = so_far / (self._avg_volume.reindex(so_far.index) * session_share(day, as_of))
        ind = ind.reset_index()
        risk = str(classify_regime(ind)["risk"])
        as_of = pd.Timestamp(as_of)
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        with self._lock:
            snap = Snapshot(self._snapshot.version + 1, day, as_of, source, ind, risk,
                            None if ages is None else ages.astype(float), rel)
        result = self.screen(self.day_settings, snapshot=snap)
        self._publish(snap)
        return result

    def set_feed(self, state: str, **detail) -> None:
        """The intraday loop reports its state here (healthz shows it): e.g. running, stale, stopped."""
        self.feed = {"state": state, **detail, "updated": time.time()}

    def _publish(self, snap: Snapshot) -> None:
        with self._lock:
            self._snapshot = snap
            self._history.append(snap)
            subscribers = list(self._subscribers)
        for loop, mailbox in subscribers:
            try:
                loop.call_soon_threadsafe(mailbox.offer, snap)
            except RuntimeError:  # that loop is closed: the subscriber is gone
                with self._lock:
                    self._subscribers.discard((loop, mailbox))

    def backlogs(self) -> list[int]:
        """How many versions each subscriber holds that it has not taken yet: 0 or 1, whatever it reads."""
        with self._lock:
            return [len(mailbox) for _, mailbox in self._subscribers]

    async def subscribe(self, last_id: int | None = None, heartbeat: float | None = None):
        """The versions as they are published: first the current one (or, given the id of the last
        version a client saw in this run, every kept version after it), then the newest one each time
        there is a newer one than the last given (versions published meanwhile are skipped: each is the
        whole state); None after every `heartbeat` seconds without one (a server's cue to ping). An id
        this run has not published (a later one, from another run) gets the current version."""
        loop, mailbox = asyncio.get_running_loop(), Latest()
        entry = (loop, mailbox)
        with self._lock:
            self._subscribers.add(entry)
            history = list(self._history)
        try:
            if last_id is not None and history and history[0].version <= last_id + 1 <= history[-1].version + 1:
                backlog = [s for s in history if s.version > last_id]
            else:
                backlog = [history[-1]]
            seen = 0
            for snap in backlog:
                seen = snap.version
                yield snap
            while True:
                try:
                    await asyncio.wait_for(mailbox.ready.wait(), heartbeat)
                except asyncio.TimeoutError:
                    yield None
                    continue
                snap = mailbox.take()
                if snap is not None and snap.version > seen:
                    seen = snap.version
                    yield snap
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    # -- the computation ----------------------------------------------------------------------
    def _prepared(self, snap: Snapshot) -> Prepared:
        """What every screen of a version shares, computed once per version (kept for the last 4)."""
        with self._lock:
            hit = self._prep.get(snap.version)
        if hit is not None:
            return hit
        prep = prepare(self.universe, snap.indicators, self._reports, self._listed_forecasts)
        with self._lock:
            self._prep[snap.version] = prep
            while len(self._prep) > 4:
                self._prep.pop(min(self._prep))
        return prep

    def _compute(self, snap: Snapshot, settings) -> ScreenResult:
        return screen_cross_section(self._prepared(snap), snap, settings, self._symbol_order,
                                    self.stored.alpha_weight, **self._ranking_inputs(settings))

    def _ranking_inputs(self, settings) -> dict:
        """The month's peer groups and learned weights, where `settings` asks for them: fitted from the
        store's days before the month (as the graph fits them), once per engine. The fit (seconds on a
        real store) holds a lock of its own, so that screens needing neither wait for nothing."""
        out = {}
        with self._fit_lock:
            if getattr(settings, "peer_groups", False):
                if "peers" not in self._ranking:
                    self._ranking["peers"] = _store_peers(self.stored.path, self.stored)
                out["peers"] = self._ranking["peers"]
            if getattr(settings, "ranking", "hand") == "learned":
                if "blend" not in self._ranking:
                    self._ranking["blend"] = _store_blend(self.stored.path, self.stored)
                out["blend"] = self._ranking["blend"]
        return out


def _store_peers(path: str, stored) -> pd.Series:
    """The day's month's peer groups, fitted from the store's bars before the month (read-only)."""
    from technic_assets.rescreen import peers_for

    return peers_for(history_for(path, read_only=True), pd.DatetimeIndex([stored.day]), stored.sessions)[stored.day]


def _store_blend(path: str, stored):
    """The day's month's learned weights, as the graph fits them from the store (read-only)."""
    from technic_assets.blend_history import stored_weights
    from technic_assets.core.peers import month_start

    return stored_weights(history_for(path, read_only=True), stored.screen, month_start(stored.day, stored.sessions))


class Latest:
    """A subscriber's mailbox: the newest version offered since it was last taken, or nothing. Used on
    the subscriber's event loop only (the publisher offers through call_soon_threadsafe)."""

    __slots__ = ("snap", "ready")

    def __init__(self):
        self.snap: Snapshot | None = None
        self.ready = asyncio.Event()

    def offer(self, snap: Snapshot) -> None:
        if self.snap is None or snap.version > self.snap.version:
            self.snap = snap
            self.ready.set()

    def take(self) -> Snapshot | None:
        snap, self.snap = self.snap, None
        self.ready.clear()
        return snap

    def __len__(self) -> int:
        return 0 if self.snap is None else 1


def _symbol_rows(bars: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """symbol -> (first row, last row + 1) of a frame sorted by symbol."""
    symbols = bars["symbol"].to_numpy()
    if not len(symbols):
        return {}
    starts = np.flatnonzero(np.r_[True, symbols[1:] != symbols[:-1]])
    ends = np.r_[starts[1:], len(symbols)]
    return dict(zip(symbols[starts], zip(starts.tolist(), ends.tolist())))


def _average_volume(bars: pd.DataFrame, rows: dict, n: int) -> pd.Series:
    """Each symbol's mean volume over its last n bars of the window (relative volume's base)."""
    volume = np.r_[0.0, np.cumsum(bars["volume"].to_numpy(dtype=float))]
    ends = np.array([e for _, e in rows.values()], dtype=np.int64)
    starts = np.maximum(np.array([s for s, _ in rows.values()], dtype=np.int64), ends - n)
    return pd.Series((volume[ends] - volume[starts]) / np.maximum(ends - starts, 1), index=list(rows))


def session_share(day: pd.Timestamp, as_of) -> float:
    """The share of a day's volume a typical session has traded by `as_of` on `day` (core.volume_profile's
    standard U over the day's own session: 390 minutes, or 210 on an early close)."""
    from technic_assets.core.calendar import nyse

    as_of = pd.Timestamp(as_of)
    as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of
    try:
        opens, closes = nyse().session_open(day), nyse().session_close(day)
    except Exception:  # a day the calendar does not know: 09:30-16:00 New York
        opens = pd.Timestamp(day).tz_localize("America/New_York").replace(hour=9, minute=30)
        closes = opens.replace(hour=16, minute=0)
    minutes = int(round((closes - opens).total_seconds() / 60))
    return share_traded((as_of - opens).total_seconds() / 60, u_weights(minutes))


def _close_time(day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    try:
        from technic_assets.core.calendar import nyse

        return nyse().session_close(day).tz_convert("UTC")
    except Exception:  # a calendar without the day: 16:00 New York
        return pd.Timestamp(day).tz_localize("America/New_York").replace(hour=16).tz_convert("UTC")


def plain_value(v):
    """A value as JSON takes it: numpy scalars as Python numbers, NaN, NA and NaT as None, times as ISO."""
    if isinstance(v, (float, np.floating)):
        return float(v) if np.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    return v


def _plain(d: dict) -> dict:
    return {k: plain_value(v) for k, v in d.items()}
