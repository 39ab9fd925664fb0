"""Factor scores: cross-sectional, winsorized, sector-neutral z-scores over the filtered universe.

Each factor averages the z-scores of its components; each component is winsorized at its 1st and 99th
percentiles, then standardized within its sector (sectors with fewer than MIN_SECTOR_SIZE names use
the whole universe's mean and deviation). The averaged factor is standardized again and clipped at
+-3. A symbol missing every component of a factor gets 0 for it (neutral), and the count is reported.

Fundamentals enter only as published on or before the scan date; per-share figures are put into the
scan date's share count with the splits since publication, so value is not distorted by a split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from technic_assets.core.days import as_days
from technic_assets.core.frames import by_day, days_of

FACTORS = ("momentum", "value", "quality", "growth", "trend", "volatility", "liquidity")
MIN_SECTOR_SIZE = 5
STYLES = ("swing", "medium", "position")

# component -> weight within its factor, per trade style
MOMENTUM = {
    "swing": {"roc_21": 0.3, "roc_63": 0.5, "roc_126": 0.2},
    "medium": {"ret_12_1": 0.4, "roc_126": 0.3, "roc_63": 0.3},
    "position": {"ret_12_1": 0.6, "roc_126": 0.4},
}
TREND = {
    "swing": {"px_sma20": 0.4, "sma20_sma50": 0.3, "macd_norm": 0.3},
    "medium": {"px_sma50": 0.4, "sma50_sma200": 0.4, "macd_norm": 0.2},
    "position": {"px_sma200": 0.5, "sma50_sma200": 0.5},
}
VOLATILITY = {"swing": "realized_vol_21", "medium": "realized_vol_63", "position": "realized_vol_63"}


def _columns(x) -> dict[str, np.ndarray]:
    """x's columns as float arrays (a Series: one, under its name; a dict of arrays: itself)."""
    if isinstance(x, dict):
        return x
    if isinstance(x, pd.Series):
        return {x.name: x.to_numpy(dtype=float)}
    return {c: x[c].to_numpy(dtype=float) for c in x.columns}


def _framed(columns: dict[str, np.ndarray], like):
    """Arrays back into x's shape (a Series or a DataFrame, and its index; a dict stays one)."""
    if isinstance(like, dict):
        return columns
    if isinstance(like, pd.Series):
        return pd.Series(next(iter(columns.values())), index=like.index, name=like.name)
    return pd.DataFrame(columns, index=like.index)


def _per_column(x: pd.DataFrame, how: str) -> pd.Series:
    """Each column's `how` as a Series computes it (a frame's own reduction may round differently)."""
    return pd.Series([getattr(x[c], how)() for c in x.columns], index=x.columns, dtype=float)


def winsorize(x, lower: float = 0.01, upper: float = 0.99, days=None):
    """x (a Series, or a DataFrame column by column) clipped at its lower and upper quantiles (per
    day: `days`, each row's date or core.days.Days)."""
    if days is None:
        q = x.quantile([lower, upper])
        if isinstance(x, pd.Series):
            return x.clip(q[lower], q[upper])
        return x.clip(q.loc[lower], q.loc[upper], axis=1)
    days = as_days(days)
    out = {}
    for c, v in _columns(x).items():
        low, high = days.quantile(v, lower), days.quantile(v, upper)
        out[c] = np.minimum(np.maximum(v, days.at(low)), days.at(high))
    return _framed(out, x)


def sector_zscore(x, sectors: pd.Series, days=None):
    """Standardize x within each sector (of each day); small sectors fall back to the universe's moments.
    x may be a DataFrame: every column at once, in one pass of each grouping (the same arithmetic as
    one call per column); with `days`, also a dict of arrays (returned as one)."""
    if days is None:
        x = winsorize(x.astype(float))
        grouped = x.groupby(sectors)
        size = grouped.transform("count")
        mean = grouped.transform("mean").where(size >= MIN_SECTOR_SIZE, _whole(x, "mean"))
        std = grouped.transform("std").where(size >= MIN_SECTOR_SIZE, _whole(x, "std"))
        return (x - mean) / std.replace(0.0, np.nan)
    days = as_days(days)
    groups = days.within(sectors)
    alone = groups.code < 0  # no sector
    out = {}
    for c, v in _columns(winsorize(x, days=days)).items():
        size, mean, std = groups.moments(v)
        _, day_mean, day_std = days.moments(v)
        big = size >= MIN_SECTOR_SIZE  # a small sector takes its day's moments, and so does a row in none
        mean = groups.at(np.where(big, mean, day_mean[groups.day]))
        std = groups.at(np.where(big, std, day_std[groups.day]))
        if alone.any():
            mean[alone], std[alone] = day_mean[days.code[alone]], day_std[days.code[alone]]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[c] = (v - mean) / np.where(std == 0.0, np.nan, std)
    return _framed(out, x)


