"""Issue 21, items 2-4 on the shared real data: which ranking earns its place, decided on the development
period only, then the test period run once.

Protocol: every choice is made on signal days 2018-07-02 .. 2019-06-28 (development); the test period
2019-07-01 .. 2020-11-30 is run once, with the chosen settings, at the end (`--final`), and reported
whatever it shows. Every variant evaluated is counted in the logs (`variants_hand.json`, `variants_learned.json`, and
`variants_final.json` for the one final run).

The instrument is the project's backtest (technic_assets.track / rescreen / core.track_record; H 5,
10 bps a side, each evening's top 25 bought at the next close): the hand-weight variants (the regime
tilt and the risk penalties on and off, the peer groups) through `stored_record(settings=...)`, which
re-screens each stored day through core.screen. The learned blends share one re-screen: the day's blend
terms and tradable labels (`rescreen(keep_terms=True)`), then each candidate's monthly weights
(core.blend.monthly_weights, past days only) and MERIT (core.scoring.merit_score, the chain's own
function), evaluated by the same core.track_record (`track.evaluate`).

Selection rule, fixed before any figure was seen: the highest mean daily rank IC of MERIT against the
next 5 sessions on the development period; a variant must also not lower the top 25's net excess over
the universe by more than 2 points a year to be kept.

    python -m benchmarks.ranking_real --store ~/.technic/real_record.duckdb --part hand [--out DIR]
    python -m benchmarks.ranking_real --store ~/.technic/real_record.duckdb --part learned [--out DIR]
    python -m benchmarks.ranking_real --store ~/.technic/real_record.duckdb --final --chosen '{"ranking": ...}' 
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

DEV = ("2018-07-02", "2019-06-28")
TEST = ("2019-07-01", "2020-11-30")
WHOLE = ("2018-07-02", "2020-11-30")
H, COST, ALPHA = 5, 10.0, 0.35


def brief(record) -> dict:
    s = record.summary
    p = s["portfolios"]
    return {"rank_ic": s["rank_ic"].get("mean"), "rank_ic_t_nw": s["rank_ic"].get("t_nw"),
            "top_net": p["top_n"]["ann_return"], "top_gross": p["top_n"]["ann_return_gross"],
            "excess": p["top_n"]["excess_vs_universe"], "excess_t_nw": p["top_n"].get("excess_t_nw"),
            "turnover": p["top_n"]["turnover"], "universe_net": p["universe"]["ann_return"],
            "momentum_net": p["momentum_12_1"]["ann_return"], "random_gross_mean": p["random"]["ann_return_gross"],
            "random_pct": p["random"]["top_n_percentile"], "days": s["pick_days"]["count"]}


def days_of(history, span) -> pd.DatetimeIndex:
    d = history.query("ranked_top_n", "SELECT DISTINCT date FROM technic.ranked_top_n WHERE coalesce(screen, "
                      "'default') = 'default' AND date BETWEEN ? AND ? ORDER BY date", list(span))
    return pd.DatetimeIndex(d["date"])


def learned_scores(terms: pd.DataFrame, hand: pd.DataFrame, regime: pd.Series, weights: dict, penalties: bool):
    """MERIT of every day under the month's learned weights (the hand score where a month has none)."""
    from technic_assets.core.blend import BLEND_TERMS
    from technic_assets.core.calendar import nyse
    from technic_assets.core.factors import FACTORS
    from technic_assets.core.peers import month_start
    from technic_assets.core.scoring import merit_score

    sessions = nyse().sessions
    hand_by = dict(tuple(hand.groupby("date")))
    out = []
    for day, t in terms.groupby("date"):
        w = weights.get(month_start(day, sessions))
        if w is None:
            out.append(hand_by[day][["date", "symbol", "score"]])
            continue
        t = t.set_index("symbol")
        m = merit_score(t[list(FACTORS)], t["realized_vol_63"], t["adv_20"], "medium", str(regime[day]),
                        learned=w, terms=t[list(BLEND_TERMS)], penalties=penalties)
        out.append(pd.DataFrame({"date": day, "symbol": m.index, "score": m["merit_score"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def ranker_scores(terms: pd.DataFrame, hand: pd.DataFrame, months: list, sessions, objective: str,
                  window: int = 252) -> tuple[pd.DataFrame, int]:
    """The XGBoost ranking variant: for each month, a ranker (`objective`, one query per day) trained on
    the same purged, embargoed training days as the linear blend (every third day), labels the day's
    return quintile (0-4); the month's scores are its predictions mapped like MERIT (100 * Phi(z)),
    the hand score where a month has too little history."""
    import xgboost as xgb
    from scipy.special import ndtr

    from technic_assets.core.blend import BLEND_TERMS, MIN_DAYS, training_days
    from technic_assets.core.peers import month_start

    days = pd.DatetimeIndex(terms["date"])
    unique = pd.DatetimeIndex(days.unique())
    hand_by = dict(tuple(hand.groupby("date")))
    out, fitted = [], 0
    params = {"objective": objective, "eta": 0.05, "max_depth": 3, "min_child_weight": 1, "subsample": 0.8,
              "colsample_bytree": 0.8, "lambda": 10.0, "tree_method": "hist", "nthread": 1, "seed": 0}
    for first in months:
        train = training_days(unique, first, sessions, window=window)
        month_days = unique[np.array([month_start(d, sessions) == first for d in unique])]
        if len(train) < MIN_DAYS:
            out += [hand_by[d][["date", "symbol", "score"]] for d in month_days]
            continue
        train = train[::3]
        rows = terms[days.isin(train) & terms["label"].notna()].sort_values(["date", "symbol"])
        quint = rows.groupby("date")["label"].transform(lambda v: pd.qcut(v.rank(method="first"), 5, labels=False))
        dtrain = xgb.DMatrix(rows[list(BLEND_TERMS)].to_numpy(float), label=quint.to_numpy(float))
        dtrain.set_group(rows.groupby("date", sort=True).size().to_numpy())
        booster = xgb.train(params, dtrain, num_boost_round=100)
        fitted += 1
        for d in month_days:
            t = terms[days == d]
            pred = booster.predict(xgb.DMatrix(t[list(BLEND_TERMS)].to_numpy(float)))
            z = (pred - pred.mean()) / (pred.std(ddof=1) or 1.0)
            out.append(pd.DataFrame({"date": d, "symbol": t["symbol"].to_numpy(), "score": 100 * ndtr(z)}))
    return pd.concat(out, ignore_index=True), fitted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("ranking_real"))
    parser.add_argument("--final", action="store_true", help="run the chosen settings over the test period (once)")
    parser.add_argument("--chosen", default="{}", help="the chosen settings as JSON (with --final)")
    parser.add_argument("--part", choices=("hand", "learned", "final"), default="hand",
                        help="which variants (two processes can run the parts side by side; each logs to its file)")
    args = parser.parse_args()
    from technic_assets.config import ScanSettings
    from technic_assets.core.blend import monthly_weights
    from technic_assets.core.calendar import nyse
    from technic_assets.core.peers import month_start
    from technic_assets.rescreen import rescreen
    from technic_assets.storage.history import History
    from technic_assets.track import evaluate, stored_record

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    part = "final" if args.final else args.part
    log_path = out / f"variants_{part}.json"
    log = json.loads(log_path.read_text()) if log_path.exists() else []
    history = History(str(args.store.expanduser()))

    def note(name, span, settings, figures, seconds):
        entry = {"n": len(log) + 1, "variant": name, "period": span, "settings": settings, **figures,
                 "seconds": round(seconds, 1)}
        log.append(entry)
        log_path.write_text(json.dumps(log, indent=1) + "\n")
        print(json.dumps(entry), flush=True)

    if args.final:
        chosen = json.loads(args.chosen)
        for name, span in (("test", TEST), ("development", DEV), ("whole", WHOLE)):
            tick = time.perf_counter()
            record = stored_record(history, "default", *span, horizon=H, cost_bps=COST,
                                   settings=ScanSettings(**chosen), alpha_weight=ALPHA)
            (out / f"final_{name}.json").write_text(json.dumps(record.summary, indent=1, default=str) + "\n")
            note(f"FINAL {name}", span, chosen, brief(record), time.perf_counter() - tick)
        return

    hand = {"default (hand, tilt, penalties)": {}, "tilt off": {"regime_tilt": False},
            "penalties off": {"risk_penalties": False}, "tilt and penalties off": {"regime_tilt": False, "risk_penalties": False},
            "peer groups": {"peer_groups": True}}
    for name, settings in hand.items() if part == "hand" else ():
        if any(e["variant"] == name for e in log):
            continue
        tick = time.perf_counter()
        record = stored_record(history, "default", *DEV, horizon=H, cost_bps=COST, settings=ScanSettings(**settings),
                               alpha_weight=ALPHA)
        note(name, DEV, settings, brief(record), time.perf_counter() - tick)

    if part != "learned":
        return
    # the learned blends: one re-screen gives every dev day's terms and labels
    sessions = nyse().sessions
    days = days_of(history, DEV)
    regime = history.read_span("market_regime", days[0], days[-1], ["date", "risk"]).set_index("date")["risk"]
    months = sorted({month_start(d, sessions) for d in days})
    for peers in (False, True):
        tick = time.perf_counter()
        base = rescreen(history, days, ScanSettings(peer_groups=peers), alpha_weight=ALPHA, keep_terms=True)
        base_seconds = time.perf_counter() - tick
        for window in (126, 252):
            for ridge in (1.0, 100.0):
                for penalties in (True, False):
                    name = f"learned ridge {ridge:g} window {window} penalties {'on' if penalties else 'off'}" \
                           f"{' peer groups' if peers else ''}"
                    if any(e["variant"] == name for e in log):
                        continue
                    tick2 = time.perf_counter()
                    weights = monthly_weights(base.terms, base.terms["label"], months, sessions, window=window,
                                              ridge=ridge)
                    scores = learned_scores(base.terms, base.scores, regime, weights, penalties)
                    record = evaluate(history, days, None, scores, screen=name, horizon=H, cost_bps=COST)
                    last = [w for w in weights.values() if w]
                    figures = brief(record)
                    figures["months_learned"] = len(last)
                    figures["last_weights"] = {k: round(v, 3) for k, v in last[-1].items()} if last else None
                    note(name, DEV, {"ranking": "learned", "ridge": ridge, "window": window, "risk_penalties": penalties,
                                     "peer_groups": peers},
                         figures, time.perf_counter() - tick2 + base_seconds)
                    base_seconds = 0.0
        for objective in ("rank:pairwise", "rank:ndcg"):
            name = f"xgboost {objective}{' peer groups' if peers else ''}"
            if any(e["variant"] == name for e in log):
                continue
            tick2 = time.perf_counter()
            scores, fitted = ranker_scores(base.terms, base.scores, months, sessions, objective)
            record = evaluate(history, days, None, scores, screen=name, horizon=H, cost_bps=COST)
            note(name, DEV, {"ranking": objective, "peer_groups": peers, "risk_penalties": False},
                 {**brief(record), "months_learned": fitted}, time.perf_counter() - tick2)


if __name__ == "__main__":
    main()
