"""Which symbols trade like funds: evidence in the bars alone, for sources that carry no security type.

A data file without a `type` column names its exchange-traded funds only through a list of tickers
(market.known_etfs); a fund missing from the list would be ranked as a stock. These rules read what
only funds do in their own daily bars, as of a day, from that day's bars and earlier ones only (every
statistic is a trailing window ending on the day, so a bar after the day changes nothing before it):

  near_cash        a price that barely moves: daily total-return volatility under 0.08% and a daily range
                   (high - low) / close under 0.10% on more than half of the last 63 traded days (a
                   median range under it): money-market-like funds (BIL, SHV, MINT, GSY, ...).
  bond_like        monthly distributions (11 or more in the last 252 sessions) with a daily volatility
                   under 0.6% and a median daily range under 0.6%: bond, muni, TIPS and preferred funds,
                   open or closed-end (LQD, TLT, TFI, USIG, NAD, ...). The REITs and BDCs that pay
                   monthly (O, MAIN, LTC, AGNC) move 1% a day or more.
  index_like       correlation with SPY of 0.95 or more over the window: broad equity index funds. On the
                   shared 2017-2020 file no stock passed 0.94 (Citigroup, in the 2020 crash), while
                   equity ETFs not on any list reached 0.95 to 0.99.
  inverse          correlation with SPY of -0.75 or below, or with TLT of -0.85 or below: funds that short
                   an equity index or Treasuries (SH, SDS, DDG, TBF, TBT, ...). No stock there fell below
                   -0.2 against SPY; banks reached -0.70 against TLT.
  leveraged        correlation of 0.95 or more with SPY and a beta of 1.7 or more: two- and three-times
                   index funds (SSO, UPRO, ...); at 0.90 Ameriprise and Lincoln National passed in 2020.

Each needs MIN_BARS bars with a return in the window (a symbol with less history has no evidence, and
stays what the lists say). Returns are total returns from the raw columns: (close * split ratio +
dividend) / previous close - 1, so no adjusted series (adjusted as of its last day) can leak the future.
A symbol flagged once stays a fund from then on (`first_flagged` keeps the first day each rule held,
`funds_as_of` compares it with the day): a fund does not turn into a company, and a livelier month
does not undo a year's evidence; a stock flagged by mistake stays flagged too.
The thresholds were set on the shared real file, labelled by hand (benchmarks/fund_types.py measures
them). What the bars cannot tell: equity closed-end funds and sector ETFs, which move like stocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW = 252          # sessions of evidence: a year
MIN_BARS = 126        # half a year of returns before any rule may speak
RANGE_WINDOW = 63     # the median daily range reads the last quarter
NEAR_CASH_VOL, NEAR_CASH_RANGE = 0.0008, 0.0010
BOND_VOL, BOND_RANGE, MONTHLY = 0.006, 0.006, 11
INDEX_CORR = 0.95
INVERSE_SPY_CORR, INVERSE_TLT_CORR = -0.75, -0.85
LEVERAGED_CORR, LEVERAGED_BETA = 0.95, 1.7
FLAGS = ("near_cash", "bond_like", "index_like", "inverse", "leveraged")
BENCHMARKS = ("SPY", "TLT")


class _Panel:
    """The bars as arrays of dates x symbols (NaN where a symbol has no bar), built once."""

    def __init__(self, bars: pd.DataFrame):
        day_codes, self.dates = pd.factorize(bars["date"], sort=True)
        sym_codes, self.symbols = pd.factorize(bars["symbol"], sort=True)
        self.shape = (len(self.dates), len(self.symbols))
        self._at = (day_codes, sym_codes)
        self.has_bar = self.wide(bars["close"]) == self.wide(bars["close"])  # not NaN

    def wide(self, values: pd.Series, fill: float = np.nan) -> np.ndarray:
        out = np.full(self.shape, fill)
        out[self._at] = values.to_numpy(dtype=float)
        return out

    def frame(self, values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=pd.DatetimeIndex(self.dates), columns=self.symbols)


def _rolling_sum(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing sums over `window` rows of each column, NaN skipped: (sum, count of non-NaN)."""
    finite = ~np.isnan(values)
    padded = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(np.where(finite, values, 0.0), axis=0)])
    counts = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(finite, axis=0)])
    top = np.arange(1, len(values) + 1)
    bottom = np.maximum(top - window, 0)
    return padded[top] - padded[bottom], counts[top] - counts[bottom]


