"""What the alpha models see and what they learn to predict.

Features (FEATURES) are scale-free, so a split between the signal day and the day a history was
adjusted to cannot change them: returns, ratios of price to its averages, oscillators, volatility,
dollar volume, and the latest report's growth, profitability, leverage, earnings surprise and age.
They are computed by one function, `feature_matrix`, from the same indicator definitions the daily
scan uses (`core.indicators.indicator_arrays`): on one day's indicators for scoring, and on a history
panel of every (day, symbol) for training, so training and scoring cannot drift apart.

Labels: the h-session forward return from the signal day's close to the close h sessions later (the
return starts the day after the signal day), minus that day's median over the training universe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.adjust import split_adjust, split_factors, unverified_split_positions, windows_holding
from technic_assets.core.indicators import INDICATOR_COLUMNS, LOOKBACK, indicator_arrays
from technic_assets.core.universe_filter import FilterSettings, is_valid_ticker

HORIZONS = (5, 10)
FEATURES = (
    "roc_21", "roc_63", "roc_126", "ret_12_1", "rsi_14", "adx_14", "px_sma20", "px_sma50", "px_sma200",
    "macd_norm", "bb_position", "atr_pct", "realized_vol_21", "realized_vol_63", "log_adv", "price_cv_63",
    "earnings_surprise", "days_since_report", "eps_growth", "revenue_growth", "roe", "debt_to_equity",
)
REPORT_COLUMNS = ("published", "earnings_surprise", "eps_growth", "revenue_growth", "roe", "debt_to_equity")
# indicator columns the features need, in the panel (float32 there: 4.8M rows x 2 years fit in memory)
PANEL_INDICATORS = ("close", "sma_20", "sma_50", "sma_200", "rsi_14", "macd_hist", "atr_14", "adx_14",
                    "bb_upper", "bb_lower", "roc_21", "roc_63", "roc_126", "ret_12_1", "realized_vol_21",
                    "realized_vol_63", "adv_20", "price_cv_63")


def feature_matrix(rows: pd.DataFrame) -> pd.DataFrame:
    """FEATURES (float32) from rows holding `date`, the PANEL_INDICATORS and the REPORT_COLUMNS."""
    c = rows["close"]
    width = rows["bb_upper"] - rows["bb_lower"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = pd.DataFrame({
            "roc_21": rows["roc_21"], "roc_63": rows["roc_63"], "roc_126": rows["roc_126"],
            "ret_12_1": rows["ret_12_1"], "rsi_14": rows["rsi_14"], "adx_14": rows["adx_14"],
            "px_sma20": c / rows["sma_20"] - 1, "px_sma50": c / rows["sma_50"] - 1,
            "px_sma200": c / rows["sma_200"] - 1, "macd_norm": rows["macd_hist"] / c,
            "bb_position": (c - rows["bb_lower"]) / width.where(width > 0),
            "atr_pct": rows["atr_14"] / c,
            "realized_vol_21": rows["realized_vol_21"], "realized_vol_63": rows["realized_vol_63"],
            "log_adv": np.log(rows["adv_20"].where(rows["adv_20"] > 0)),
            "price_cv_63": rows["price_cv_63"],
            "earnings_surprise": rows["earnings_surprise"],
            "days_since_report": (pd.to_datetime(rows["date"]) - pd.to_datetime(rows["published"])).dt.days,
            "eps_growth": rows["eps_growth"], "revenue_growth": rows["revenue_growth"],
            "roe": rows["roe"], "debt_to_equity": rows["debt_to_equity"],
        }, index=rows.index)
    return out.astype(np.float32).replace([np.inf, -np.inf], np.nan)


def features_for_day(day: pd.Timestamp, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
                     symbols: pd.Series) -> pd.DataFrame:
    """One scan day's features for `symbols`, from its indicators and point-in-time fundamentals."""
    rows = (pd.DataFrame({"date": pd.Timestamp(day), "symbol": symbols.to_numpy()})
            .merge(indicators, on="symbol", how="left")
            .merge(fundamentals[["symbol", *REPORT_COLUMNS]], on="symbol", how="left"))
    return feature_matrix(rows).set_index(rows["symbol"])


