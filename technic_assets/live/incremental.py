"""The forming day's indicators, updated on every new forming bar without recomputing the window.

The forming day F is the session after the loaded day D. Its LOOKBACK-session window is the stored
window minus its oldest session (the "prefix", F's window without F) plus the forming bar, so every
indicator of F is one step of a recurrence (or one term of a rolling sum) continued from the prefix:
the state is computed once, vectorized across symbols, and an update only does that last step, for
every symbol at once (numpy arrays shaped [symbols]). Because the state is built on the prefix itself,
not carried over from D's window, the EMA seeds are those of F's own window and OBV counts from its
first bar, exactly as `indicators_for_days` does for F.

The recurrences follow TA-Lib's C code step for step (seeds, Wilder's smoothing, MACD's fast EMA
seeded on the slow one's start, ADX's sums, the zero guards), so EMA-type values agree with TA-Lib to
rounding; rolling values are sums of the same terms in another order (agreeing to ~1e-12 or better,
the variance's cancellation included).

A split on F (the forming row's split_ratio r) is handled as the range pass does: the forming bar is
put into D's shares (prices times r, volume over r), stepped, and the results divided back out
(price-level columns over r, OBV times r), so the carried state is never rewritten.

A short history (a recent listing) is stepped the same way: a recurrence whose seed falls on the
forming bar is seeded there, from the sums the state carries, as TA-Lib seeds it; a symbol's first
bar (listed on F) defines only its close and OBV.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.adjust import SPLIT_GAP_TOLERANCE, split_adjust, symbol_bounds
from technic_assets.core.indicators import (
    BARS_NEEDED, INDICATOR_COLUMNS, LOOKBACK, PRICE_LEVEL, TRADING_DAYS, VOLUME_LEVEL, _sorted_by_symbol_and_date,
    indicators_for_days,
)
from technic_assets.live.recurrences import K9, K12, K26, P, SEEDED_AFTER, Recurrences, adx_step, is_zero, true_range

FORMING_COLUMNS = ["symbol", "open", "high", "low", "close", "volume"]
COLUMN = {name: k for k, name in enumerate(INDICATOR_COLUMNS)}
PRICE_LEVEL_AT, VOLUME_LEVEL_AT = np.flatnonzero(PRICE_LEVEL), np.flatnonzero(VOLUME_LEVEL)
# a symbol's first bar defines these alone (the others are NaN): kept in step with core.indicators
assert {c for c, n in zip(INDICATOR_COLUMNS, BARS_NEEDED) if n <= 1} == {"close", "obv"}


def _tail_sum(matrix: np.ndarray, lengths: np.ndarray, count: int) -> np.ndarray:
    """Per row, the sum of its last `count` values before position `lengths` (fewer where shorter)."""
    cols = np.arange(matrix.shape[1])
    keep = (cols[None, :] < lengths[:, None]) & (cols[None, :] >= (lengths - count)[:, None])
    return np.where(keep, matrix, 0.0).sum(axis=1)


def _at(matrix: np.ndarray, lengths: np.ndarray, back: int) -> np.ndarray:
    """Per row, the value `back` positions before `lengths` (NaN where the row is shorter)."""
    pos = lengths - back
    ok = pos >= 0
    out = np.full(len(lengths), np.nan)
    out[ok] = matrix[np.flatnonzero(ok), pos[ok]]
    return out


class IntradayIndicators:
    """The indicators of the session after `day`, for any forming bars, computed incrementally.

    `window_bars` are the raw stored bars (BAR_COLUMNS) of the LOOKBACK sessions ending on `day`;
    `sessions` is the trading calendar, which must hold the session after `day`.
    """

    def __init__(self, window_bars: pd.DataFrame, day, sessions: pd.DatetimeIndex):
        day = pd.Timestamp(day)
        if day not in sessions:
            raise ValueError(f"day={day:%Y-%m-%d} is not a session of the calendar")
        pos = sessions.get_loc(day)
        if pos + 1 >= len(sessions):
            raise ValueError(f"day={day:%Y-%m-%d}: the calendar holds no session after it")
        self.day, self.forming_day, self.sessions = day, sessions[pos + 1], sessions
        start = sessions[max(0, pos + 1 - (LOOKBACK - 1))]
        dated = window_bars["date"]
        raw = window_bars[(dated >= start) & (dated <= day)]
        if not _sorted_by_symbol_and_date(raw):  # the store's window reads come sorted
            raw = raw.sort_values(["symbol", "date"], kind="stable")
        raw = raw.reset_index(drop=True)
        if raw.empty:
            raise ValueError(f"window_bars: no bars from {start:%Y-%m-%d} to {day:%Y-%m-%d} to continue")
        # F's indicators of a symbol without a forming bar: its prefix, as indicators_for_days gives them
        self.base = indicators_for_days(raw, pd.DatetimeIndex([self.forming_day]), sessions)
        self.symbols = self.base["symbol"].to_numpy()
        self._index = pd.Index(self.symbols)
        self._base_values = self.base[INDICATOR_COLUMNS].to_numpy(dtype=np.float64)
        self._base_n = self.base["n_bars"].to_numpy(np.int64)
        self._base_suspect = self.base["split_unverified"].to_numpy(dtype=bool)
        self._last_layout = None
        self._build_state(raw)

    def _build_state(self, raw: pd.DataFrame) -> None:
        adj = split_adjust(raw)
        starts, ends = symbol_bounds(adj["symbol"].to_numpy())
        n = (ends - starts).astype(np.int64)
        self.n_prefix = n
        width = int(n.max()) if len(n) else 0
        row = np.repeat(np.arange(len(n)), n)
        col = np.arange(len(adj)) - np.repeat(starts, n)
        mats = {}
        for name in ("open", "high", "low", "close", "volume"):
            m = np.full((len(n), width), np.nan)
            m[row, col] = adj[name].to_numpy(np.float64)
            mats[name] = m
        c, v = mats["close"], mats["volume"]
        with np.errstate(all="ignore"):
            self.state = Recurrences(mats["high"], mats["low"], c, n).state
            logc = np.log(c)
            logret = np.full_like(c, np.nan)
            logret[:, 1:] = logc[:, 1:] - logc[:, :-1]
        st = self.state
        st["s19"], st["q19"] = _tail_sum(c, n, 19), _tail_sum(c * c, n, 19)
        st["s49"], st["s199"] = _tail_sum(c, n, 49), _tail_sum(c, n, 199)
        st["s62"], st["q62"] = _tail_sum(c, n, 62), _tail_sum(c * c, n, 62)
        st["cv19"] = _tail_sum(c * v, n, 19)
        lr = np.nan_to_num(logret)
        st["r20"], st["rq20"] = _tail_sum(lr, n, 20), _tail_sum(lr * lr, n, 20)
        st["r62"], st["rq62"] = _tail_sum(lr, n, 62), _tail_sum(lr * lr, n, 62)
        for lag in (21, 63, 126, 252):
            st[f"lag{lag}"] = _at(c, n, lag)
        st["ret_12_1"] = _at(c, n, 21) / _at(c, n, 252) - 1.0
        st["logc"] = _at(logc, n, 1)
        st["v0"] = v[:, 0].copy()
        obv_steps = np.sign(np.nan_to_num(np.diff(c, axis=1))) * v[:, 1:]
        st["obv"] = v[:, 0] + np.nansum(obv_steps, axis=1)  # TA-Lib's OBV from the prefix's first bar
        st["raw_close"] = raw["close"].to_numpy(np.float64)[ends - 1]
        st["n"] = n  # the forming bar's number in each symbol's window (0-based)
        self.fast = n >= SEEDED_AFTER  # every recurrence seeded before the forming bar

    def _layout(self, symbols: np.ndarray) -> dict:
        """Where each forming row goes, and the carried state gathered for it: the same for every
        update while the set of symbols with a forming bar does not change (most minutes)."""
        last = self._last_layout
        if last is not None and len(last["symbols"]) == len(symbols) and (last["symbols"] == symbols).all():
            return last
        dup = pd.Series(symbols).duplicated().to_numpy()
        if dup.any():
            raise ValueError(f"forming bars: symbol(s) given twice: {', '.join(map(str, symbols[dup][:5]))}")
        code = self._index.get_indexer(symbols)
        known = code >= 0
        n_bars = np.ones(len(symbols), dtype=np.int64)
        n_bars[known] = self.n_prefix[code[known]] + 1
        all_n = self._base_n.copy()
        all_n[code[known]] = n_bars[known]
        last_date = self.base["last_date"].to_numpy().copy()
        last_date[code[known]] = self.forming_day.to_datetime64()
        new = ~known  # listed on the forming day: no bar in the window before
        out_symbols = np.r_[self.symbols, symbols[new]]
        layout = {
            "symbols": symbols, "code": code, "known": known,
            "n_bars": n_bars, "mask": n_bars[:, None] < BARS_NEEDED[None, :], "state": self._gather(code[known]),
            "new": new, "all_n": np.r_[all_n, n_bars[new]], "last_date": np.r_[last_date, np.repeat(
                self.forming_day.to_datetime64(), new.sum())], "order": np.argsort(out_symbols, kind="stable")
            if new.any() else None, "out_symbols": out_symbols,
        }
        self._last_layout = layout
        return layout

    def _gather(self, rows: np.ndarray) -> dict:
        return {k: a[rows] for k, a in self.state.items()}

    def update(self, forming: pd.DataFrame) -> pd.DataFrame:
        """The forming day's indicators for every symbol, as `indicators_for_days` gives them for F if
        `forming` (one row per symbol: the day so far) were F's final bars; symbols without a forming
        bar keep their prefix's values (`base`)."""
        f = _checked(forming)
        lay = self._layout(f["symbol"].to_numpy())
        code, known = lay["code"], lay["known"]
        r = f["split_ratio"].to_numpy(np.float64)
        o, h, l, c, v = (f[k].to_numpy(np.float64) for k in ("open", "high", "low", "close", "volume"))
        vals = np.empty((len(f), len(INDICATOR_COLUMNS)))
        with np.errstate(all="ignore"):
            # in D's shares (the carried state's), then divided back out into F's
            rk = r[known]
            vals[known] = self._step(lay["state"], h[known] * rk, l[known] * rk, c[known] * rk, v[known] / rk)
            new = lay["new"]  # a first bar: only what one bar defines (the close, OBV's first volume)
            vals[new] = np.nan
            vals[new, COLUMN["obv"]] = v[new] / r[new]
            split = np.flatnonzero(r != 1.0)
            vals[np.ix_(split, PRICE_LEVEL_AT)] /= r[split, None]
            vals[np.ix_(split, VOLUME_LEVEL_AT)] *= r[split, None]
        vals[:, COLUMN["close"]] = c
        vals[lay["mask"]] = np.nan
        suspect = self._unverified(code, o, r)

        n_base = len(self._base_values)
        values = np.empty((len(lay["out_symbols"]), len(INDICATOR_COLUMNS)))
        values[:n_base] = self._base_values
        values[code[known]] = vals[known]
        values[n_base:] = vals[new]
        all_suspect = np.empty(len(values), dtype=bool)
        all_suspect[:n_base] = self._base_suspect
        all_suspect[code[known]] |= suspect[known]
        all_suspect[n_base:] = suspect[new]
        frame = _frame(self.forming_day, lay["out_symbols"], lay["last_date"], lay["all_n"], values, all_suspect)
        if lay["order"] is not None:
            frame = frame.take(lay["order"]).reset_index(drop=True)
        return frame

    def _step(self, g, h, l, c, v) -> np.ndarray:
        """Every indicator after one more bar (high, low, close, volume in D's shares) for the symbols
        whose carried state `g` holds (gathered from self.state): one vectorized step, the bar being
        each symbol's bar number g["n"] (0-based), so a recurrence whose seed falls on it is seeded
        there as TA-Lib seeds it (values before their seed are NaN'd by BARS_NEEDED afterwards)."""
        t = g["n"]
        e12 = np.where(t == 11, (g["s12"] + c) / 12.0, (c - g["e12"]) * K12 + g["e12"])
        e26 = np.where(t == 25, (g["s26"] + c) / 26.0, (c - g["e26"]) * K26 + g["e26"])
        fast = np.where(t == 25, (g["sfast"] + c) / 12.0, (c - g["fast"]) * K12 + g["fast"])
        macd = fast - e26
        sig = np.where(t == 33, (g["ssig"] + macd) / 9.0, (macd - g["sig"]) * K9 + g["sig"])
        d = c - g["close"]
        up, down = np.where(d < 0, 0.0, d), np.where(d < 0, d, 0.0)
        seed14 = t == 14  # RSI and ATR: until then plain sums
        gain = np.where(seed14, (g["gain"] + up) / P, (g["gain"] * (P - 1) + up) / P)
        loss = np.where(seed14, (g["loss"] - down) / P, (g["loss"] * (P - 1) - down) / P)
        rsi = np.where(is_zero(gain + loss), 0.0, 100.0 * (gain / (gain + loss)))
        tr = true_range(h, l, g["close"])
        atr = np.where(seed14, (g["atr"] + tr) / P, (g["atr"] * (P - 1) + tr) / P)
        _, _, _, adx, dx, ok = adx_step(g, h, l, c)
        adx = np.where(t == 27, (g["sumdx"] + np.where(ok, dx, 0.0)) / P, adx)  # the first ADX: 14 DX
        sma20 = (g["s19"] + c) / 20.0
        var20 = (g["q19"] + c * c) / 20.0 - sma20 * sma20
        band = np.where(var20 < 1e-14, 0.0, np.sqrt(var20)) * 2.0  # TA_IS_ZERO_OR_NEG
        roc = [np.where(g[f"lag{p}"] != 0.0, (c / g[f"lag{p}"] - 1.0) * 100.0, 0.0) for p in (21, 63, 126, 252)]
        obv = g["obv"] + np.sign(d) * v
        lr = np.log(c) - g["logc"]
        rv = []
        for p, s, q in ((21, "r20", "rq20"), (63, "r62", "rq62")):
            m1, m2 = (g[s] + lr) / p, (g[q] + lr * lr) / p
            rv.append(np.sqrt((m2 - m1 * m1) * p / (p - 1) * TRADING_DAYS))
        sma63 = (g["s62"] + c) / 63.0
        var63 = (g["q62"] + c * c) / 63.0 - sma63 * sma63
        cv63 = np.sqrt(var63 * 63 / 62) / sma63
        return np.column_stack([
            c, sma20, (g["s49"] + c) / 50.0, (g["s199"] + c) / 200.0, e12, e26, rsi, macd, sig, macd - sig,
            atr, adx, sma20 + band, sma20, sma20 - band, *roc, (obv - g["v0"]) + g["v0"], *rv,
            (g["cv19"] + c * v) / 20.0, cv63, g["ret_12_1"],
        ])

    def _unverified(self, code, o, r) -> np.ndarray:
        """True where the forming bar's split ratio is contradicted by the gap from the previous close."""
        out = np.zeros(len(code), dtype=bool)
        rows = np.flatnonzero((code >= 0) & (r != 1.0))
        if len(rows):
            prev = self.state["raw_close"][code[rows]]
            with np.errstate(all="ignore"):
                out[rows] = ~(np.abs(np.log(prev / o[rows] / r[rows])) <= np.log(SPLIT_GAP_TOLERANCE))
        return out