def _whole(x, how: str):
    """x's `how` ("mean", "std") over the whole cross-section, as x's shape (a Series: one number)."""
    if isinstance(x, pd.Series):
        return getattr(x, how)()
    whole = _per_column(x, how)  # one value per column, repeated down the rows
    return pd.DataFrame(np.broadcast_to(whole.to_numpy(), x.shape), index=x.index, columns=x.columns)


def standardize(x, days=None):
    """(x - mean) / std over the cross-section (of each day); 0 where the deviation is 0 or undefined.
    x may be a DataFrame: each column on its own, in one pass."""
    if days is not None:  # as below, per day: x * 0.0 (NaN stays NaN) where the deviation is unusable
        days = as_days(days)
        if days.starts is not None:  # each day's rows in a row: one compiled pass a column
            from technic_assets.core.kernels import day_standardize

            return _framed({c: day_standardize(v, days.bounds) for c, v in _columns(x).items()}, x)
        out = {}
        for c, v in _columns(x).items():
            _, mean, std = days.moments(v)
            std = days.at(std)
            ok = np.isfinite(std) & (std > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[c] = np.where(ok, (v - days.at(mean)) / std, v * 0.0)
        return _framed(out, x)
    if isinstance(x, pd.DataFrame):
        std = _per_column(x, "std")
        ok = (std.notna() & np.isfinite(std) & (std > 0)).to_numpy()
        scaled = (x - _per_column(x, "mean")) / std.where(ok, 1.0)
        return scaled.where(np.broadcast_to(ok, x.shape), x * 0.0)
    std = x.std()
    return (x - x.mean()) / std if std and np.isfinite(std) and std > 0 else x * 0.0


def splits_since(split_rows: pd.DataFrame, published: pd.Series) -> pd.Series:
    """Per symbol, the product of split ratios strictly after its report's publication date."""
    events = split_rows[split_rows["split_ratio"] != 1.0]
    if events.empty:
        return pd.Series(1.0, index=published.index)
    events = events.merge(published.rename("published").reset_index(), on="symbol", how="inner")
    after = events[events["date"] > events["published"]]
    return after.groupby("symbol")["split_ratio"].prod().reindex(published.index).fillna(1.0)


def factor_panel(filtered: pd.DataFrame, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
                 split_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per filtered symbol: sector, indicators, its latest report and splits since that report."""
    drop = [c for c in ("date",) if c in indicators.columns]
    panel = (filtered[["symbol", "sector"]]
             .merge(indicators.drop(columns=drop), on="symbol", how="left")
             .merge(fundamentals.drop(columns=[c for c in ("date",) if c in fundamentals.columns]),
                    on="symbol", how="left"))
    published = panel.set_index("symbol")["published"]
    panel["split_factor_since_report"] = splits_since(split_rows, published).reindex(panel["symbol"]).to_numpy()
    return panel


def raw_components(panel: pd.DataFrame) -> pd.DataFrame:
    """Per-symbol raw measures from indicators and point-in-time fundamentals (already merged)."""
    c = panel["close"]
    split_since = panel.get("split_factor_since_report", pd.Series(1.0, index=panel.index)).fillna(1.0)
    eps = panel["eps_ttm"] / split_since
    bvps = panel["book_value_per_share"] / split_since
    return pd.DataFrame({
        "roc_21": panel["roc_21"], "roc_63": panel["roc_63"], "roc_126": panel["roc_126"],
        "ret_12_1": panel["ret_12_1"],
        "earnings_yield": eps / c, "book_to_price": bvps / c,
        "roe": panel["roe"], "low_leverage": -panel["debt_to_equity"],
        "revenue_growth": panel["revenue_growth"], "eps_growth": panel["eps_growth"],
        "px_sma20": c / panel["sma_20"] - 1, "sma20_sma50": panel["sma_20"] / panel["sma_50"] - 1,
        "px_sma50": c / panel["sma_50"] - 1, "sma50_sma200": panel["sma_50"] / panel["sma_200"] - 1,
        "px_sma200": c / panel["sma_200"] - 1, "macd_norm": panel["macd_hist"] / c,
        "realized_vol_21": panel["realized_vol_21"], "realized_vol_63": panel["realized_vol_63"],
        "log_adv": np.log(panel["adv_20"].where(panel["adv_20"] > 0)),
    }, index=panel.index)


def factor_weights(style: str) -> dict[str, dict[str, float]]:
    """Components and their signs/weights for every factor under a trade style."""
    if style not in STYLES:
        raise ValueError(f"unknown trade style {style!r}; choose one of {', '.join(STYLES)}")
    return {
        "momentum": MOMENTUM[style],
        "value": {"earnings_yield": 0.5, "book_to_price": 0.5},
        "quality": {"roe": 0.6, "low_leverage": 0.4},
        "growth": {"revenue_growth": 0.5, "eps_growth": 0.5},
        "trend": TREND[style],
        "volatility": {VOLATILITY[style]: -1.0},  # low volatility scores high
        "liquidity": {"log_adv": 1.0},
    }


def components(style: str) -> list[str]:
    """The raw components a style's factors read (raw_components' columns), each once."""
    return list(dict.fromkeys(name for comps in factor_weights(style).values() for name in comps))


def compute_factors(panel: pd.DataFrame, style: str, by_day: bool = False, raw: pd.DataFrame | None = None,
                    days=None, rows: np.ndarray | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Factor z-scores per symbol (columns FACTORS) and how many were missing and set to 0. With
    `by_day`, the panel holds several days (a `date` column) and each day is its own cross-section:
    the same arithmetic as one call per day, in one pass (a backfill's way); `days` (each row's date,
    or core.days.Days) does the same without a date column. `raw` is raw_components(panel) where the
    caller has it already (a live server computes it once for every listing and screens subsets of it):
    only its `components(style)` are read; `rows`: raw's row of each panel row where raw holds more
    rows (a re-screen's every listing: the kept ones are read in place, not copied)."""
    weights = factor_weights(style)
    raw = raw_components(panel) if raw is None else raw
    sectors = panel["sector"]
    days = as_days(panel["date"] if by_day and days is None else days)
    if rows is not None and (days is None or days.starts is None):
        raw = raw.iloc[rows].reset_index(drop=True)  # the compiled pass alone reads rows in place
        rows = None
    used = components(style)
    if days is not None and days.starts is not None and len(panel):  # stacked day by day: one compiled pass
        from technic_assets.core.kernels import factor_days

        if isinstance(sectors.dtype, pd.CategoricalDtype):  # coded already (core.screen_days): no hashing
            code, kinds = sectors.cat.codes.to_numpy(), sectors.cat.categories
        else:
            code, kinds = pd.factorize(np.asarray(sectors, dtype=object))
        table = np.array([[comps.get(c, 0.0) for c in used] for comps in weights.values()])
        matrix = raw.to_numpy(dtype=float).T  # components x rows: a view of a frame of one float block
        z, missing = factor_days(matrix, raw.columns.get_indexer(used),
                                 np.arange(len(panel)) if rows is None else rows, days.bounds,
                                 code, len(kinds), table, MIN_SECTOR_SIZE)
        return (pd.DataFrame(dict(zip(weights, z)), index=panel.index, copy=False),
                {factor: int(n) for factor, n in zip(weights, missing)})
    # every component in one pass (many days: as arrays, not a copied frame)
    z_all = sector_zscore(raw[used] if days is None else {c: raw[c].to_numpy(dtype=float) for c in used}, sectors, days)
    combined = np.empty((len(panel), len(weights)))
    for k, comps in enumerate(weights.values()):
        # the weighted components' sum over those present, divided by the present weights (in numpy:
        # the same left-to-right sums as pandas' row sums, without a frame per factor)
        zs = np.column_stack([np.asarray(z_all[c]) for c in comps]) * np.array(list(comps.values()))
        there = ~np.isnan(zs)
        present = (there * np.abs(np.array(list(comps.values())))).sum(axis=1)
        total = np.where(there.any(axis=1), np.where(there, zs, 0.0).sum(axis=1), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            combined[:, k] = total / np.where(present > 0, present, np.nan)
    missing = {factor: int(n) for factor, n in zip(weights, np.isnan(combined).sum(axis=0))}
    if days is None:
        combined = standardize(pd.DataFrame(combined, index=panel.index, columns=list(weights)))
        return combined.clip(-3, 3).fillna(0.0), missing
    out = {f: np.nan_to_num(np.clip(v, -3, 3), nan=0.0) for f, v in
           _columns(standardize(pd.DataFrame(combined, index=panel.index, columns=list(weights)), days)).items()}
    return pd.DataFrame(out, index=panel.index), missing


def factors_for_days(kept: pd.DataFrame, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
                     split_rows: pd.DataFrame, style: str, groups: dict | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Factor z-scores of each day's filtered universe (date, symbol, sector, realized_vol_63, adv_20,
    FACTORS), each day its own cross-section; `split_rows` (date, symbol, split_ratio) may reach past
    the days, only those up to each day count. `groups` (day -> a function of (sector, symbol) giving
    the group each name is neutralized in: core.peers' peer groups) replaces the sector as the
    grouping, not in the output. Returns (the frame, missing per factor)."""
    days = days_of(kept)
    parts = {name: by_day(frame, days) for name, frame in
             (("kept", kept), ("ind", indicators), ("fund", fundamentals))}
    splits = split_rows[split_rows["split_ratio"] != 1.0]
    panels = []
    for day in days:
        panel = factor_panel(parts["kept"][day], parts["ind"][day], parts["fund"][day], splits[splits["date"] <= day])
        panel.insert(0, "date", day)
        panels.append(panel)
    panel = pd.concat(panels, ignore_index=True)
    grouped = panel
    if groups:
        grouped = pd.concat([groups[day](p["sector"], p["symbol"]) for day, p in panel.groupby("date", sort=False)])
        grouped = panel.assign(sector=grouped.reindex(panel.index))
    z, missing = compute_factors(grouped, style, by_day=len(days) > 1)
    return pd.concat([panel[["date", "symbol", "sector", "realized_vol_63", "adv_20"]], z], axis=1), missing
