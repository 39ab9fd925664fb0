"""A day of a stored or simulated market, cut into minute bars and played back as a live feed.

Each symbol's official daily bar (open O, high H, low L, close C, volume V) becomes one bar per minute
of the session (390, or 210 on a 13:00 early close) whose aggregate is the daily bar exactly: the
first minute opens at O, the closes follow a random path pinned to H at one minute, to L at another
and to C at the last (a Brownian bridge between those points, kept inside [L, H]), each minute's high
and low lie between its open/close and H/L, and the volumes (U-shaped over the day: core.volume_profile's
curve, with noise) are whole shares summing to V. The path is seeded by the day, so a replay is
repeatable.

`ReplayFeed` plays the minutes at `speed` market minutes per second (TECHNIC_REPLAY_SPEED; 0: without
pausing), each update being the forming bars aggregated so far.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.config import DEFAULT_REPLAY_SPEED
from technic_assets.core.volume_profile import u_weights
from technic_assets.live.feed import FeedStatus, FormingBars


@dataclass
class MinuteBars:
    symbols: np.ndarray  # [S]
    ends: pd.DatetimeIndex  # [M] UTC end of each minute
    open: np.ndarray  # [S, M]
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    split_ratio: np.ndarray  # [S], the day's ex-date ratios


def replay_length(day, speed: float) -> str:
    """How long a replay of `day` takes at `speed` market minutes per second, said for a person."""
    minutes = len(session_minutes(day))
    if speed == 0:
        return f"{minutes} market minutes at once (TECHNIC_REPLAY_SPEED=0: no pause)"
    seconds = round(minutes / speed)
    took = f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{minutes / speed:.1f} s"
    return f"{minutes} market minutes at {speed:g} a second: {took}"


def session_minutes(day) -> pd.DatetimeIndex:
    """The UTC end of every regular-session minute of `day` (390, or 210 on an early close)."""
    from technic_assets.core.calendar import nyse

    cal = nyse()
    day = pd.Timestamp(day)
    if not cal.is_session(day):
        raise ValueError(f"day={day:%Y-%m-%d} is not an NYSE session")
    opens, closes = cal.session_open(day), cal.session_close(day)
    return pd.date_range(opens + pd.Timedelta(minutes=1), closes, freq="min")


def minute_bars(day_bars: pd.DataFrame, day, *, seed: int = 0) -> MinuteBars:
    """Minute bars of every symbol in `day_bars` (the day's raw bars, BAR_COLUMNS) whose aggregate is
    each symbol's daily bar exactly."""
    day = pd.Timestamp(day)
    bars = day_bars[day_bars["date"] == day] if "date" in day_bars.columns else day_bars
    bars = bars.sort_values("symbol").reset_index(drop=True)
    ends = session_minutes(day)
    m, s = len(ends), len(bars)
    O, H, L, C, V = (bars[k].to_numpy(np.float64)[:, None] for k in ("open", "high", "low", "close", "volume"))
    rng = np.random.default_rng([seed, day.toordinal()])
    # the minutes where the path touches the high and the low (distinct, before the last)
    ih = rng.integers(0, m - 1, s)
    il = (ih + 1 + rng.integers(0, m - 2, s)) % (m - 1)
    t = np.arange(m)[None, :]
    k1, k2 = np.minimum(ih, il)[:, None], np.maximum(ih, il)[:, None]
    v1 = np.where(ih < il, H[:, 0], L[:, 0])[:, None]
    v2 = np.where(ih < il, L[:, 0], H[:, 0])[:, None]
    seg = (t > k1).astype(int) + (t > k2)
    key_t = np.column_stack([np.full(s, -1), k1[:, 0], k2[:, 0], np.full(s, m - 1)])
    key_v = np.column_stack([O[:, 0], v1[:, 0], v2[:, 0], C[:, 0]])
    a_t, b_t = np.take_along_axis(key_t, seg, 1), np.take_along_axis(key_t, seg + 1, 1)
    a_v, b_v = np.take_along_axis(key_v, seg, 1), np.take_along_axis(key_v, seg + 1, 1)
    frac = (t - a_t) / (b_t - a_t)
    walk = np.c_[np.zeros(s), np.cumsum(rng.normal(size=(s, m)), axis=1)]  # walk[:, i + 1]: after minute i
    w_a, w_b = np.take_along_axis(walk, a_t + 1, 1), np.take_along_axis(walk, b_t + 1, 1)
    bridge = walk[:, 1:] - w_a - frac * (w_b - w_a)  # zero at every key minute
    close = a_v + frac * (b_v - a_v) + bridge * (H - L) / np.sqrt(m)
    close = np.clip(close, L, H)
    rows = np.arange(s)
    close[rows, ih], close[rows, il], close[:, -1] = H[:, 0], L[:, 0], C[:, 0]
    open_ = np.c_[O, close[:, :-1]]
    wiggle = np.abs(rng.normal(size=(2, s, m))) * (H - L) * 0.02
    high = np.minimum(H, np.maximum(open_, close) + wiggle[0])
    low = np.maximum(L, np.minimum(open_, close) - wiggle[1])
    shape = u_weights(m)[None, :]  # busier at the open and the close: the live relative volume's curve
    weights = shape * rng.lognormal(0.0, 0.5, (s, m))
    volume = np.floor(V * weights / weights.sum(axis=1, keepdims=True))
    volume[:, 0] += V[:, 0] - volume.sum(axis=1)  # the rest of the shares at the open: the sum is V
    ratio = bars["split_ratio"].to_numpy(np.float64) if "split_ratio" in bars.columns else np.ones(s)
    return MinuteBars(bars["symbol"].to_numpy(dtype=object), ends, open_, high, low, close, volume, ratio)


class ReplayFeed:
    """A day's minute bars played as a live feed: one update per market minute, `speed` minutes per
    second of wall time (0: no pause), from `start_minute` (0: the first)."""

    source = "replay"

    def __init__(self, day_bars: pd.DataFrame, day, *, speed: float = DEFAULT_REPLAY_SPEED, seed: int = 0, start_minute: int = 0,
                 sleep=asyncio.sleep, clock=time.monotonic):
        if speed < 0:
            raise ValueError(f"speed={speed}: the replay speed must be >= 0 market minutes per second")
        self.day, self.speed, self.start_minute = pd.Timestamp(day), speed, start_minute
        self._sleep, self._clock = sleep, clock
        self.minutes = minute_bars(day_bars, day, seed=seed)
        if not 0 <= start_minute < len(self.minutes.ends):
            raise ValueError(f"start_minute={start_minute}: the session has minutes 0..{len(self.minutes.ends) - 1}")
        if len(self.minutes.symbols) == 0:
            raise ValueError(f"replay: the source has no bars for {self.day:%Y-%m-%d}")
        self.status = FeedStatus(self.source)

    async def updates(self):
        """One update per market minute, paced by the wall clock: where the consumer falls behind
        (a rescan slower than 1/speed s), the minutes due are aggregated into one update, so the
        replay keeps to its speed rather than drifting."""
        mb = self.minutes
        agg = FormingBars(mb.symbols)
        agg.set_split_ratios({s: r for s, r in zip(mb.symbols, mb.split_ratio) if r != 1.0})
        ends = mb.ends.asi8 / 1e9
        last = len(ends) - 1
        started = self._clock()
        i = self.start_minute  # the next minute not yet aggregated
        while i <= last:
            due = i if self.speed == 0 else max(i, min(last, self.start_minute + int(
                (self._clock() - started) * self.speed)))
            lo = 0 if i == self.start_minute else i  # joining mid-session: the day so far at once
            agg.add_minutes(mb.symbols, mb.open[:, lo], mb.high[:, lo:due + 1].max(1), mb.low[:, lo:due + 1].min(1),
                            mb.close[:, due], mb.volume[:, lo:due + 1].sum(1), ends[due])
            i = due + 1
            update = agg.update(final=due == last)
            self.status.received(update.as_of)
            yield update
            if i <= last and self.speed > 0:
                wait = started + (i - self.start_minute) / self.speed - self._clock()
                await self._sleep(max(0.0, wait))
        self.status.ended()