def _rolling_moments(x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Trailing-window (WINDOW rows) mean of x, variance of x, and with `y` (same shape) the covariance
    and y's variance over the rows where both are known; NaN where fewer than MIN_BARS such rows."""
    both = ~np.isnan(x) if y is None else ~np.isnan(x) & ~np.isnan(y)
    x = np.where(both, x, np.nan)
    sx, n = _rolling_sum(x, WINDOW)
    sxx, _ = _rolling_sum(x * x, WINDOW)
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.where(n >= MIN_BARS, n, np.nan)
        mx = sx / n
        vx = np.maximum(sxx / n - mx * mx, 0.0)
        if y is None:
            return mx, vx * n / (n - 1)  # the sample variance, as pandas' std gives
        y = np.where(both, y, np.nan)
        sy, _ = _rolling_sum(y, WINDOW)
        syy, _ = _rolling_sum(y * y, WINDOW)
        sxy, _ = _rolling_sum(x * y, WINDOW)
        my = sy / n
        return mx, vx, sxy / n - mx * my, np.maximum(syy / n - my * my, 0.0)


def total_returns(panel: _Panel, bars: pd.DataFrame) -> np.ndarray:
    """Daily total returns (dates x symbols) from raw close, split ratio and dividend; NaN where a
    symbol has no bar, and the first bar after a gap spans the gap."""
    close = panel.wide(bars["close"])
    ratio = panel.wide(bars["split_ratio"].fillna(1.0), 1.0) if "split_ratio" in bars else 1.0
    dividend = panel.wide(bars["dividend"].fillna(0.0), 0.0) if "dividend" in bars else 0.0
    previous = pd.DataFrame(close).ffill().shift(1).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return (close * ratio + dividend) / previous - 1.0


def _corr_beta(ret: np.ndarray, column: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Trailing-window correlation and beta of every column with column `column` of `ret`."""
    if column is None:
        nan = np.full(ret.shape, np.nan)
        return nan, nan.copy()
    bench = np.broadcast_to(ret[:, [column]], ret.shape)
    _, vx, cov, vy = _rolling_moments(ret, bench)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr, beta = cov / np.sqrt(vx * vy), cov / vy
    corr[:, column] = beta[:, column] = np.nan  # a benchmark is not evidence about itself
    return corr, beta


def fund_statistics(bars: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each rule's flag (FLAGS) and the statistics behind them, as frames of dates x symbols, each value
    from the trailing window ending that day; a day without a bar of the symbol is NaN / False. `bars`:
    date, symbol, high, low, close, volume, and where known split_ratio and dividend (the cash amount
    on the ex-date)."""
    panel = _Panel(bars)
    has_bar = panel.has_bar
    ret = total_returns(panel, bars)
    traded = panel.wide(bars["volume"]) > 0  # filler bars (no trade, one price) carry no range
    with np.errstate(invalid="ignore", divide="ignore"):
        rng = np.where(traded, (panel.wide(bars["high"]) - panel.wide(bars["low"])) / panel.wide(bars["close"]), np.nan)
    _, var = _rolling_moments(ret)
    vol = np.sqrt(var)
    _, n_ret = _rolling_sum(ret, WINDOW)
    traded_days, _ = _rolling_sum(np.where(np.isnan(rng), np.nan, 1.0), RANGE_WINDOW)
    with np.errstate(invalid="ignore", divide="ignore"):
        enough_days = np.where(traded_days >= RANGE_WINDOW // 3, traded_days, np.nan)
        # the share of the window's traded days whose range is under each threshold: over one half is
        # a median range under it
        quiet_cash = _rolling_sum(np.where(np.isnan(rng), np.nan, rng < NEAR_CASH_RANGE), RANGE_WINDOW)[0] / enough_days
        quiet_bond = _rolling_sum(np.where(np.isnan(rng), np.nan, rng < BOND_RANGE), RANGE_WINDOW)[0] / enough_days
    paid = panel.wide(bars["dividend"].fillna(0.0), 0.0) > 0 if "dividend" in bars else np.zeros(panel.shape, bool)
    distributions, _ = _rolling_sum(paid.astype(float), WINDOW)
    where = {name: int(np.flatnonzero(panel.symbols == name)[0]) if name in set(panel.symbols) else None
             for name in BENCHMARKS}
    spy_corr, spy_beta = _corr_beta(ret, where["SPY"])
    tlt_corr, _ = _corr_beta(ret, where["TLT"])
    enough = has_bar & (n_ret >= MIN_BARS)
    with np.errstate(invalid="ignore"):
        flags = {
            "near_cash": enough & (vol < NEAR_CASH_VOL) & (quiet_cash > 0.5),
            "bond_like": enough & (distributions >= MONTHLY) & (vol < BOND_VOL) & (quiet_bond > 0.5),
            "index_like": enough & (spy_corr >= INDEX_CORR),
            "inverse": enough & ((spy_corr <= INVERSE_SPY_CORR) | (tlt_corr <= INVERSE_TLT_CORR)),
            "leveraged": enough & (spy_corr >= LEVERAGED_CORR) & (spy_beta >= LEVERAGED_BETA),
        }
    stats = {"vol": vol, "quiet_cash": quiet_cash, "quiet_bond": quiet_bond, "distributions": distributions, "spy_corr": spy_corr,
             "spy_beta": spy_beta, "tlt_corr": tlt_corr, "n_returns": n_ret}
    out = {k: panel.frame(np.where(has_bar, v, np.nan)) for k, v in stats.items()}
    return {**out, **{k: panel.frame(v) for k, v in flags.items()}}


def first_flagged(bars: pd.DataFrame) -> pd.DataFrame:
    """symbol -> the first day each rule (FLAGS) held, NaT where it never did: all a day's decision
    needs, since a flag once raised stays (see the module's docstring)."""
    stats = fund_statistics(bars)
    out = {}
    for name in FLAGS:
        flag = stats[name]
        first = flag.idxmax()  # the first True of each column (the first row where none is)
        out[name] = first.where(flag.any(), pd.NaT)
    return pd.DataFrame(out).rename_axis("symbol")


def funds_as_of(first: pd.DataFrame, day) -> pd.DataFrame:
    """From `first_flagged`: symbol -> `fund` (some rule held on a day up to `day`) and
    `leveraged_or_inverse` (the inverse or leveraged rule did), and `evidence`: the rules that held,
    comma-separated ("" for none)."""
    held = first.le(pd.Timestamp(day)) & first.notna()
    names = np.array(FLAGS, dtype=object)
    evidence = [",".join(names[row]) for row in held[list(FLAGS)].to_numpy()]
    return pd.DataFrame({"fund": held.any(axis=1), "leveraged_or_inverse": held["inverse"] | held["leveraged"],
                         "evidence": evidence}, index=first.index)