def _frame(day, symbols, last_date, n_bars, values, suspect) -> pd.DataFrame:
    out = pd.DataFrame(values, columns=INDICATOR_COLUMNS)
    out.insert(0, "date", pd.DatetimeIndex(np.repeat(day.to_datetime64(), len(symbols))))
    out.insert(1, "symbol", symbols)
    out.insert(2, "last_date", pd.DatetimeIndex(last_date))
    out.insert(3, "n_bars", n_bars)
    out["split_unverified"] = suspect
    return out


def _checked(forming: pd.DataFrame) -> pd.DataFrame:
    """The forming bars with a split_ratio column, or an error naming what is wrong."""
    missing = [c for c in FORMING_COLUMNS if c not in forming.columns]
    if missing:
        raise ValueError(f"forming bars: missing column(s) {', '.join(missing)}")
    f = forming if "split_ratio" in forming.columns else forming.assign(split_ratio=1.0)
    for col in ("open", "high", "low", "close", "split_ratio"):
        x = f[col].to_numpy(np.float64)
        bad = ~(np.isfinite(x) & (x > 0))
        if bad.any():
            raise ValueError(f"forming bars: {col} must be a positive number; not for "
                             f"{', '.join(map(str, f['symbol'][bad].head(5)))}")
    x = f["volume"].to_numpy(np.float64)
    bad = ~(np.isfinite(x) & (x >= 0))
    if bad.any():
        raise ValueError(f"forming bars: volume must be >= 0; not for {', '.join(map(str, f['symbol'][bad].head(5)))}")
    return f
