"""The live engine: one scanned day in memory, screened and re-ranked on demand, published as versions.

    engine = LiveEngine.load(store_path)              # the latest scanned day, read once, read-only
    engine.screen(ScanSettings(style="swing", sectors=["Energy"]))   # any settings, whole cross-section
    engine.rescan(indicators, as_of=now, source="replay")             # a forming day's indicators
    async for version in engine.subscribe(): ...                      # each new version (SSE)

A screen runs the same core stages the assets chain (core.pipeline): the smart filter, sector-neutral
factor z-scores, ICS, regime-tilted MERIT blended with the alpha forecasts, and the ranking, over the
whole cross-section, so a screen with the day's own settings gives back the stored ranked_top_n.

State has one owner and one update path: a `Snapshot` (the indicators of a version, its as_of, source
and data ages) is immutable; `rescan` builds the next one and swaps the reference, so a screen running
on another thread reads one consistent version. Intraday, the liquidity rules keep the last close's
20-day figures (adv_20, price_cv_63 from the stored day: volume so far is a fraction of a day) and the
relative volume so far is shown beside them; fundamentals, splits and the alpha forecasts are the
stored day's; the regime is re-read from the live ETF indicators.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from technic_assets.core.factors import FACTORS, compute_factors, factor_panel, raw_components
from technic_assets.core.indicators import INDICATOR_COLUMNS
from technic_assets.core.regime import classify_regime
from technic_assets.core.scoring import TOP_COLUMNS, alpha_signal, ics_score, merit_score, rank_top_n
from technic_assets.core.universe_filter import REASONS, drop_reasons
from technic_assets.live.day import StoredDay, load_day

HISTORY_VERSIONS = 60  # versions kept for resuming subscribers (Last-Event-ID): an hour of minutes
LIQUIDITY_COLUMNS = ["adv_20", "price_cv_63"]  # kept at the last close's values intraday
# listing and indicator columns a screen's rows carry (TOP_COLUMNS' own, and the type)
LISTING_SHOWN = ["name", "type", "sector", *[c for c in TOP_COLUMNS if c in INDICATOR_COLUMNS]]


def scan_settings(values=None, **overrides):
    """A ScanSettings from a ScanSettings, a mapping of its fields, or keywords (checked by pydantic:
    a bad value raises a ValidationError naming the field)."""
    from technic_assets.resources import ScanSettings

    if isinstance(values, ScanSettings) and not overrides:
        return values
    fields = dict(values.model_dump() if isinstance(values, ScanSettings) else (values or {}))
    return ScanSettings(**{**fields, **overrides})


def settings_key(settings) -> tuple:
    s = settings
    return (s.style, s.top_n, tuple(sorted(str(getattr(x, "value", x)) for x in s.sectors)), float(s.min_price),
            float(s.max_price), float(s.min_dollar_volume), float(s.max_price_cv), int(s.min_history),
            bool(s.include_etfs))


def settings_json(settings) -> dict:
    d = settings.model_dump()
    d["sectors"] = [str(getattr(x, "value", x)) for x in settings.sectors]
    return d


@dataclass(frozen=True)
class Snapshot:
    """One version of the cross-section's inputs: what a rescan changes."""

    version: int
    day: pd.Timestamp                 # the session the indicators are for (the forming day intraday)
    as_of: pd.Timestamp               # when the data is from (UTC)
    source: str                       # "store", "replay", "polygon", ...
    indicators: pd.DataFrame          # symbol, last_date, n_bars, INDICATOR_COLUMNS, split_unverified
    risk: str                         # the regime's risk state
    ages: pd.Series | None = None     # symbol -> seconds since its last data
    rel_volume: pd.Series | None = None  # symbol -> volume so far / 20-day average volume
    published: float = field(default_factory=time.time)

    def meta(self) -> dict:
        ages = self.ages.dropna() if self.ages is not None else None
        return {"version": self.version, "day": f"{self.day:%Y-%m-%d}", "as_of": self.as_of.isoformat(),
                "source": self.source,
                "data_age_s": None if ages is None or ages.empty else round(float(ages.median()), 3),
                "data_age_max_s": None if ages is None or ages.empty else round(float(ages.max()), 3)}


