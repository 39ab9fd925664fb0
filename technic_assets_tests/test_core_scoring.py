import math

import pandas as pd
import pytest

from technic_assets.core.factors import FACTORS
from technic_assets.core.regime import classify_regime
from technic_assets.core.scoring import ICS_WEIGHTS, ics_score, merit_score, rank_top_n, risk_penalties


def phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_ics_by_hand():
    f = pd.DataFrame(0.0, index=["A", "B", "C"], columns=list(FACTORS))
    f.loc["A", "momentum"], f.loc["B", "quality"], f.loc["C", "value"] = 1.0, 1.0, -2.0
    w = ICS_WEIGHTS["medium"]
    comp = pd.Series({"A": w["momentum"], "B": w["quality"], "C": -2 * w["value"]})
    sd = comp.std()
    got = ics_score(f, "medium")["ics_score"]
    for s in "ABC":
        assert got[s] == pytest.approx(100 * phi(comp[s] / sd))


def test_risk_penalties_by_hand():
    pen = risk_penalties(pd.Series([0.30, 0.60, 2.0]), pd.Series([50e6, 2e6, 1e3]))
    assert pen["volatility_penalty"].tolist() == pytest.approx([0.0, 4.0, 15.0])
    assert pen["liquidity_penalty"].tolist() == pytest.approx([0.0, 5.0, 10.0])


def test_risk_off_favours_quality_and_low_volatility():
    f = pd.DataFrame(0.0, index=["MOMO", "SAFE", "X"], columns=list(FACTORS))
    f.loc["MOMO", "momentum"] = 2.0
    f.loc["SAFE", ["quality", "volatility"]] = 1.0
    vol, adv = pd.Series(0.2, index=f.index), pd.Series(1e8, index=f.index)
    on = merit_score(f, vol, adv, "medium", "risk_on")["merit_score"]
    off = merit_score(f, vol, adv, "medium", "risk_off")["merit_score"]
    assert on["MOMO"] > on["SAFE"]
    assert off["SAFE"] > off["MOMO"]


def test_ranking_is_descending_with_reasons():
    f = pd.DataFrame({k: [0.5, -0.5, 1.5] for k in FACTORS}, index=["A", "B", "C"])
    scored = merit_score(f, pd.Series(0.2, index=f.index), pd.Series(1e8, index=f.index), "medium", "neutral")
    scored["ics_score"] = 50.0
    scored = scored.reset_index(names="symbol")
    top = rank_top_n(scored, 2)
    assert top["symbol"].tolist() == ["C", "A"]
    assert top["rank"].tolist() == [1, 2]
    assert top["reasons"].iloc[0].startswith("momentum +")


def regime_rows(**over):
    base = {"SPY": dict(close=110, sma_50=105, sma_200=100, realized_vol_21=0.12, roc_63=3, roc_21=1),
            "QQQ": dict(roc_63=5), "HYG": dict(roc_63=3), "LQD": dict(roc_63=1), "SHY": dict(roc_63=0.5),
            "TLT": dict(roc_63=0), "IEF": dict(roc_63=1), "VIXY": dict(roc_21=-10)}
    for sym, vals in over.items():
        base[sym] = {**base[sym], **vals}
    return pd.DataFrame([{"symbol": s, **v} for s, v in base.items()])


def test_regime_tags():
    calm = classify_regime(regime_rows())
    assert (calm["trend"], calm["volatility"], calm["credit"], calm["risk"]) == ("uptrend", "calm", "benign", "risk_on")
    crash = classify_regime(regime_rows(SPY=dict(close=80, sma_50=90, realized_vol_21=0.4), HYG=dict(roc_63=-6),
                                        TLT=dict(roc_63=8)))
    assert (crash["trend"], crash["volatility"], crash["credit"], crash["rates"], crash["risk"]) == (
        "downtrend", "stressed", "stress", "falling", "risk_off")
    missing = classify_regime(regime_rows().query("symbol != 'VIXY' and symbol != 'HYG'"))
    assert missing["credit"] == "unknown" and missing["missing_etfs"] == "HYG,VIXY"
