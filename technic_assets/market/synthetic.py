"""The built-in simulated US market: deterministic, offline, realistic enough to give every stage work.

About 6,000 listings (common stocks in the 11 GICS sectors, plain ETFs including the regime ETFs SPY QQQ
HYG LQD SHY TLT IEF VIXY, leveraged and inverse ETFs, penny stocks, illiquid names, share classes,
malformed tickers), IPOs and delistings over time, and daily bars from a factor model. Every ticker it
makes up ends in ".Z" (SIMULATED_SUFFIX), so none can pass for a real listing:

    r[i,t] = drift[i] + beta[i] m[t] + load[i] s[sector(i),t] + rates_load[i] b[t]
             + sigma[i,t] (eps[i,t] + KAPPA * signal[i,t])

with a GARCH(1,1) market factor m (volatility clustering), sector factors s, a bond factor b,
stochastic idiosyncratic volatility sigma (log-AR(1), scaled by market stress) and fat-tailed shocks eps
(normal with 4% jump days at 3.5x). Splits happen to expensive stocks (and reverse splits to sub-$1 ones);
a few bars a year are missing (halts). Quarterly fundamentals are published 20-60 days after quarter end.

Cash dividends (`_dividend_plan`): 40% of the ordinary stocks priced $5 or more, the broad, sector and
bond ETFs pay a yield of their own, quarterly on a set session of their cycle's months (the bond ETFs
monthly), each payment the yield's share of the previous close as traded. They are cash on the
ex-date only: the simulated prices do not drop by them (a real price does, about by the amount), so
every price series is what it was before dividends were simulated, and a payer's total return is its
price return plus its yield.

The planted signal (post-earnings-announcement drift): after each report is published, the stock
drifts by KAPPA * sigma * earnings_surprise * exp(-days_since_publication / SIGNAL_DECAY_DAYS) per day,
starting the session after publication. `earnings_surprise` is in the published fundamentals, so the
signal is knowable on the scan date; `true_signal(day)` returns its exact value for the next session,
the benchmark an alpha model is judged against (see benchmarks/planted_signal.py for its measured IC).

Every random draw is keyed by (seed, year, month, day-of-month), so a date's data never depends on
which range was asked for, nor on anything after it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr

from technic_assets.core.calendar import nyse
from technic_assets.core.schema import BAR_COLUMNS, FUNDAMENTAL_COLUMNS, GICS_SECTORS
from technic_assets.market.base import MarketDataProvider

EPOCH = pd.Timestamp("2023-01-03")
KAPPA = 0.08
SIGNAL_DECAY_DAYS = 45.0

_SECTOR_SHARE = np.array([0.15, 0.15, 0.14, 0.11, 0.13, 0.05, 0.05, 0.05, 0.06, 0.08, 0.03])
_SECTOR_LIQUIDITY = np.array([3.0, 1.6, 1.5, 1.8, 1.0, 2.0, 1.4, 0.9, 0.45, 0.35, 0.4])
_BOND_LOAD = {"Real Estate": 0.5, "Utilities": 0.6, "Financials": -0.3}

# symbol: (price, beta, sector or None, sector load, bond load, idio daily vol, daily drift, $ volume)
_PLAIN_ETFS = {
    "SPY": (380.0, 1.0, None, 0.0, 0.0, 0.0005, 0.0, 25e9),
    "QQQ": (170.0, 1.1, "Information Technology", 0.5, 0.0, 0.001, 0.0, 12e9),
    "IWM": (150.0, 1.15, None, 0.0, 0.0, 0.004, 0.0, 4e9),
    "DIA": (240.0, 0.95, None, 0.0, 0.0, 0.002, 0.0, 1e9),
    "HYG": (84.0, 0.3, None, 0.0, 0.4, 0.001, 0.0, 1.5e9),
    "LQD": (115.0, 0.05, None, 0.0, 1.2, 0.0008, 0.0, 1e9),
    "SHY": (84.0, 0.0, None, 0.0, 0.12, 0.0002, 0.0, 3e8),
    "TLT": (120.0, -0.1, None, 0.0, 2.5, 0.001, 0.0, 2e9),
    "IEF": (104.0, -0.05, None, 0.0, 1.0, 0.0005, 0.0, 8e8),
    "VIXY": (90.0, -3.5, None, 0.0, 0.0, 0.015, -0.0025, 4e8),
    "GLD": (125.0, 0.05, None, 0.0, 0.3, 0.008, 0.0, 1.5e9),
    "AGG": (106.0, 0.0, None, 0.0, 0.8, 0.0004, 0.0, 6e8),
}
_FUND_NAMES = {"SPY": "S&P 500 ETF", "QQQ": "Nasdaq-100 ETF", "IWM": "Russell 2000 ETF", "DIA": "Dow Jones ETF",
               "HYG": "High Yield Bond ETF", "LQD": "Investment Grade Bond ETF", "SHY": "1-3 Year Treasury ETF",
               "TLT": "20+ Year Treasury ETF", "IEF": "7-10 Year Treasury ETF", "VIXY": "VIX Futures ETF",
               "GLD": "Gold ETF", "AGG": "Aggregate Bond ETF"}
_SECTOR_ETFS = ["XLK", "XLF", "XLV", "XLY", "XLI", "XLC", "XLE", "XLP", "XLB", "XLRE", "XLU"]
# annual dividend yield of the ETFs that pay one (none: VIXY, GLD, the leveraged, the other ETFs)
_ETF_YIELDS = {"SPY": 0.015, "QQQ": 0.006, "IWM": 0.012, "DIA": 0.018, "HYG": 0.05, "LQD": 0.035, "SHY": 0.02,
               "TLT": 0.03, "IEF": 0.025, "AGG": 0.028}
_MONTHLY_PAYERS = {"HYG", "LQD", "SHY", "TLT", "IEF", "AGG"}  # bond funds pay every month
# symbol: (underlying, leverage)
_LEVERAGED = {
    "TQQQ": ("QQQ", 3), "SQQQ": ("QQQ", -3), "QLD": ("QQQ", 2), "QID": ("QQQ", -2), "PSQ": ("QQQ", -1),
    "SPXL": ("SPY", 3), "SPXS": ("SPY", -3), "UPRO": ("SPY", 3), "SPXU": ("SPY", -3), "SSO": ("SPY", 2),
    "SDS": ("SPY", -2), "SH": ("SPY", -1), "TNA": ("IWM", 3), "TZA": ("IWM", -3), "RWM": ("IWM", -1),
    "DOG": ("DIA", -1), "UVXY": ("VIXY", 1.5), "SVXY": ("VIXY", -0.5), "TMF": ("TLT", 3),
    "TMV": ("TLT", -3), "SOXL": ("XLK", 3), "SOXS": ("XLK", -3), "FAS": ("XLF", 3), "FAZ": ("XLF", -3),
    "ERX": ("XLE", 2), "ERY": ("XLE", -2), "LABU": ("XLV", 3), "LABD": ("XLV", -3), "NUGT": ("GLD", 2),
    "DUST": ("GLD", -2),
}
# Simulated tickers cannot pass for real ones: every ticker the simulation makes up ends in the class
# suffix ".Z", which no US listing uses (1-5 letters and a one-letter class: valid to the filter, like
# BRK.B). Checked against the fund list (market/us_etfs.csv) and the shared real file's 3,756 symbols
# (test_market_synthetic). The funds the regime, the benchmark and the fund evidence
# read by name (SPY, QQQ, HYG, ..., the sector ETFs, the leveraged ones) keep their tickers and are named
# for what they stand for, "(simulated)"; the malformed tickers stay malformed, to be filtered.
SIMULATED_SUFFIX = ".Z"
# share classes: a second share of a made-up issuer (root and class letter), simulated like any other
_SHARE_CLASSES = ["BRKB.Z", "BFB.Z", "HEIA.Z", "LENB.Z", "MOGA.Z", "GEFB.Z", "CWENA.Z", "FOXAB.Z", "UHALB.Z", "BIOB.Z"]
_MALFORMED = ["AB1", "X-Y", "TOOLONG", "A_B", "ABC.DEF", "QQ$", "ZZZZZZ", "12AB", "AAPL.WS.A", "BR K",
              "MM2X", "LONGNAME", "W.X.Y", "ab", "C++", "N/A", "TEST1", "XX.XX", "Q!", "DOT."]
_WORDS_A = ["Apex", "Blue", "Cedar", "Delta", "Eagle", "First", "Global", "Harbor", "Iron", "Jade",
            "Keystone", "Liberty", "Meridian", "North", "Orion", "Pacific", "Quantum", "River",
            "Summit", "Titan", "United", "Vertex", "West", "Zenith"]
_WORDS_B = ["Systems", "Holdings", "Energy", "Bancorp", "Therapeutics", "Brands", "Industries",
            "Networks", "Materials", "Realty", "Power", "Foods", "Media", "Labs", "Capital"]


class SyntheticMarket(MarketDataProvider):
    """A deterministic market simulation: same seed, same data."""

    name = "synthetic"

    def __init__(self, seed: int = 7, n_stocks: int = 6000):
        self.seed = seed
        self.n_stocks = n_stocks
        self._meta = _build_listings(seed, n_stocks)

    def __repr__(self) -> str:
        return f"SyntheticMarket(seed={self.seed}, n_stocks={self.n_stocks})"

    # -- the provider interface -------------------------------------------------------------------
    def listings(self, day: dt.date, known_sectors: dict[str, str] | None = None,
                 priority: list[str] | None = None) -> pd.DataFrame:
        day = pd.Timestamp(day)
        m = self._meta
        active = (m["listed"] <= day) & ((m["delisted"].isna()) | (m["delisted"] > day))
        cols = ["symbol", "name", "type", "sector", "exchange", "is_leveraged", "listed", "delisted"]
        return m.loc[active, cols].reset_index(drop=True)

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        return _simulate(self.seed, self.n_stocks, pd.Timestamp(start), pd.Timestamp(end)).copy()

    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        day = pd.Timestamp(as_of)
        f = _fundamentals(self.seed, self.n_stocks)
        q = _latest_report(f, day, strictly_before=False)
        has = np.flatnonzero(q >= 0)
        out = pd.DataFrame(f["table"][q[has], has], columns=FUNDAMENTAL_COLUMNS[1:])
        out.insert(0, "symbol", f["symbols"][has])
        out = out[out["symbol"].isin(self.listings(day)["symbol"])]
        for c in ("period_end", "published"):
            out[c] = pd.to_datetime(out[c].astype("int64"), unit="D")
        return out.reset_index(drop=True)

    def report_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        f = _fundamentals(self.seed, self.n_stocks)
        lo = np.datetime64(pd.Timestamp(start).date(), "D").astype(np.int64)
        hi = np.datetime64(pd.Timestamp(end).date(), "D").astype(np.int64)
        pub = f["published"]
        first = np.maximum(_latest_report(f, pd.Timestamp(start), strictly_before=True), 0)
        keep = (pub <= hi) & ((pub >= lo) | (np.arange(len(pub))[:, None] == first[None, :]))
        q, i = np.nonzero(keep)
        out = pd.DataFrame(f["table"][q, i], columns=FUNDAMENTAL_COLUMNS[1:])
        out.insert(0, "symbol", f["symbols"][i])
        for c in ("period_end", "published"):
            out[c] = pd.to_datetime(out[c].astype("int64"), unit="D")
        out["known_from"] = out["published"]
        return out.sort_values(["published", "symbol"]).reset_index(drop=True)

    # -- the truth, for judging alpha models ------------------------------------------------------
    def true_signal(self, day: dt.date) -> pd.Series:
        """Expected planted drift (daily return) for the session after `day`, by symbol."""
        m = self._meta
        days = nyse().sessions
        nxt = days[days.get_loc(pd.Timestamp(day)) + 1]
        sig = _signal_for_day(_fundamentals(self.seed, self.n_stocks), m, nxt)
        truth = pd.Series(KAPPA * m["idio_vol"].to_numpy() * sig, index=m["symbol"], name="true_signal")
        return truth[truth.index.isin(self.listings(day)["symbol"])]


# ---------------------------------------------------------------------------------------------------
def _ticker(rng: np.random.Generator, taken: set[str]) -> str:
    return _tickers(rng, 1, taken)[0]


def _tickers(rng: np.random.Generator, count: int, taken: set[str]) -> list[str]:
    """`count` new unique tickers of 1-5 letters, mostly 3-4, and SIMULATED_SUFFIX."""
    out: list[str] = []
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    while len(out) < count:
        k = count - len(out)
        lengths = rng.choice([1, 2, 3, 4, 5], size=2 * k, p=[0.01, 0.06, 0.38, 0.45, 0.10])
        chars = letters[rng.integers(0, 26, (2 * k, 5))]
        for length, row in zip(lengths, chars):
            # drawn and checked as letters, as before the suffix (the same names for the same draws), and
            # never a share class's name (BRKB.Z): then the next draw, as for a name taken
            sym = "".join(row[:length])
            if sym not in taken and sym + SIMULATED_SUFFIX not in taken and len(out) < count:
                taken.add(sym)
                out.append(sym + SIMULATED_SUFFIX)
    return out


def _stock_rows(rng: np.random.Generator, n: int, special: list[str], taken: set[str]) -> pd.DataFrame:
    """The common stocks: 7% penny stocks, 10% illiquid names, the rest ordinary, in 11 sectors."""
    sectors = rng.choice(11, size=n, p=_SECTOR_SHARE / _SECTOR_SHARE.sum())
    kind = rng.random(n)
    penny, illiquid = kind < 0.07, (kind >= 0.07) & (kind < 0.17)
    price = np.exp(rng.normal(np.log(45), 0.9, n))
    vol = np.exp(rng.normal(np.log(0.013), 0.3, n))
    dollar = np.exp(rng.normal(np.log(2.5e7), 1.4, n)) * _SECTOR_LIQUIDITY[sectors]
    price = np.where(penny, rng.uniform(0.4, 4.5, n), np.where(illiquid, np.exp(rng.normal(np.log(20), 0.6, n)), price))
    vol = np.where(penny, rng.uniform(0.03, 0.06, n), np.where(illiquid, rng.uniform(0.015, 0.035, n), vol))
    dollar = np.where(penny, np.exp(rng.normal(np.log(8e5), 1.2, n)),
                      np.where(illiquid, rng.uniform(2e4, 4.5e5, n), dollar))
    names = [f"{a} {b} Inc" for a, b in zip(rng.choice(_WORDS_A, n), rng.choice(_WORDS_B, n))]
    sector_names = np.array(GICS_SECTORS)[sectors]
    bond = np.array([_BOND_LOAD.get(sec, 0.0) for sec in GICS_SECTORS])[sectors] * rng.uniform(0.5, 1.5, n)
    return pd.DataFrame({
        "symbol": special[:n] + _tickers(rng, max(n - len(special), 0), taken),
        "name": names, "type": "stock", "sector": sector_names,
        "exchange": rng.choice(["NYSE", "NASDAQ"], n), "is_leveraged": False, "price0": price,
        "beta": np.clip(rng.normal(1.0, 0.3, n), 0.2, 2.0), "sector_idx": sectors,
        "sector_load": np.clip(rng.normal(1.0, 0.25, n), 0.3, 1.8), "bond_load": bond, "idio_vol": vol,
        "drift": rng.normal(0.0, 0.0003, n), "dollar_volume": dollar,
    })


@lru_cache(maxsize=4)
def _build_listings(seed: int, n_stocks: int) -> pd.DataFrame:
    """Every symbol the market will ever have, with its simulation parameters."""
    rng = np.random.default_rng([seed, 0])
    taken = set(_PLAIN_ETFS) | set(_SECTOR_ETFS) | set(_LEVERAGED) | set(_SHARE_CLASSES) | set(_MALFORMED)
    rows = []
    sector_idx = {s: i for i, s in enumerate(GICS_SECTORS)}

    def row(symbol, kind, sector, price, beta, sload, bload, vol, drift, dollar_vol, lev=0.0, exch="NYSE"):
        name = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}" + (" ETF" if kind == "ETF" else " Inc")
        rows.append(dict(symbol=symbol, name=name, type=kind, sector=sector, exchange=exch,
                         is_leveraged=lev != 0.0, price0=price, beta=beta,
                         sector_idx=sector_idx.get(sector, -1), sector_load=sload, bond_load=bload,
                         idio_vol=vol, drift=drift, dollar_volume=dollar_vol))

    for sym, (p, b, sec, sl, bl, v, d, dv) in _PLAIN_ETFS.items():
        row(sym, "ETF", "ETF", p, b, 0.0, bl, v, d, dv, exch="ARCA")
        rows[-1]["name"] = f"{_FUND_NAMES[sym]} (simulated)"  # after row()'s draws: the rest is unchanged
        rows[-1]["sector_idx"] = sector_idx.get(sec, -1)
        rows[-1]["sector_load"] = sl
    for sym, sec in zip(_SECTOR_ETFS, GICS_SECTORS):
        row(sym, "ETF", "ETF", rng.uniform(40, 150), 1.0, 0.0, _BOND_LOAD.get(sec, 0.0), 0.002, 0.0,
            rng.uniform(2e8, 2e9), exch="ARCA")
        rows[-1]["sector_idx"], rows[-1]["sector_load"] = sector_idx[sec], 1.0
    for r, sec in zip(rows[len(_PLAIN_ETFS):], GICS_SECTORS):
        r["name"] = f"{sec} sector ETF (simulated)"
    by_symbol = {r["symbol"]: r for r in rows}
    for sym, (under, lev) in _LEVERAGED.items():
        u = by_symbol[under]
        row(sym, "ETF", "ETF", rng.uniform(15, 90), lev * u["beta"], 0.0, lev * u["bond_load"],
            abs(lev) * u["idio_vol"], lev * u["drift"] - 0.0004, rng.uniform(5e7, 2e9), lev=lev,
            exch="ARCA")
        rows[-1]["name"] = f"{lev:+g}x {under} ETF (simulated)"
        rows[-1]["sector_idx"], rows[-1]["sector_load"] = u["sector_idx"], lev * u["sector_load"]
    for _ in range(250):  # other plain ETFs
        sec = GICS_SECTORS[rng.integers(11)]
        row(_ticker(rng, taken), "ETF", "ETF", rng.uniform(20, 200), rng.uniform(0.6, 1.2), 0.0, 0.0,
            0.003, 0.0, np.exp(rng.normal(np.log(3e6), 1.5)), exch="ARCA")
        rows[-1]["sector_idx"], rows[-1]["sector_load"] = sector_idx[sec], rng.uniform(0.3, 1.0)

    special = _SHARE_CLASSES + _MALFORMED
    meta = pd.concat([pd.DataFrame(rows), _stock_rows(rng, n_stocks, special, taken)], ignore_index=True)
    n = len(meta)
    meta["listed"] = EPOCH - pd.to_timedelta(rng.integers(30, 9000, n), unit="D")
    ordinary = (meta["type"] == "stock").to_numpy() & ~meta["symbol"].isin(special).to_numpy()
    ipo = (rng.random(n) < 0.10) & ordinary
    meta.loc[ipo, "listed"] = EPOCH + pd.to_timedelta(rng.integers(60, 2900, ipo.sum()), unit="D")
    gone = (rng.random(n) < 0.06) & ordinary
    meta["delisted"] = pd.NaT
    meta.loc[gone, "delisted"] = meta.loc[gone, "listed"].clip(lower=EPOCH) + pd.to_timedelta(
        rng.integers(120, 2600, gone.sum()), unit="D")
    meta["ipo_after_epoch"] = ipo
    meta["halt_rate"] = np.where(meta["dollar_volume"] < 5e5, 0.01, 0.0008)
    return meta


@lru_cache(maxsize=4)
def _dividend_plan(seed: int, n_stocks: int) -> dict[str, np.ndarray]:
    """Who pays, from draws of their own (so no price changes): per listing the annual `yield` (0: none),
    `every` (months between payments: 3, or 1 for the bond ETFs), `cycle` (a payment month is one whose
    number minus `cycle` divides by `every`) and `nth` (the ex-date is that month's nth session, from 0)."""
    meta = _build_listings(seed, n_stocks)
    rng = np.random.default_rng([seed, 3])
    n = len(meta)
    symbol = meta["symbol"]
    ordinary = (meta["type"] == "stock").to_numpy() & ~symbol.isin(_SHARE_CLASSES + _MALFORMED).to_numpy()
    stock_yield = rng.uniform(0.01, 0.045, n)
    pays = ordinary & (meta["price0"].to_numpy() >= 5.0) & (rng.random(n) < 0.4)
    etf_yield = symbol.map(_ETF_YIELDS).fillna(0.0).to_numpy()
    sector_etf = symbol.isin(_SECTOR_ETFS).to_numpy()
    yearly = np.where(pays, stock_yield, etf_yield)
    yearly = np.where(sector_etf, rng.uniform(0.012, 0.035, n), yearly)
    every = np.where(symbol.isin(_MONTHLY_PAYERS).to_numpy(), 1, 3)
    return {"yield": yearly, "every": every, "cycle": rng.integers(0, 3, n), "nth": rng.integers(0, 15, n)}


def _dividends(plan: dict[str, np.ndarray], mdays: pd.DatetimeIndex, prev_close: np.ndarray) -> np.ndarray:
    """(T, n) cash per share on the month's ex-dates: the yield's share of the previous close as traded.
    `mdays` may stop before the month ends (the range asked for ends there): an ex-date after it is
    not paid yet, so a day's dividends never depend on the range asked for."""
    out = np.zeros(prev_close.shape)
    month = mdays[0].month
    paying = np.flatnonzero((plan["yield"] > 0) & ((month - plan["cycle"]) % plan["every"] == 0)
                            & (plan["nth"] < len(mdays)))
    t = plan["nth"][paying]
    share = plan["yield"][paying] * plan["every"][paying] / 12.0
    out[t, paying] = np.round(share * prev_close[t, paying], 4)
    return out


@lru_cache(maxsize=32)
def _month_block(seed: int, n: int, year: int, month: int) -> np.ndarray:
    """Random draws for one calendar month, one slot per day of the month (31, ROWS, n + 16)."""
    rng = np.random.default_rng([seed, 1, year, month])
    return rng.standard_normal((31, 8, n + 16), dtype=np.float32)


def _simulate_all(seed: int, n_stocks: int, end: pd.Timestamp):
    """Yield (sessions, bars dict) month by month from EPOCH to `end`, carrying the state across."""
    meta = _build_listings(seed, n_stocks)
    fund = _fundamentals(seed, n_stocks)
    n = len(meta)
    price0 = np.log(meta["price0"].to_numpy())
    beta_i, drift_i = meta["beta"].to_numpy(), meta["drift"].to_numpy()
    sector_idx, sector_load = meta["sector_idx"].to_numpy(), meta["sector_load"].to_numpy()
    bond_load, idio_vol = meta["bond_load"].to_numpy(), meta["idio_vol"].to_numpy()
    is_stock = (meta["type"] == "stock").to_numpy() | (meta["symbol"] == "VIXY").to_numpy()
    halt_rate = meta["halt_rate"].to_numpy()
    plan = _dividend_plan(seed, n_stocks)
    state = dict(v=1e-4, r=0.0, zi=np.zeros((1, n)), log_adj=price0.copy(), split_div=np.ones(n))
    omega, alpha, garch_beta = 1e-4 * 0.04, 0.09, 0.87
    days = nyse().sessions_in_range(EPOCH, end)
    for _, month in pd.Series(days, index=days).groupby([days.year, days.month]):
        mdays = pd.DatetimeIndex(month.to_numpy())
        block = _month_block(seed, n, mdays[0].year, mdays[0].month)
        d = block[mdays.day - 1].astype(np.float64)  # (T, 8, n+16)
        T = len(mdays)
        var, mret = np.empty(T), np.empty(T)
        for t in range(T):  # market factor: GARCH(1,1) with a long-run daily vol of 1%
            state["v"] = omega + alpha * state["r"] ** 2 + garch_beta * state["v"]
            var[t] = state["v"]
            state["r"] = np.sqrt(state["v"]) * d[t, 0, n]
            mret[t] = 0.0002 + state["r"]
        stress = np.sqrt(var) / 0.01
        sec_ret = 0.008 * d[:, 0, n + 1 : n + 12] * np.sqrt(stress)[:, None]
        bond = 0.004 * d[:, 0, n + 12]
        x, state["zi"] = lfilter([0.06], [1.0, -0.97], d[:, 1, :n], axis=0, zi=state["zi"])
        sigma = idio_vol * np.exp(x) * np.sqrt(stress)[:, None]
        eps = d[:, 0, :n] * np.where(d[:, 2, :n] > 1.75, 3.5, 1.0)  # fat tails: ~4% jump days
        sec_part = np.where(sector_idx >= 0, sec_ret[:, np.clip(sector_idx, 0, None)], 0.0) * sector_load
        signal = np.stack([_signal_for_day(fund, meta, day) for day in mdays])
        ret = drift_i + beta_i * mret[:, None] + sec_part + bond_load * bond[:, None] + sigma * (
            eps + KAPPA * signal)
        log_adj = state["log_adj"] + np.cumsum(ret, axis=0)
        log_prev = np.vstack([state["log_adj"][None, :], log_adj[:-1]])
        state["log_adj"] = log_adj[-1]

        # events: one uniform per name and day; halts at the bottom, splits at the top of its range
        u = ndtr(d[:, 3, :n])
        split_ratio = np.ones((T, n))
        divisor = np.empty((T, n))
        for t in range(T):  # splits are path-dependent: they follow the price as traded
            raw = np.exp(log_adj[t]) / state["split_div"]
            fwd = is_stock & (raw > 400) & (u[t] > 0.996)
            rev = is_stock & (raw < 0.8) & (u[t] > 0.998)
            if fwd.any() or rev.any():
                pick = np.array([2.0, 3.0, 4.0])[((u[t] - 0.996) * 750).astype(int).clip(0, 2)]
                split_ratio[t] = np.where(fwd, pick, np.where(rev, 0.1, 1.0))
                state["split_div"] = state["split_div"] * split_ratio[t]
            divisor[t] = state["split_div"]
        close = np.exp(log_adj) / divisor
        prev_close = np.exp(log_prev) / divisor  # yesterday's close in today's shares
        tot_vol = np.sqrt(sigma**2 + (beta_i * np.sqrt(var)[:, None]) ** 2)
        open_ = prev_close * np.exp(0.35 * ret + 0.15 * tot_vol * d[:, 4, :n])
        high = np.maximum(open_, close) * np.exp(0.5 * tot_vol * np.abs(d[:, 5, :n]))
        low = np.minimum(open_, close) * np.exp(-0.5 * tot_vol * np.abs(d[:, 6, :n]))
        dollar = meta["dollar_volume"].to_numpy() * np.exp(0.35 * d[:, 7, :n]) * (
            1.0 + 1.5 * np.abs(ret) / np.maximum(tot_vol, 1e-4))
        volume = np.floor(dollar / close)
        yield mdays, dict(open=open_, high=high, low=low, close=close, volume=volume, split_ratio=split_ratio,
                          dividend=_dividends(plan, mdays, prev_close), halted=u < halt_rate)


@lru_cache(maxsize=2)
def _simulate(seed: int, n_stocks: int, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Simulate from EPOCH to `end` and return the raw bars of sessions start..end."""
    if start < EPOCH:
        raise ValueError(
            f"the built-in market starts on {EPOCH:%Y-%m-%d}; bars from {start:%Y-%m-%d} were asked for "
            "(set TECHNIC_START_DATE later)"
        )
    meta = _build_listings(seed, n_stocks)
    listed = meta["listed"].to_numpy()
    delisted = meta["delisted"].to_numpy()
    symbols = meta["symbol"].to_numpy()
    frames = []
    for mdays, bars in _simulate_all(seed, n_stocks, end):
        keep = np.flatnonzero(mdays >= start)
        if len(keep) == 0:
            continue
        d64 = mdays[keep].to_numpy()[:, None]
        mask = (listed <= d64) & ~(delisted <= d64) & ~bars["halted"][keep]
        tt, ii = np.nonzero(mask)
        frame = {"date": mdays[keep][tt], "symbol": symbols[ii]}
        for col in ("open", "high", "low", "close"):
            frame[col] = bars[col][keep][tt, ii].round(4)
        frame["volume"] = bars["volume"][keep][tt, ii]
        frame["split_ratio"] = bars["split_ratio"][keep][tt, ii]
        frame["dividend"] = bars["dividend"][keep][tt, ii]
        frames.append(pd.DataFrame(frame))
    if not frames:
        return pd.DataFrame(columns=BAR_COLUMNS)
    return pd.concat(frames, ignore_index=True)[BAR_COLUMNS]


@lru_cache(maxsize=4)
def _fundamentals(seed: int, n_stocks: int) -> dict:
    """Every quarterly report of every stock, as a (quarter, symbol, field) table of days since 1970."""
    meta = _build_listings(seed, n_stocks)
    rng = np.random.default_rng([seed, 2])
    n = len(meta)
    ends = pd.date_range("2018-06-30", nyse().last_session + pd.Timedelta(days=1), freq="QE")
    Q = len(ends)
    years = ((ends - EPOCH).days / 365.25).to_numpy()[:, None]
    roe0 = rng.normal(0.12, 0.08, n)
    lev0 = np.exp(rng.normal(np.log(0.8), 0.6, n))
    g0 = rng.normal(0.06, 0.10, n)
    ey0 = rng.normal(0.05, 0.035, n)
    bp0 = np.exp(rng.normal(np.log(0.4), 0.5, n))
    fund_price = meta["price0"].to_numpy() * np.exp(g0 * years)  # a fundamental value per share
    lag = rng.integers(20, 61, (Q, n))
    published = (ends.to_numpy().astype("datetime64[D]").astype(np.int64)[:, None] + lag).astype(float)
    rev_growth = g0 + rng.normal(0, 0.05, (Q, n))
    table = np.stack([
        ends.to_numpy().astype("datetime64[D]").astype(np.int64)[:, None] + np.zeros((Q, n)),
        published,
        (ey0 + rng.normal(0, 0.006, (Q, n))) * fund_price,
        bp0 * fund_price * (1 + rng.normal(0, 0.02, (Q, n))),
        roe0 + rng.normal(0, 0.02, (Q, n)),
        lev0 * np.exp(rng.normal(0, 0.05, (Q, n))),
        rev_growth,
        1.5 * rev_growth + rng.normal(0, 0.08, (Q, n)),
        rng.standard_normal((Q, n)),
    ], axis=2)
    stock = (meta["type"] == "stock").to_numpy()
    return {"table": table[:, stock, :], "symbols": meta["symbol"].to_numpy()[stock],
            "stock_mask": stock, "ends": ends.to_numpy().astype("datetime64[D]").astype(np.int64),
            "published": published[:, stock]}


def _latest_report(fund: dict, day: pd.Timestamp, *, strictly_before: bool) -> np.ndarray:
    """Index of each stock's latest report published on/before (or strictly before) `day`, -1 if none."""
    d = np.datetime64(day.date(), "D").astype(np.int64)
    qa = np.searchsorted(fund["ends"], d, side="left") - 1  # last quarter that ended before day
    if qa < 0:
        return np.full(fund["published"].shape[1], -1)
    pub = fund["published"][qa]
    seen = pub < d if strictly_before else pub <= d
    return np.where(seen, qa, qa - 1)


def _signal_for_day(fund: dict, meta: pd.DataFrame, day: pd.Timestamp) -> np.ndarray:
    """Planted drift multiplier for every listing on `day`: surprise x decay, from reports before it."""
    q = _latest_report(fund, day, strictly_before=True)
    cols = np.arange(len(q))
    ok = q >= 0
    qq = np.where(ok, q, 0)
    sue = fund["table"][qq, cols, 8]
    age = np.datetime64(day.date(), "D").astype(np.int64) - fund["published"][qq, cols]
    out = np.zeros(len(meta))
    out[fund["stock_mask"]] = np.where(ok, sue * np.exp(-age / SIGNAL_DECAY_DAYS), 0.0)
    return out
