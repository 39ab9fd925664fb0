"""Issue 21, items 2-4 on the shared real data: which ranking earns its place, decided on the development
period only, then the test period run once.

Protocol: every choice is made on signal days 2018-07-02 .. 2019-06-28 (development); the test period
2019-07-01 .. 2020-11-30 is run once, with the chosen settings, at the end (`--final`), and reported
whatever it shows. Every variant evaluated is counted in the log (`variants.json`; the one final run in
`variants_final.json`).

The instrument is the project's backtest (technic_assets.track / rescreen / core.track_record; H 5,
10 bps a side, each evening's top 25 bought at the next close). Two re-screens of the development days
through core.screen (`rescreen(keep_terms=True)`: peer groups off, then on) give every day's factor
z-scores, alpha, blend terms and tradable labels; each variant's MERIT is then core.scoring.merit_score
(the chain's own function: the hand weights with the regime tilt and the risk penalties on or off, or
each month's learned weights from core.blend.monthly_weights, past days only), checked to equal the
re-screen's own MERIT for the defaults, and measured by core.track_record (`track.evaluate`). The
XGBoost rankers are a variant measured here only (they would need a model per month in the chain).
The chosen settings then run end to end through `stored_record(settings=...)` with `--final`.

Selection rule, fixed before any figure was seen: the highest mean daily rank IC of MERIT against the
next 5 sessions on the development period; a variant must also not lower the top 25's net excess over
the universe by more than 2 points a year to be kept.

    python -m benchmarks.ranking_real --store ~/.technic/real_record.duckdb [--out DIR]
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
    d = history.query("market_regime", "SELECT DISTINCT date FROM technic.market_regime WHERE date BETWEEN ? AND ? "
                      "ORDER BY date", list(span))  # the scanned days (every stored input has them)
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


def markdown(log: list[dict]) -> str:
    """The log as a Markdown table (the README's and RESULTS.md's)."""
    def f(v, pattern):
        return "-" if v is None or (isinstance(v, float) and not np.isfinite(v)) else pattern.format(v)
    rows = ["| # | variant | period | rank IC (NW t) | top 25 net / gross | excess vs universe (NW t) | turnover | "
            "universe net | momentum net | random gross (mean) | beats random |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in log:
        rows.append(f"| {e['n']} | {e['variant']} | {e['period'][0][:7]}..{e['period'][1][:7]} | "
                    f"{f(e['rank_ic'], '{:+.4f}')} ({f(e['rank_ic_t_nw'], '{:.2f}')}) | "
                    f"{f(e['top_net'], '{:+.1%}')} / {f(e['top_gross'], '{:+.1%}')} | "
                    f"{f(e['excess'], '{:+.1%}')} ({f(e['excess_t_nw'], '{:.2f}')}) | {f(e['turnover'], '{:.1%}')} | "
                    f"{f(e['universe_net'], '{:+.1%}')} | {f(e['momentum_net'], '{:+.1%}')} | "
                    f"{f(e['random_gross_mean'], '{:+.1%}')} | {f(e['random_pct'], '{:.0%}')} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("ranking_real_log"))
    parser.add_argument("--final", action="store_true", help="run the chosen settings over the test period (once)")
    parser.add_argument("--chosen", default="{}", help="the chosen settings as JSON (with --final)")

    parser.add_argument("--table", action="store_true", help="print the logs as Markdown tables and stop")
    args = parser.parse_args()
    if args.table:
        for name in ("variants.json", "variants_final.json"):
            path = args.out / name
            if path.exists():
                print(f"{name}:\n{markdown(json.loads(path.read_text()))}\n")
        return
    from technic_assets.config import ScanSettings
    from technic_assets.core.blend import monthly_weights
    from technic_assets.core.calendar import nyse
    from technic_assets.core.peers import month_start
    from technic_assets.rescreen import rescreen
    from technic_assets.storage.history import History
    from technic_assets.track import evaluate

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / ("variants_final.json" if args.final else "variants.json")
    log = json.loads(log_path.read_text()) if log_path.exists() else []
    history = History(str(args.store.expanduser()))

    def note(name, span, settings, figures, seconds):
        entry = {"n": len(log) + 1, "variant": name, "period": span, "settings": settings, **figures,
                 "seconds": round(seconds, 1)}
        log.append(entry)
        log_path.write_text(json.dumps(log, indent=1) + "\n")
        print(json.dumps(entry), flush=True)

    if args.final:
        # one re-screen of the whole span with the chosen settings (a day's MERIT depends only on its own
        # inputs and, learned, on the 252 sessions before its month: the same in a run of either period
        # alone, whose re-screen reads those days as its lead), then each period's record from it
        chosen = json.loads(args.chosen)
        tick = time.perf_counter()
        whole = days_of(history, WHOLE)
        done = rescreen(history, whole, ScanSettings(**chosen), alpha_weight=ALPHA)
        seconds = time.perf_counter() - tick
        (out / "final_weights.json").write_text(json.dumps({str(k.date()): v for k, v in (done.weights or {}).items()},
                                                           indent=1) + "\n")
        for name, span in (("test", TEST), ("development", DEV), ("whole", WHOLE)):
            tick = time.perf_counter()
            days = whole[(whole >= span[0]) & (whole <= span[1])]
            inside = lambda f: f[f["date"].between(days[0], days[-1])]  # noqa: E731
            picks = inside(done.picks)[["date", "symbol"]]
            record = evaluate(history, days, picks, inside(done.scores), screen="chosen", horizon=H, cost_bps=COST)
            labels = pd.read_csv(Path(__file__).with_name("fund_labels.csv"))
            funds = set(labels.loc[labels["label"] == "fund", "symbol"])
            record.summary["funds_in_picks"] = {"picks": len(picks), "fund_picks": int(picks["symbol"].isin(funds).sum()),
                                                "symbols": sorted(set(picks["symbol"]) & funds)}
            (out / f"final_{name}.json").write_text(json.dumps(record.summary, indent=1, default=str) + "\n")
            note(f"FINAL {name}", span, chosen, {**brief(record), "fund_picks": record.summary["funds_in_picks"]["fund_picks"]},
                 time.perf_counter() - tick + seconds)
            seconds = 0.0
        return

    # one re-screen per peer-group setting gives every dev day's terms, alpha and labels; every variant is
    # then scored by core.scoring.merit_score (the chain's function) and measured by core.track_record
    sessions = nyse().sessions
    days = days_of(history, DEV)
    regime = history.read_span("market_regime", days[0], days[-1], ["date", "risk"]).set_index("date")["risk"]
    months = sorted({month_start(d, sessions) for d in days})
    market = market_for(history, days)

    def measure(name, settings, scores, seconds, **extra):
        if any(e["variant"] == name for e in log):
            return
        tick = time.perf_counter()
        record = evaluate(history, days, None, scores, screen=name, horizon=H, cost_bps=COST, market=market)
        note(name, DEV, settings, {**brief(record), **extra}, time.perf_counter() - tick + seconds)

    for peers in (False, True):
        tag = " + peer groups" if peers else ""
        tick = time.perf_counter()
        base = rescreen(history, days, ScanSettings(peer_groups=peers), alpha_weight=ALPHA, keep_terms=True)
        seconds = time.perf_counter() - tick
        print(f"re-screen of {len(days)} days (peer groups {peers}): {seconds:.0f} s", flush=True)
        hand = {}
        for tilt in (True, False):
            for penalties in (True, False):
                scores = hand[tilt, penalties] = hand_scores(base.terms, regime, tilt, penalties)
                if tilt and penalties:  # the chain's own default: the same MERIT as the re-screen's
                    check = scores.merge(base.scores, on=["date", "symbol"])
                    assert len(check) == len(base.scores) and np.allclose(check["score_x"], check["score_y"], atol=1e-9)
                measure(f"hand, tilt {'on' if tilt else 'off'}, penalties {'on' if penalties else 'off'}{tag}",
                        {"ranking": "hand", "regime_tilt": tilt, "risk_penalties": penalties, "peer_groups": peers},
                        scores, seconds)
                seconds = 0.0
        for window in (126, 252):
            for ridge in (1.0, 100.0):
                weights = monthly_weights(base.terms, base.terms["label"], months, sessions, window=window, ridge=ridge)
                fitted = [w for w in weights.values() if w]
                for penalties in (True, False):
                    # a month without weights keeps the hand weights with the same penalties, as the chain does
                    scores = learned_scores(base.terms, hand[True, penalties], regime, weights, penalties)
                    measure(f"learned ridge {ridge:g} window {window} penalties {'on' if penalties else 'off'}{tag}",
                            {"ranking": "learned", "ridge": ridge, "window": window, "risk_penalties": penalties,
                             "peer_groups": peers}, scores, 0.0, months_learned=len(fitted),
                            last_weights={k: round(v, 3) for k, v in fitted[-1].items()} if fitted else None)
        for objective in ("rank:pairwise", "rank:ndcg") if not peers else ():  # the rankers once (time)
            name = f"xgboost {objective}{tag}"
            if any(e["variant"] == name for e in log):
                continue
            tick = time.perf_counter()
            scores, fitted = ranker_scores(base.terms, base.scores, months, sessions, objective)
            measure(name, {"ranking": objective, "peer_groups": peers, "risk_penalties": False}, scores,
                    time.perf_counter() - tick, months_learned=fitted)


def hand_scores(terms: pd.DataFrame, regime: pd.Series, tilt: bool, penalties: bool) -> pd.DataFrame:
    """MERIT of every day with the hand weights (the alpha blended at ALPHA where the day has forecasts)."""
    from technic_assets.core.factors import FACTORS
    from technic_assets.core.scoring import merit_score

    out = []
    for day, t in terms.groupby("date"):
        t = t.set_index("symbol")
        alpha = t["alpha_z"] if t["alpha_z"].notna().any() else None
        m = merit_score(t[list(FACTORS)], t["realized_vol_63"], t["adv_20"], "medium", str(regime[day]), alpha=alpha,
                        alpha_weight=ALPHA, tilt=tilt, penalties=penalties)
        out.append(pd.DataFrame({"date": day, "symbol": m.index, "score": m["merit_score"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def market_for(history, days):
    """The Market that track.evaluate would read for `days` (momentum's lookback to the last exit), once."""
    from technic_assets.core.calendar import nyse
    from technic_assets.core.track_record import MOMENTUM_LOOKBACK, market_from_bars

    sessions = nyse().sessions
    lo = sessions[max(0, sessions.searchsorted(days[0]) - MOMENTUM_LOOKBACK - 1)]
    hi = sessions[min(len(sessions) - 1, sessions.searchsorted(days[-1]) + H + 1)]
    bars = history.read_span("price_bars", lo, hi, ["date", "symbol", "close", "split_ratio", "volume", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    return market_from_bars(bars.drop(columns="dividend"),
                            pd.DataFrame({"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]}))


if __name__ == "__main__":
    main()
