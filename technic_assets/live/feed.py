"""What every live source gives the runner, and the forming daily bar built from minute bars.

A feed is an object with a `source` name, a `status` (FeedStatus: what /healthz shows) and an async
iterator `updates()` of FeedUpdate: the forming bar of every symbol that has traded so far, the
market time the data reaches (`as_of`) and each symbol's data age (a halted or silent symbol's bar
stops moving while as_of goes on). A feed that stops or lags shows it in its status: `stale` with the
error and the lag, then `live` again once data comes back.

Forming bars are aggregated the way a daily bar is: the first minute's open, the highest high, the
lowest low, the last close and the summed volume. Intraday bars never enter the store; the evening
run uses the official daily bars.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd


@dataclass
class FeedUpdate:
    forming: pd.DataFrame  # symbol, open, high, low, close, volume, split_ratio: the day so far
    as_of: pd.Timestamp  # UTC market time of the newest data in it
    ages: pd.Series  # symbol -> seconds from that symbol's last data to as_of
    final: bool = False  # the session's close has been reached (a replay's last minute)


@dataclass
class FeedStatus:
    """The feed's state for health checks: starting, live, stale (no data for a while, or failing
    and retrying), refused (the key or plan was refused: it stops), finished or stopped."""

    source: str
    state: str = "starting"
    as_of: str | None = None  # ISO time of the newest data
    received_at: float | None = None  # epoch seconds when it arrived
    updates: int = 0
    malformed: int = 0  # messages or rows counted and skipped
    error: str | None = None  # the last failure, never holding a key
    extra: dict = field(default_factory=dict)
    changes: list = field(default_factory=list)  # the last state changes: [epoch s, state, error]

    def _set(self, state: str, error: str | None) -> None:
        if state != self.state:
            self.changes = [*self.changes[-19:], [time.time(), state, error]]
        self.state, self.error = state, error

    def received(self, as_of: pd.Timestamp, *, now: float | None = None) -> None:
        self._set("live", None)
        self.as_of = pd.Timestamp(as_of).isoformat()
        self.received_at = time.time() if now is None else now
        self.updates += 1

    def failed(self, error: str, *, state: str = "stale") -> None:
        self._set(state, error)

    def ended(self) -> None:
        """The feed has nothing more to give (a replay reached the close)."""
        self._set("finished", None)

    def lag_seconds(self, now: float | None = None) -> float | None:
        """Seconds since the newest data arrived (None before any)."""
        if self.received_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.received_at)

    def as_dict(self, now: float | None = None) -> dict:
        out = asdict(self)
        out["lag_seconds"] = self.lag_seconds(now)
        return out


class Feed(Protocol):
    source: str
    status: FeedStatus

    def updates(self) -> AsyncIterator[FeedUpdate]: ...


class FormingBars:
    """The day so far of every symbol, from minute bars (add_minutes) or from a provider's own
    day-so-far bar (set_day), vectorized across symbols."""

    def __init__(self, symbols=()):
        self.symbols: list[str] = []
        self._code: dict[str, int] = {}
        self._cols = {k: np.empty(0) for k in ("open", "high", "low", "close", "volume", "split_ratio", "updated")}
        self.codes(list(symbols))

    def codes(self, symbols) -> np.ndarray:
        """Row of each symbol, adding those not seen before (their bar empty)."""
        new = [s for s in dict.fromkeys(symbols) if s not in self._code]
        if new:
            for s in new:
                self._code[s] = len(self.symbols)
                self.symbols.append(s)
            for k, a in self._cols.items():
                fill = 1.0 if k == "split_ratio" else np.nan
                self._cols[k] = np.r_[a, np.full(len(new), fill)]
        return np.fromiter((self._code[s] for s in symbols), dtype=np.int64, count=len(symbols))

    def set_split_ratios(self, ratios: dict[str, float]) -> None:
        """Today's ex-date ratios (4.0 for a 4-for-1 split), carried on the forming rows."""
        if ratios:
            self._cols["split_ratio"][self.codes(list(ratios))] = np.asarray(list(ratios.values()), dtype=float)

    def add_minutes(self, symbols, o, h, l, c, v, updated, day_open=None, day_volume=None) -> None:
        """Minute bars ending at `updated` (epoch seconds, one for all or one per bar); `day_open`/`day_volume` where the source
        states the day's official open and accumulated volume (Polygon's `op`, `av`), which then win
        over what the minutes seen add up to (a feed joined late has missed the early minutes)."""
        code = self.codes(list(symbols))
        cols = self._cols
        first = np.isnan(cols["open"][code])
        cols["open"][code[first]] = np.asarray(o, float)[first]
        np.fmax.at(cols["high"], code, np.asarray(h, float))
        np.fmin.at(cols["low"], code, np.asarray(l, float))
        cols["close"][code] = c
        vol = cols["volume"]
        vol[code[np.isnan(vol[code])]] = 0.0
        np.add.at(vol, code, np.asarray(v, float))
        if day_open is not None:
            day_open = np.asarray(day_open, float)
            ok = np.isfinite(day_open) & (day_open > 0)
            cols["open"][code[ok]] = day_open[ok]
        if day_volume is not None:
            day_volume = np.asarray(day_volume, float)
            ok = np.isfinite(day_volume) & (day_volume >= 0)
            vol[code[ok]] = day_volume[ok]
        np.fmax.at(cols["updated"], code, np.broadcast_to(np.asarray(updated, float), code.shape))

    def set_day(self, symbols, o, h, l, c, v, updated) -> None:
        """The provider's own day-so-far bars (a snapshot): they replace what was there."""
        code = self.codes(list(symbols))
        for k, x in zip(("open", "high", "low", "close", "volume", "updated"), (o, h, l, c, v, updated)):
            self._cols[k][code] = x

    def frame(self) -> pd.DataFrame:
        """symbol, open, high, low, close, volume, split_ratio of the symbols that have traded."""
        has = ~np.isnan(self._cols["close"])
        out = {"symbol": np.asarray(self.symbols, dtype=object)[has]}
        for k in ("open", "high", "low", "close", "volume", "split_ratio"):
            out[k] = self._cols[k][has]
        out["open"] = np.where(np.isnan(out["open"]), out["close"], out["open"])
        out["high"] = np.fmax(out["high"], np.fmax(out["open"], out["close"]))  # a day bar stays sane
        out["low"] = np.fmin(out["low"], np.fmin(out["open"], out["close"]))
        return pd.DataFrame(out)

    def ages(self, as_of: float) -> pd.Series:
        """symbol -> seconds from its last data to `as_of` (epoch seconds), for the symbols that traded."""
        has = ~np.isnan(self._cols["close"])
        return pd.Series(np.maximum(0.0, as_of - self._cols["updated"][has]),
                         index=np.asarray(self.symbols, dtype=object)[has], name="age_seconds")

    def latest(self) -> float:
        """Epoch seconds of the newest data (NaN before any)."""
        u = self._cols["updated"]
        return float(np.nanmax(u)) if np.isfinite(u).any() else float("nan")

    def update(self, *, final: bool = False) -> FeedUpdate:
        """The FeedUpdate of what has been aggregated, as of the newest data."""
        latest = self.latest()
        return FeedUpdate(self.frame(), pd.Timestamp(latest, unit="s", tz="UTC"), self.ages(latest), final)


class IdleFeed:
    """A feed that has nothing to give, and says why in its status (state `stopped`): what the server
    runs instead of a live source that cannot apply, so the stored day stays served and /healthz shows
    the reason."""

    def __init__(self, source: str, reason: str):
        self.source = source
        self.status = FeedStatus(source)
        self.status.failed(reason, state="stopped")

    async def updates(self):
        return
        yield  # an async generator with no items
