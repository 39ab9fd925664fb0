"""ICS, MERIT and the ranking, with the arithmetic spelled out so every pick can be explained.

ICS (Institutional Core Score, 0-100)
    composite = sum_k w[style][k] * z_k over the seven factor z-scores (ICS_WEIGHTS);
    ICS = 100 * Phi(composite / std(composite)), Phi the standard normal CDF. 50 is the average name.

MERIT (0-100)
    The same blend with the weights tilted by the regime (REGIME_TILT: risk-off moves 0.10 of weight
    from momentum to quality and 0.10 to low volatility; risk-on moves 0.05 from low volatility to
    momentum), mapped to 0-100 the same way, minus risk penalties in points:
      volatility: 20 * (realized_vol_63 - 0.40), between 0 and 15 (none below 40% a year)
      liquidity:  5 * log10(20M / adv_20), between 0 and 10 (none above $20M a day)
    clipped to 0-100. Beside it, so that picks can be told apart: `merit_raw`, the blend in deviations
    of the day (before the 0-100 map and the penalties), and `merit_pct`, MERIT's percentile in the
    day's cross-section (100 * rank / n, ties averaged: the best name is 100).
    Switches (ScanSettings): `regime_tilt` off uses the style's weights in every regime; `risk_penalties`
    off subtracts none. `ranking: learned` replaces the weights by the month's learned blend over
    core.blend's BLEND_TERMS (the factors, the alpha z-score, two short-horizon effects); the tilt does
    not apply to it.
    With alpha models (ALPHA_WEIGHT, the alpha resource's `weight`, default 0.35): the factor blend
    is standardized and weighted 1 - w, the alpha z-score (the mean of the standardized 5- and 10-day
    forecasts, standardized again, clipped at +-3; 0 where a forecast is missing) weighted w. Before
    any model exists the factor blend alone is used, and the merit asset says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from technic_assets.core.blend import BLEND_TERMS, blend_terms
from technic_assets.core.days import as_days
from technic_assets.core.factors import FACTORS, standardize
from technic_assets.core.frames import by_day, days_of

ALPHA_WEIGHT = 0.35
TERMS = BLEND_TERMS  # the seven factors, alpha, and the learned blend's short-horizon terms

ICS_WEIGHTS = {
    "swing": {"momentum": 0.30, "trend": 0.25, "volatility": 0.10, "liquidity": 0.15, "value": 0.05,
              "quality": 0.10, "growth": 0.05},
    "medium": {"momentum": 0.25, "trend": 0.15, "value": 0.15, "quality": 0.20, "growth": 0.10,
               "volatility": 0.10, "liquidity": 0.05},
    "position": {"momentum": 0.20, "trend": 0.10, "value": 0.20, "quality": 0.25, "growth": 0.15,
                 "volatility": 0.10, "liquidity": 0.00},
}
REGIME_TILT = {
    "risk_off": {"momentum": -0.20, "quality": +0.10, "volatility": +0.10},
    "risk_on": {"volatility": -0.05, "momentum": +0.05},
    "neutral": {},
}


def _scaled(x: pd.Series, days=None) -> pd.Series:
    """x / std(x) over the cross-section (of each day); x * 0.0 where the deviation is unusable."""
    if days is None:
        std = x.std()
        return x / std if std and np.isfinite(std) and std > 0 else x * 0.0
    days, v = as_days(days), x.to_numpy(dtype=float)
    std = days.at(days.std(v))
    ok = np.isfinite(std) & (std > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.Series(np.where(ok, v / std, v * 0.0), index=x.index)


def _to_score(composite: pd.Series, days=None) -> pd.Series:
    return pd.Series(100.0 * ndtr(_scaled(composite, days).to_numpy()), index=composite.index)


def contributions(factors: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    return _frame({f: factors[f].to_numpy(dtype=float) * weights.get(f, 0.0) for f in FACTORS}, factors.index)


def _frame(columns: dict, index) -> pd.DataFrame:
    """A frame of these arrays as they are (a many-day panel's columns are not copied into one block)."""
    return pd.DataFrame(columns, index=index, copy=False)


def _row_sum(frame: pd.DataFrame) -> pd.Series:
    """Each row's sum over the columns, left to right, NaN as 0 (a frame's sum(axis=1), column by column)."""
    total = np.zeros(len(frame))
    for c in frame.columns:
        v = frame[c].to_numpy(dtype=float)
        total = total + np.where(np.isnan(v), 0.0, v)
    return pd.Series(total, index=frame.index)


def ics_score(factors: pd.DataFrame, style: str, days=None, detail: bool = True) -> pd.DataFrame:
    """ICS per symbol, with each factor's weighted contribution (columns contrib_<factor>); with `days`
    (each row's date, or core.days.Days), of many days' cross-sections at once. Without `detail`, only
    ics_score: for many days' rows stacked by day, MERIT's compiled blend with the ICS weights, no
    penalty and no alpha (ICS is MERIT before them, 100 Phi(blend / its deviation))."""
    days = as_days(days)
    if days is not None and days.starts is not None and not detail and len(factors):
        from technic_assets.core.kernels import merit_days

        weights = np.array([[ICS_WEIGHTS[style].get(f, 0.0) for f in FACTORS]] * len(days.starts))
        score = merit_days([factors[f].to_numpy(dtype=float) for f in FACTORS], weights,
                           days.bounds, np.zeros(0), np.zeros(0), penalties=False)
        return _frame({"ics_score": score}, factors.index)
    contrib = contributions(factors, ICS_WEIGHTS[style])
    return _frame({"ics_score": _to_score(_row_sum(contrib), days).to_numpy(),
                   **{f"contrib_{f}": contrib[f].to_numpy() for f in contrib.columns}}, factors.index)


def merit_weights(style: str, risk: str) -> dict[str, float]:
    tilted = dict(ICS_WEIGHTS[style])
    for factor, delta in REGIME_TILT.get(risk, {}).items():
        tilted[factor] = max(0.0, tilted[factor] + delta)
    return tilted


def risk_penalties(realized_vol: pd.Series, adv: pd.Series) -> pd.DataFrame:
    vol_pen = (20.0 * (realized_vol - 0.40)).clip(0.0, 15.0).fillna(0.0)
    liq_pen = (5.0 * np.log10(20e6 / adv.where(adv > 0))).clip(0.0, 10.0).fillna(10.0)
    return pd.DataFrame({"volatility_penalty": vol_pen, "liquidity_penalty": liq_pen})


def alpha_signal(forecasts: pd.DataFrame, days=None) -> pd.Series:
    """One alpha z-score per symbol from the alpha_5d and alpha_10d columns (NaN where neither); with
    `days` (each row's date, or core.days.Days), each day standardized on its own."""
    days = as_days(days)
    parts = [standardize(forecasts[c], days) for c in ("alpha_5d", "alpha_10d")]
    if days is None:
        return standardize(pd.concat(parts, axis=1).mean(axis=1), days).clip(-3, 3)
    # as above, a row's mean of the two (NaN skipped) from the arrays: a frame's row mean costs more
    a, b = (p.to_numpy(dtype=float) for p in parts)
    with np.errstate(invalid="ignore"):
        mean = np.where(np.isnan(a), b, np.where(np.isnan(b), a, (a + b) / 2.0))
    return standardize(pd.Series(mean, index=forecasts.index), days).clip(-3, 3)


def _merit_contributions(factors: pd.DataFrame, style: str, risk) -> pd.DataFrame:
    """contributions() under merit_weights; `risk` one state, or each row's (a Series: many days)."""
    if isinstance(risk, str):
        return contributions(factors, merit_weights(style, risk))
    code, states = pd.factorize(np.asarray(risk, dtype=object))  # a few states: each row's weight by its code
    weights = [merit_weights(style, r) for r in states]
    return _frame({f: factors[f].to_numpy(dtype=float) * np.array([w.get(f, 0.0) for w in weights])[code]
                   for f in FACTORS}, factors.index)


def merit_score(factors: pd.DataFrame, realized_vol: pd.Series, adv: pd.Series, style: str,
                risk, alpha: pd.Series | None = None, alpha_weight: float = ALPHA_WEIGHT, *,
                learned=None, terms: pd.DataFrame | None = None,
                tilt: bool = True, penalties: bool = True, days=None, detail: bool = True) -> pd.DataFrame:
    """MERIT per symbol with its contributions (merit_contrib_<term>), penalties, merit_raw and
    merit_pct. With `learned` (weights by BLEND_TERMS) and `terms` (core.blend.blend_terms of the day)
    the learned blend replaces the hand weights. With `days` (each row's date, or core.days.Days), many
    days' cross-sections at once: `risk` is then each row's regime (a Series), `learned` a frame of each
    day's weights (indexed by date) or of each row's (or None), and a day without any alpha value is
    blended without alpha, as one day's call would be. Without `detail`, only merit_score (a ranking of many days reads nothing else)."""
    days = as_days(days)
    if days is not None and learned is not None and isinstance(learned.index, pd.DatetimeIndex):
        if days.starts is not None and not detail and len(factors):  # each row's day's: its first row's
            learned = learned.reindex(days.unique).set_axis(factors.index[days.starts])
        else:
            learned = pd.DataFrame(learned.reindex(days.unique).to_numpy(dtype=float)[days.code],
                                   index=factors.index, columns=learned.columns)
    if days is not None and days.starts is not None and not detail and len(factors):
        return _frame({"merit_score": _merit_days(factors, realized_vol, adv, style, risk, alpha, alpha_weight, learned,
                                                  terms, tilt, penalties, days)}, factors.index)
    if learned is not None:
        contrib = _frame({t: terms[t].to_numpy(dtype=float) * np.asarray(learned.get(t, 0.0), dtype=float)
                          for t in TERMS}, factors.index)
    else:
        contrib = _merit_contributions(factors, style, risk if tilt else "neutral")
        for t in TERMS[len(FACTORS):]:
            contrib[t] = 0.0
        if alpha is not None and alpha.notna().any() and alpha_weight > 0 and days is None:
            spread = _row_sum(contrib).std()
            if spread and np.isfinite(spread) and spread > 0:
                contrib = contrib * (1.0 - alpha_weight) / spread
            contrib["alpha"] = alpha_weight * alpha.reindex(factors.index).fillna(0.0)
        elif alpha is not None and alpha.notna().any() and alpha_weight > 0:
            # as above, per day; a day without any alpha value is blended without it (alpha None)
            alpha = alpha.reindex(factors.index).to_numpy(dtype=float)
            some = days.at(days.count(alpha)) > 0
            spread = days.at(days.std(_row_sum(contrib).to_numpy()))
            scale = np.isfinite(spread) & (spread > 0) & some
            times, over = np.where(scale, 1.0 - alpha_weight, 1.0), np.where(scale, spread, 1.0)
            contrib = _frame({t: contrib[t].to_numpy() * times / over for t in contrib.columns},  # as above
                             factors.index)
            contrib["alpha"] = np.where(some, alpha_weight * np.nan_to_num(alpha, nan=0.0), 0.0)
    blend = _row_sum(contrib)
    base = _to_score(blend, days)
    pen = risk_penalties(realized_vol, adv)
    if not penalties:
        pen = pen * 0.0
    merit = (base - pen["volatility_penalty"] - pen["liquidity_penalty"]).clip(0.0, 100.0)
    if not detail:
        return _frame({"merit_score": merit.to_numpy()}, factors.index)
    raw = _scaled(blend, days)
    if days is None:
        ranked = merit.rank(method="average", pct=True)
    else:
        m = merit.to_numpy(dtype=float)
        ranked = pd.Series(days.ranks(m) / days.at(days.count(m)), index=merit.index)
    return _frame({"merit_score": merit.to_numpy(), "merit_base": base.to_numpy(), "merit_raw": raw.to_numpy(),
                   "merit_pct": 100.0 * ranked.to_numpy(), **{c: pen[c].to_numpy() for c in pen.columns},
                   **{f"merit_contrib_{t}": contrib[t].to_numpy() for t in contrib.columns}}, factors.index)


def _merit_days(factors, realized_vol, adv, style, risk, alpha, alpha_weight, learned, terms, tilt, penalties,
                days) -> np.ndarray:
    """merit_score's MERIT of many days' rows stacked day by day, in one compiled pass (core.kernels):
    each day's weights (its regime's, or its learned ones) as a row of a days x terms table."""
    from technic_assets.core.kernels import merit_days

    first = days.starts
    if learned is not None:
        columns = [terms[t].to_numpy(dtype=float) for t in TERMS]
        rows = first if len(learned) == len(factors) else slice(None)  # each row's, or each day's already
        weights = np.column_stack([np.asarray(learned[t], dtype=float)[rows] if t in learned else
                                   np.zeros(len(first)) for t in TERMS])
        given = None  # alpha is one of the learned blend's terms
    else:
        columns = [factors[f].to_numpy(dtype=float) for f in FACTORS]
        states = np.asarray(risk, dtype=object)[first] if tilt and not isinstance(risk, str) else \
            np.full(len(first), risk if tilt else "neutral", dtype=object)
        weights = np.array([[merit_weights(style, r).get(f, 0.0) for f in FACTORS] for r in states])
        weights = weights.reshape(len(first), len(FACTORS))
        given = None  # blended only where some day has a value, as merit_score's hand path
        if alpha is not None and alpha_weight > 0:
            given = alpha.reindex(factors.index).to_numpy(dtype=float)
            given = given if not np.isnan(given).all() else None
    return merit_days(columns, weights, days.bounds, realized_vol.to_numpy(dtype=float),
                      adv.to_numpy(dtype=float), penalties=penalties, alpha=given, alpha_weight=alpha_weight)


def _reason(contributions, penalty: float, top: int = 3) -> str:
    parts = sorted(zip(TERMS, contributions), key=lambda kv: -abs(kv[1]))[:top]
    text = ", ".join(f"{f} {v:+.2f}" for f, v in parts)
    return f"{text}; risk penalty -{penalty:.1f}" if penalty >= 0.05 else text


def explain(row: pd.Series, top: int = 3) -> str:
    """Name the largest contributions to a symbol's MERIT, e.g. 'momentum +0.52, quality +0.31; risk -3.0'."""
    return _reason([row[f"merit_contrib_{f}"] for f in TERMS], row["volatility_penalty"] + row["liquidity_penalty"],
                   top)


def reasons(scored: pd.DataFrame) -> list[str]:
    """`explain` of every row, from the columns' arrays (a row Series each costs more than the text)."""
    contributions = scored[[f"merit_contrib_{f}" for f in TERMS]].to_numpy(dtype=float)
    penalty = scored["volatility_penalty"].to_numpy(dtype=float) + scored["liquidity_penalty"].to_numpy(dtype=float)
    return [_reason(c.tolist(), float(p)) for c, p in zip(contributions, penalty)]


def rank_top_n(scored: pd.DataFrame, n: int) -> pd.DataFrame:
    """The n best by MERIT (ties broken by ICS, then symbol), ranked 1..n, with reasons."""
    ordered = scored.sort_values(["merit_score", "ics_score", "symbol"], ascending=[False, False, True])
    top = ordered.head(n).copy()
    top.insert(0, "rank", np.arange(1, len(top) + 1))
    top["reasons"] = reasons(top) if len(top) else pd.Series(dtype=object)
    return top.reset_index(drop=True)


def ics_for_days(factors: pd.DataFrame, style: str) -> pd.DataFrame:
    """ICS of each day's cross-section: date, symbol, ics_score, contrib_<factor>."""
    frames = [ics_score(f.set_index("symbol")[list(FACTORS)], style).reset_index().assign(date=day)
              for day, f in factors.groupby("date", sort=False)]
    out = pd.concat(frames, ignore_index=True)
    return out[["date", *[c for c in out.columns if c != "date"]]]


def merit_for_days(factors: pd.DataFrame, ics: pd.DataFrame, regimes: pd.Series, forecasts: pd.DataFrame,
                   style: str, alpha_weight: float, *, tilt: bool = True, penalties: bool = True,
                   learned: dict | None = None, extras: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """MERIT of each day's cross-section under that day's regime (`regimes`: risk by date), blending
    the day's alpha forecasts where there are any. With `learned` (day -> weights or None) and `extras`
    (date, symbol, roc_21, rsi_14), a day with weights uses the learned blend. Returns (the frame,
    days blended with alpha)."""
    days = days_of(factors)
    scores, alpha_by_day = by_day(ics, days), by_day(forecasts, days)
    frames, blended = [], 0
    for day, f in by_day(factors, days).items():
        risk = str(regimes[day])
        f = f.set_index("symbol")
        fc = alpha_by_day[day].set_index("symbol")[["alpha_5d", "alpha_10d"]].reindex(f.index)
        has_alpha = bool(fc.notna().any().any())
        z = alpha_signal(fc) if has_alpha else None
        w = None if learned is None else learned.get(day)
        terms = None
        if w is not None:
            x = extras[extras["date"] == day].set_index("symbol").reindex(f.index)
            terms = blend_terms(f[list(FACTORS)], z, x["roc_21"], x["rsi_14"])
        scored = merit_score(f[list(FACTORS)], f["realized_vol_63"], f["adv_20"], style, risk,
                             alpha=z, alpha_weight=alpha_weight, learned=w, terms=terms, tilt=tilt,
                             penalties=penalties)
        scored = scored.join(scores[day].set_index("symbol")["ics_score"]).join(fc)
        scored["alpha_z"] = z.astype(float) if z is not None else float("nan")
        scored = scored.reset_index()
        scored.insert(0, "date", day)
        scored["regime"] = risk
        frames.append(scored)
        blended += has_alpha
    return pd.concat(frames, ignore_index=True), blended


TOP_COLUMNS = ["rank", "symbol", "name", "sector", "merit_score", "merit_pct", "merit_raw", "ics_score", "alpha_5d", "alpha_10d", "close",
               "rsi_14", "roc_21", "roc_63", "sma_50", "sma_200", "adx_14", "realized_vol_63", "adv_20", "reasons"]


def rank_for_days(merit: pd.DataFrame, kept: pd.DataFrame, indicators: pd.DataFrame, n: int
                  ) -> tuple[pd.DataFrame, dict[pd.Timestamp, int]]:
    """Each day's top n (date, TOP_COLUMNS) and how many names each day had to rank."""
    scored = (merit.merge(kept[["date", "symbol", "name", "sector"]], on=["date", "symbol"])
              .merge(indicators, on=["date", "symbol"]))
    frames, available = [], {}
    for day, today in scored.groupby("date", sort=False):
        top = rank_top_n(today.drop(columns="date"), n)[TOP_COLUMNS]
        top.insert(0, "date", day)
        frames.append(top)
        available[day] = len(today)
    return pd.concat(frames, ignore_index=True), available