@dataclass
class ScreenResult:
    """A screen of one version: every kept symbol scored and in rank order, and why the others fell."""

    snapshot: Snapshot
    settings: object                  # ScanSettings
    top: pd.DataFrame                 # rank_for_days' rows (TOP_COLUMNS), the settings' top N
    scored: pd.DataFrame              # every kept symbol: MERIT, ICS, factors, contributions; by rank
    reasons: pd.Series                # symbol -> the first rule that dropped it (NA: kept)
    counts: dict                      # dropped per rule
    sectors_kept: list
    seconds: float

    @property
    def as_of(self) -> pd.Timestamp:
        return self.snapshot.as_of

    @property
    def source(self) -> str:
        return self.snapshot.source

    @property
    def version(self) -> int:
        return self.snapshot.version


class LiveEngine:
    """A scanned day held in memory; screens and rescans over it; versions to subscribers."""

    def __init__(self, stored: StoredDay):
        self.stored = stored
        self.day = stored.day
        self.sessions = stored.sessions
        self.window_bars = stored.window_bars
        self.universe = stored.universe
        self._forecasts = stored.forecasts
        self._liquidity = stored.indicators.set_index("symbol")[LIQUIDITY_COLUMNS]
        self._bar_rows = _symbol_rows(stored.window_bars)
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
        self._avg_volume = _average_volume(stored.window_bars, self._bar_rows, 20)
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict = collections.OrderedDict()
        self._prep: dict[int, _Prepared] = {}
        self._history: collections.deque[Snapshot] = collections.deque(maxlen=HISTORY_VERSIONS)
        self._subscribers: set = set()
        self.feed = {"state": "off", "detail": "the stored day only (TECHNIC_LIVE=off)"}
        first = Snapshot(1, stored.day, _close_time(stored.day, stored.sessions), "store", stored.indicators,
                         str(stored.regime["risk"]))
        self._snapshot = first
        self._history.append(first)
        self.day_settings = self._day_settings()
        self.settings_match = set(self.screen(self.day_settings).scored["symbol"]) == stored.filtered_symbols

    # -- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, store_path, day=None, *, default_alpha_weight: float | None = None,
             sessions: pd.DatetimeIndex | None = None) -> "LiveEngine":
        """The scanned `day` (default: the latest with a ranked_top_n) of the store file, read once."""
        from technic_assets.storage import db_path

        if default_alpha_weight is None:
            from technic_assets.environment import Environment

            default_alpha_weight = Environment.read().alpha_weight
        stored = load_day(db_path(str(store_path)), day, default_alpha_weight=default_alpha_weight, sessions=sessions)
        return cls(stored)

    def _day_settings(self):
        """The settings the day was built with (live.day reads them back from its tables); sectors
        as the default focus where that gives the same sectors."""
        s = self.stored
        explicit = scan_settings(style=s.style, top_n=s.top_n, sectors=list(s.sectors), include_etfs=s.include_etfs)
        default = scan_settings(style=s.style, top_n=s.top_n, include_etfs=s.include_etfs)
        kept = set(self.screen(default).scored["symbol"])
        return default if kept == s.filtered_symbols else explicit

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
        key = (snap.version, settings_key(settings))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        result = self._compute(snap, settings)
        with self._lock:
            self._cache[key] = result
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return result

    def top(self, n: int | None = None, settings=None) -> pd.DataFrame:
        result = self.screen(settings)
        return result.top if n is None else self.screen(scan_settings(result.settings, top_n=n)).top

    def symbol(self, symbol: str, settings=None) -> dict | None:
        """Everything known of a listed symbol under a screen: rank, scores, factor z-scores,
        contributions, indicators, the rule that dropped it; None if it is not listed."""
        result = self.screen(settings)
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
            out["rel_volume"] = _plain_value(snap.rel_volume[symbol])
        if snap.ages is not None and symbol in snap.ages.index:
            out["data_age_s"] = _plain_value(snap.ages[symbol])
        reason = result.reasons.get(symbol, pd.NA)
        if pd.notna(reason):
            return {**out, "passed": False, "dropped_by": reason, "rank": None}
        row = result.scored[result.scored["symbol"] == symbol].iloc[0]
        contrib = {k.removeprefix("merit_contrib_"): _plain_value(row[k]) for k in row.index
                   if k.startswith("merit_contrib_")}
        return {**out, "passed": True, "dropped_by": None, "rank": int(row["rank"]),
                "merit_score": _plain_value(row["merit_score"]), "ics_score": _plain_value(row["ics_score"]),
                "alpha_5d": _plain_value(row["alpha_5d"]), "alpha_10d": _plain_value(row["alpha_10d"]),
                "factors": {f: _plain_value(row[f]) for f in FACTORS}, "contributions": contrib,
                "penalties": {"volatility": _plain_value(row["volatility_penalty"]),
                              "liquidity": _plain_value(row["liquidity_penalty"])},
                "regime": snap.risk, "reasons": row["reasons"]}

    def bars(self, symbol: str) -> pd.DataFrame:
        """The symbol's raw bars of the window (the chart's data)."""
        start, end = self._bar_rows.get(symbol, (0, 0))
        return self.window_bars.iloc[start:end]

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
            rel = so_far / self._avg_volume.reindex(so_far.index)
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
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, snap)
            except RuntimeError:  # that loop is closed: the subscriber is gone
                self._subscribers.discard((loop, queue))

    async def subscribe(self, last_id: int | None = None, heartbeat: float | None = None):
        """The versions as they are published: first the current one (or, given the id of the last
        version a client saw, every kept version after it), then each new one; None after every
        `heartbeat` seconds without one (a server's cue to ping)."""
        loop, queue = asyncio.get_running_loop(), asyncio.Queue()
        entry = (loop, queue)
        with self._lock:
            self._subscribers.add(entry)
            history = list(self._history)
        try:
            if last_id is not None and history and history[0].version <= last_id + 1:
                backlog = [s for s in history if s.version > last_id]
            else:
                backlog = [history[-1]]
            seen = 0
            for snap in backlog:
                seen = snap.version
                yield snap
            while True:
                try:
                    snap = await asyncio.wait_for(queue.get(), heartbeat)
                except asyncio.TimeoutError:
                    yield None
                    continue
                if snap.version > seen:
                    seen = snap.version
                    yield snap
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    # -- the computation ----------------------------------------------------------------------
    def _prepared(self, snap: Snapshot) -> "_Prepared":
        """What every screen of a version shares, computed once per version: the listings merged with
        the indicators, the factor panel and its raw components for every listing, the forecasts
        aligned to them."""
        with self._lock:
            hit = self._prep.get(snap.version)
        if hit is not None:
            return hit
        merged = self.universe.merge(snap.indicators, on="symbol", how="left")
        if len(merged) != len(self.universe):
            raise ValueError("rescan: the indicators hold a symbol twice; give one row per symbol")
        # factor_panel's rows, in the listings' order: the indicators merged now, the reports and the
        # splits since them (which no intraday update changes) joined once at load
        panel = pd.concat([merged[["symbol", "sector", *INDICATOR_COLUMNS]], self._reports], axis=1)
        prep = _Prepared(merged, panel[["symbol", "sector", "realized_vol_63", "adv_20"]], raw_components(panel),
                         self._listed_forecasts, merged[LISTING_SHOWN])
        with self._lock:
            self._prep[snap.version] = prep
            while len(self._prep) > 4:
                self._prep.pop(min(self._prep))
        return prep

    def _compute(self, snap: Snapshot, settings) -> ScreenResult:
        """core.pipeline's chain on one cross-section: filter (drop_reasons), factors (compute_factors
        on the kept rows of the version's panel), ICS, MERIT with the regime and the alpha forecasts,
        the ranking (rank_top_n); each stage the core function the assets call per day."""
        started = time.perf_counter()
        prep = self._prepared(snap)
        df, reason, chosen = drop_reasons(prep.merged, snap.day, settings.filter_settings())
        tally = reason.value_counts()
        counts = {name: int(tally.get(name, 0)) for name in REASONS}
        reasons = pd.Series(reason.to_numpy(), index=df["symbol"].to_numpy())
        mask = reason.isna().to_numpy()
        if not mask.any():
            empty = pd.DataFrame(columns=TOP_COLUMNS)
            return ScreenResult(snap, settings, empty, empty, reasons, counts, chosen, time.perf_counter() - started)
        panel = prep.panel[mask]
        z, _ = compute_factors(panel, settings.style, raw=prep.raw[mask])
        factors = pd.concat([panel[["symbol", "realized_vol_63", "adv_20"]], z], axis=1).set_index("symbol")
        ics = ics_score(factors[list(FACTORS)], settings.style)
        fc = prep.forecasts[mask][["alpha_5d", "alpha_10d"]]
        alpha = alpha_signal(fc) if bool(fc.notna().any().any()) else None
        scored = merit_score(factors[list(FACTORS)], factors["realized_vol_63"], factors["adv_20"], settings.style,
                             snap.risk, alpha=alpha, alpha_weight=self.stored.alpha_weight)
        # every frame here is in the kept rows' order (panel, forecasts and listings all follow the
        # listings' order), so columns are set side by side rather than joined on the symbol
        columns = {"symbol": factors.index.to_numpy(), **{c: scored[c].to_numpy() for c in scored.columns},
                   "ics_score": ics["ics_score"].to_numpy(), "alpha_5d": fc["alpha_5d"].to_numpy(),
                   "alpha_10d": fc["alpha_10d"].to_numpy(),
                   "alpha_z": alpha.to_numpy(dtype=float) if alpha is not None else np.full(len(fc), np.nan),
                   **{f: factors[f].to_numpy() for f in FACTORS}}
        listing = prep.shown[mask]
        columns.update({c: listing[c].to_numpy() for c in listing.columns if c not in columns})
        today = pd.DataFrame(columns)
        # rank_top_n's order (MERIT, then ICS, descending; then symbol), for every kept name
        order = np.lexsort((self._symbol_order[mask], -today["ics_score"].to_numpy(),
                            -today["merit_score"].to_numpy()))
        ordered = today.take(order).reset_index(drop=True)
        top = rank_top_n(ordered.head(settings.top_n), settings.top_n)[TOP_COLUMNS]
        ordered.insert(0, "rank", np.arange(1, len(ordered) + 1))
        ordered["reasons"] = ""
        ordered.loc[: len(top) - 1, "reasons"] = top["reasons"].to_numpy()
        return ScreenResult(snap, settings, top, ordered, reasons, counts, chosen, time.perf_counter() - started)


@dataclass(frozen=True)
class _Prepared:
    merged: pd.DataFrame       # listings + indicators, one row per listing
    panel: pd.DataFrame        # factor_panel of every listing (same rows): what compute_factors reads
    raw: pd.DataFrame          # raw_components of that panel
    forecasts: pd.DataFrame    # alpha_5d, alpha_10d by symbol (same rows)
    shown: pd.DataFrame        # LISTING_SHOWN (same rows)


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


def _close_time(day: pd.Timestamp, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    try:
        from technic_assets.partitions import nyse

        return nyse().session_close(day).tz_convert("UTC")
    except Exception:  # a calendar without the day: 16:00 New York
        return pd.Timestamp(day).tz_localize("America/New_York").replace(hour=16).tz_convert("UTC")


def _plain_value(v):
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return None
    if isinstance(v, (np.floating,)):
        v = float(v)
        return v if np.isfinite(v) else None
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _plain(d: dict) -> dict:
    return {k: _plain_value(v) for k, v in d.items()}
