"""The market regime, read from eight ETFs' indicators on the scan date.

  trend       SPY: "uptrend" when close > SMA200 and SMA50 > SMA200, "downtrend" when both below,
              else "mixed"
  volatility  SPY 21-day realized vol (annualized): < 15% "calm", > 25% "stressed", else "normal";
              a VIXY (or, without it, VXX) 21-day ROC above +25% also makes it "stressed"
  credit      HYG's 63-day ROC minus LQD's: < -3 points "stress", > +1 "benign", else "neutral"
  rates       TLT's 63-day ROC: < -5% "rising" (bonds falling), > +5% "falling", else "stable";
              the curve from IEF's 63-day ROC against SHY's
  leadership  QQQ's 63-day ROC against SPY's: "growth" or "broad"
  risk        +1 for uptrend/calm/benign, -1 for downtrend/stressed/credit stress, summed:
              >= 2 "risk_on", <= -1 "risk_off", else "neutral"
A missing ETF makes its state "unknown" (counted 0 in risk) rather than guessed.
"""

from __future__ import annotations

import math

import pandas as pd

from technic_assets.core.frames import by_day

REGIME_ETFS = ("SPY", "QQQ", "HYG", "LQD", "SHY", "TLT", "IEF", "VIXY")


def classify_regime(indicators: pd.DataFrame) -> dict[str, object]:
    """Regime tags and the numbers behind them, from the indicators table (one row per symbol)."""
    ind = indicators.set_index("symbol")

    def get(sym: str, col: str) -> float:
        if sym in ind.index:
            value = ind.at[sym, col]
            return float(value) if pd.notna(value) else math.nan
        return math.nan

    close, sma50, sma200 = get("SPY", "close"), get("SPY", "sma_50"), get("SPY", "sma_200")
    if any(math.isnan(v) for v in (close, sma50, sma200)):
        trend = "unknown"
    elif close > sma200 and sma50 > sma200:
        trend = "uptrend"
    elif close < sma200 and sma50 < sma200:
        trend = "downtrend"
    else:
        trend = "mixed"

    spy_vol, vixy_roc = get("SPY", "realized_vol_21"), get("VIXY", "roc_21")
    if math.isnan(vixy_roc):  # VXX tracks the same futures; older data files have it, not VIXY
        vixy_roc = get("VXX", "roc_21")
    if math.isnan(spy_vol):
        volatility = "unknown"
    elif spy_vol > 0.25 or (not math.isnan(vixy_roc) and vixy_roc > 25):
        volatility = "stressed"
    elif spy_vol < 0.15:
        volatility = "calm"
    else:
        volatility = "normal"

    credit_spread = get("HYG", "roc_63") - get("LQD", "roc_63")
    credit = ("unknown" if math.isnan(credit_spread) else
              "stress" if credit_spread < -3 else "benign" if credit_spread > 1 else "neutral")

    tlt = get("TLT", "roc_63")
    rates = "unknown" if math.isnan(tlt) else "rising" if tlt < -5 else "falling" if tlt > 5 else "stable"
    curve_move = get("IEF", "roc_63") - get("SHY", "roc_63")
    lead = get("QQQ", "roc_63") - get("SPY", "roc_63")
    leadership = "unknown" if math.isnan(lead) else "growth" if lead > 0 else "broad"

    score = ({"uptrend": 1, "downtrend": -1}.get(trend, 0) + {"calm": 1, "stressed": -1}.get(volatility, 0)
             + {"benign": 1, "stress": -1}.get(credit, 0))
    risk = "risk_on" if score >= 2 else "risk_off" if score <= -1 else "neutral"
    return {
        "risk": risk, "risk_score": score, "trend": trend, "volatility": volatility, "credit": credit,
        "rates": rates, "leadership": leadership,
        "spy_close": close, "spy_sma_50": sma50, "spy_sma_200": sma200, "spy_realized_vol_21": spy_vol,
        "vixy_roc_21": vixy_roc, "hyg_minus_lqd_roc_63": credit_spread, "tlt_roc_63": tlt,
        "ief_minus_shy_roc_63": curve_move, "qqq_minus_spy_roc_63": lead,
        "missing_etfs": ",".join(s for s in REGIME_ETFS if s not in ind.index),
    }


def regime_for_days(indicators: pd.DataFrame, days) -> pd.DataFrame:
    """One row of regime tags per day (with `date`)."""
    computed = by_day(indicators, days)
    return pd.DataFrame([{"date": day, **classify_regime(computed[day])} for day in days])