def indicator_panel(bars: pd.DataFrame, sessions: pd.DatetimeIndex) -> pd.DataFrame:
    """Indicators on every bar of every symbol of raw bars covering `sessions`, with the forward closes
    the labels need. Columns: date, symbol, n_bars (bars in the LOOKBACK sessions ending on the day, as
    the daily scan counts them), close_as_traded, split_unverified (the row's window or label spans a split
    its price gap contradicts: not trained on), PANEL_INDICATORS, close_fwd_<h> for each horizon.

    Prices are adjusted as of the last session given; every feature is scale-free, and the as-traded
    close (for the price filter) multiplies the later splits back in.
    """
    raw = bars.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    adj = split_adjust(raw)
    codes = pd.factorize(raw["symbol"], sort=True)[0]
    as_traded = adj["close"].to_numpy() * split_factors(codes, raw["split_ratio"].to_numpy())
    unverified = unverified_split_positions(raw, codes)
    suspect = np.zeros(len(adj), dtype=bool)
    session_index = sessions.get_indexer(pd.DatetimeIndex(adj["date"]))
    wanted = [INDICATOR_COLUMNS.index(c) for c in PANEL_INDICATORS]
    n = len(adj)
    values = np.full((n, len(PANEL_INDICATORS)), np.nan, dtype=np.float32)
    fwd = {h: np.full(n, np.nan, dtype=np.float32) for h in HORIZONS}
    n_bars = np.zeros(n, dtype=np.int32)
    cols = [np.ascontiguousarray(adj[c].to_numpy(dtype=np.float64)) for c in ("open", "high", "low", "close", "volume")]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ends = np.r_[starts[1:], n]
    with np.errstate(all="ignore"):
        for s, e in zip(starts, ends):
            arrays = indicator_arrays(*(a[s:e] for a in cols))
            values[s:e] = np.column_stack([arrays[i] for i in wanted])
            idx = session_index[s:e]
            n_bars[s:e] = np.arange(e - s) - np.searchsorted(idx, idx - (LOOKBACK - 1)) + 1
            close = cols[3][s:e]
            for h, out in fwd.items():
                j = np.searchsorted(idx, idx + h)
                ok = j < len(idx)
                hit = np.zeros(len(idx), dtype=bool)
                hit[ok] = idx[j[ok]] == idx[ok] + h  # the symbol traded exactly h sessions later
                out[s:e][hit] = close[j[hit]]
            # the row's window or its label spans a split its price gap contradicts
            first = np.searchsorted(idx, idx - (LOOKBACK - 1))
            last = np.searchsorted(idx, idx + max(HORIZONS), side="right") - 1
            suspect[s:e] = windows_holding(unverified, s, e, first, last)
    panel = pd.DataFrame(values, columns=list(PANEL_INDICATORS))
    panel.insert(0, "date", adj["date"].to_numpy())
    panel.insert(1, "symbol", adj["symbol"].to_numpy())
    panel.insert(2, "n_bars", n_bars)
    panel.insert(3, "close_as_traded", as_traded.astype(np.float32))
    panel.insert(4, "split_unverified", suspect)
    for h, out in fwd.items():
        panel[f"close_fwd_{h}"] = out
    return panel


def training_rows(panel: pd.DataFrame, reports: pd.DataFrame, kinds: pd.DataFrame,
                  settings: FilterSettings = FilterSettings()) -> pd.DataFrame:
    """The panel rows a model learns from, with FEATURES and the excess-return labels `label_<h>`.

    The universe is the daily filter's price, volume, history and volatility rules on as-traded
    figures, over common stocks with valid tickers (ETFs and leveraged products known from `kinds`,
    symbol -> type/is_leveraged, are left out; symbols never seen in a universe, such as delisted
    ones, are kept, so delisted names do not vanish from history). Reports are joined as of each day
    on `known_from`.
    """
    p = panel
    keep = (~p["split_unverified"] & (p["n_bars"] >= settings.min_history) & (p["close_as_traded"] >= settings.min_price)
            & (p["adv_20"] >= settings.min_dollar_volume) & (p["price_cv_63"] <= settings.max_price_cv))
    if settings.max_price:
        keep &= p["close_as_traded"] <= settings.max_price
    not_stock = kinds.loc[(kinds["type"] != "stock") | kinds["is_leveraged"].fillna(False).astype(bool), "symbol"]
    symbols = pd.Series(p["symbol"].unique())
    valid = symbols[symbols.map(is_valid_ticker) & ~symbols.isin(not_stock)]
    rows = p[keep & p["symbol"].isin(valid)]
    rows = pd.merge_asof(
        rows.sort_values("date"),
        reports.sort_values("known_from")[["symbol", "known_from", *REPORT_COLUMNS]],
        left_on="date", right_on="known_from", by="symbol", direction="backward",
    )
    out = pd.concat([rows[["date", "symbol"]], feature_matrix(rows)], axis=1)
    for h in HORIZONS:
        fwd = rows[f"close_fwd_{h}"] / rows["close"] - 1.0
        out[f"label_{h}"] = (fwd - fwd.groupby(rows["date"]).transform("median")).astype(np.float32)
    return out.sort_values(["date", "symbol"]).reset_index(drop=True)
