"""TA-Lib's EMA-type recurrences (EMA 12/26, MACD 12/26/9, RSI 14, ATR 14, ADX 14), vectorized across
symbols, step for step as TA-Lib's C code runs them (default compatibility, no unstable period):

- EMA: seeded with the mean of the first `period` values, then (x - ema) * k + ema, k = 2 / (period + 1);
- MACD: the slow EMA is EMA 26; the fast EMA is seeded on x[14..25], where the slow one starts, not on
  x[0..11] (so it is not EMA 12); the signal is an EMA 9 of the MACD line seeded on its first 9 values;
- RSI and ATR: sums of the first 14 changes / true ranges over 14, then Wilder's (prev * 13 + x) / 14;
- ADX: plain sums of 13 +DM, -DM and true ranges, then Wilder's running sums (s - s / 14 + x); DX from
  the DIs; the first ADX the mean of 14 DX, then Wilder's average; TA_IS_ZERO guards as in C.

Keeping TA-Lib's order of operations makes the results agree with TA-Lib to the last bits or so.
"""

from __future__ import annotations

import numpy as np

K12, K26, K9 = 2.0 / 13.0, 2.0 / 27.0, 2.0 / 10.0  # TA-Lib's PER_TO_K
P = 14.0  # RSI, ATR, ADX period
SEEDED_AFTER = 34  # bars: MACD's signal, the last of them to be seeded, needs 34


def is_zero(x):
    return (-1e-14 < x) & (x < 1e-14)  # TA_IS_ZERO


def true_range(h, l, prev_close):
    """TA-Lib's TRUE_RANGE: the largest of high - low and the distances from the previous close."""
    out = h - l
    out = np.where(np.abs(prev_close - h) > out, np.abs(prev_close - h), out)
    return np.where(np.abs(prev_close - l) > out, np.abs(prev_close - l), out)


def directional(h, l, prev_h, prev_l):
    """TA-Lib's +DM and -DM of one bar (at most one of them non-zero)."""
    up, down = h - prev_h, prev_l - l
    minus = (down > 0) & (up < down)
    plus = ~minus & (up > 0) & (up > down)
    return np.where(plus, up, 0.0), np.where(minus, down, 0.0)


def adx_step(st: dict, h, l, c, rows=slice(None)):
    """One ADX step after its seed: Wilder's sums of +DM, -DM and TR, then DX into ADX. Returns
    the new (plus_dm, minus_dm, tr, adx) without storing them."""
    pdm, mdm = directional(h, l, st["high"][rows], st["low"][rows])
    tr = true_range(h, l, st["close"][rows])
    plus = st["pdm"][rows] - st["pdm"][rows] / P
    plus = plus + pdm
    minus = st["mdm"][rows] - st["mdm"][rows] / P
    minus = minus + mdm
    trs = st["tr"][rows] - st["tr"][rows] / P + tr
    adx = st["adx"][rows]
    with np.errstate(all="ignore"):
        mdi, pdi = 100.0 * (minus / trs), 100.0 * (plus / trs)
        s = mdi + pdi
        dx = 100.0 * (np.abs(mdi - pdi) / s)
    ok = ~is_zero(trs) & ~is_zero(s)
    adx = np.where(ok, (adx * (P - 1) + dx) / P, adx)
    return plus, minus, trs, adx, dx, ok


class Recurrences:
    """The EMA-type state (EMA 12/26, MACD, RSI, ATR, ADX) of every symbol after its last bar, built by
    running TA-Lib's recurrences over the bars, left-aligned so that every seed falls on the same step."""

    def __init__(self, h, l, c, lengths):
        n_sym = len(lengths)
        order = np.argsort(-lengths, kind="stable")  # longest first: the active symbols are a leading slice
        H, L, C = h[order], l[order], c[order]
        active = np.searchsorted(-lengths[order], -np.arange(H.shape[1]), side="left")  # count with t < n
        st = {k: np.zeros(n_sym) for k in ("e12", "e26", "fast", "sig", "gain", "loss", "atr",
                                           "pdm", "mdm", "tr", "adx", "sumdx", "s12", "s26", "sfast", "ssig")}
        st.update(close=C[:, 0].copy(), high=H[:, 0].copy(), low=L[:, 0].copy())
        for t in range(H.shape[1]):
            k = active[t]
            if k == 0:
                break
            x, hi, lo = C[:k, t], H[:k, t], L[:k, t]
            self._ema(st, k, t, x)
            if t >= 1:
                self._wilder(st, k, t, x, hi, lo)
            st["close"][:k], st["high"][:k], st["low"][:k] = x, hi, lo
        back = np.empty_like(order)
        back[order] = np.arange(n_sym)
        self.state = {name: v[back] for name, v in st.items()}

    @staticmethod
    def _ema(st, k, t, x):
        if t < 12:
            st["s12"][:k] += x
        if t < 26:
            st["s26"][:k] += x
        if 14 <= t <= 25:
            st["sfast"][:k] += x  # MACD's fast EMA is seeded on x[14..25], where the slow one starts
        if t == 11:
            st["e12"][:k] = st["s12"][:k] / 12.0
        elif t > 11:
            st["e12"][:k] = (x - st["e12"][:k]) * K12 + st["e12"][:k]
        if t == 25:
            st["e26"][:k] = st["s26"][:k] / 26.0
            st["fast"][:k] = st["sfast"][:k] / 12.0
        elif t > 25:
            st["e26"][:k] = (x - st["e26"][:k]) * K26 + st["e26"][:k]
            st["fast"][:k] = (x - st["fast"][:k]) * K12 + st["fast"][:k]
        if t >= 25:
            macd = st["fast"][:k] - st["e26"][:k]
            if t <= 33:
                st["ssig"][:k] += macd
            if t == 33:
                st["sig"][:k] = st["ssig"][:k] / 9.0
            elif t > 33:
                st["sig"][:k] = (macd - st["sig"][:k]) * K9 + st["sig"][:k]

    @staticmethod
    def _wilder(st, k, t, x, hi, lo):
        d = x - st["close"][:k]
        up, down = np.where(d < 0, 0.0, d), np.where(d < 0, d, 0.0)
        tr = true_range(hi, lo, st["close"][:k])
        if t <= 14:  # RSI and ATR: sums of the first 14 changes and true ranges
            st["gain"][:k] += up
            st["loss"][:k] -= down
            st["atr"][:k] += tr
            if t == 14:
                st["gain"][:k] /= P
                st["loss"][:k] /= P
                st["atr"][:k] /= P
        else:
            st["gain"][:k] = (st["gain"][:k] * (P - 1) + up) / P
            st["loss"][:k] = (st["loss"][:k] * (P - 1) - down) / P
            st["atr"][:k] = (st["atr"][:k] * (P - 1) + tr) / P
        if t <= 13:  # ADX: plain sums of 13 +DM, -DM and TR
            pdm, mdm = directional(hi, lo, st["high"][:k], st["low"][:k])
            st["pdm"][:k] += pdm
            st["mdm"][:k] += mdm
            st["tr"][:k] += tr
            return
        plus, minus, trs, adx, dx, ok = adx_step(st, hi, lo, x, slice(0, k))
        st["pdm"][:k], st["mdm"][:k], st["tr"][:k] = plus, minus, trs
        if t <= 27:  # the first ADX is the mean of 14 DX
            st["sumdx"][:k] += np.where(ok, dx, 0.0)
            if t == 27:
                st["adx"][:k] = st["sumdx"][:k] / P
        else:
            st["adx"][:k] = adx
