"""Alpha: XGBoost models of 5- and 10-day excess returns, their forecasts, and how good they are.

alpha_model      the models a day is scored with: trained for the first session of the day's month
                 (or week), from bars and reports dated before it only, stored once by content hash
                 and reused by every later day of that month
alpha_forecasts  one batched predict per horizon over the filtered universe
alpha_evaluation IC, rank IC, quintile spread and hit rate of ICS, MERIT and each alpha against the
                 returns realized since the signal day 5 and 10 sessions back, per day and rolling
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

import numpy as np
import pandas as pd
from dagster import Output, asset

from technic_assets.assets.common import (DAILY, STORE_METADATA, by_day, fill_history, markdown_table,
                                          range_metadata, scan_days, schema, timed)
from technic_assets.assets.market_data import stored_filings
from technic_assets.core.alpha_features import HORIZONS, features_for_day, indicator_panel, training_rows
from technic_assets.core.alpha_model import (InsufficientHistory, TrainConfig, load_booster, predict,
                                             train_model)
from technic_assets.core.fundamentals import FILINGS_DAYS, report_history
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.signal_quality import MEASURES, signal_quality, t_stat
from technic_assets.partitions import DATE_FMT, nyse, sessions_back, trading_days
from technic_assets.resources import AlphaSettings, MarketResource
from technic_assets.store import StoreResource

ROLLING_SESSIONS = 63
SCORES = ("ics_score", "merit_score", "alpha_5d", "alpha_10d")
MODEL_SCHEMA = {"date": "timestamp", "horizon": "sessions", "model_id": "sha256 of the booster, 16 hex",
                "trained_for": "first day the model scores", "train_start": "first signal day learnt from",
                "train_end": "last signal day learnt from", "rows": "training rows",
                "validation_ic": "held-out mean daily IC", "validation_rank_ic": "held-out mean daily rank IC"}


def retrain_day(day: pd.Timestamp, cadence: str) -> pd.Timestamp:
    """The session a day's models are trained for: the first of its month, or of its week."""
    period = "M" if cadence == "month" else "W"
    s = nyse().sessions
    same = s[(s.to_period(period) == day.to_period(period)) & (s <= day)]
    return same[0]


def train_models(context, market: MarketResource, store: StoreResource, universe: pd.DataFrame,
                 trained_for: pd.Timestamp, config: TrainConfig, device: str) -> list:
    """Both horizons' models for `trained_for`, from the store's bars before it (filling any gap)."""
    first = pd.Timestamp(trading_days.get_first_partition_key())
    last_bar = nyse().sessions[nyse().sessions < trained_for][-1]
    window = sessions_back(last_bar, config.training_sessions + max(HORIZONS) + config.embargo + LOOKBACK)
    window = window[window >= first]
    if len(window) < LOOKBACK:
        raise InsufficientHistory(f"only {len(window)} sessions of bars before {trained_for:{DATE_FMT}} from "
                                  f"TECHNIC_START_DATE {first:{DATE_FMT}} on")
    provider = market.provider()
    present = store.dates_present("price_bars", window[0], window[-1])
    fill_history(context, store, provider, [d for d in window if d not in present])
    bars = store.read_dates("price_bars", list(window))
    panel = indicator_panel(bars, window)
    if provider.provides_filings:
        filings, _ = stored_filings(store, provider, window[0] - pd.Timedelta(days=FILINGS_DAYS), window[-1])
        reports = report_history(filings, window[0], window[-1])
    else:
        reports = provider.report_history(window[0], window[-1])
    kinds = pd.concat([store.symbol_kinds(window[0], trained_for),
                       universe[["symbol", "type", "is_leveraged"]]]).drop_duplicates("symbol")
    rows = training_rows(panel, reports, kinds)
    del panel, bars
    nthread = len(os.sched_getaffinity(0))
    return [train_model(rows, h, config, trained_for, nyse().sessions, device, nthread) for h in HORIZONS]


def no_model() -> pd.DataFrame:
    """alpha_model's columns, no rows: the day is scored without alpha."""
    dates = ("date", "trained_for", "train_start", "train_end")
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c in dates else "string" if c == "model_id"
                                      else "int64" if c in ("horizon", "rows") else "float64")
                         for c in MODEL_SCHEMA})


@asset(
    **DAILY,
    group_name="alpha",
    kinds={"duckdb", "xgboost"},
    deps=["price_bars"],
    metadata={**STORE_METADATA, **schema(MODEL_SCHEMA)},
    description=(
        "The XGBoost models (5- and 10-day excess return) the day is scored with: trained for the first "
        "session of its month (or week: the alpha resource's `retrain`) on up to two years of signal "
        "days whose labels were known before it (purged, 5-session embargo), stored by content hash and "
        "reused for the rest of the period. Empty, with the reason, when there is too little history."
    ),
)
def alpha_model(context, universe: pd.DataFrame, market: MarketResource, store: StoreResource,
                alpha: AlphaSettings):
    days = scan_days(context)
    config = TrainConfig(training_sessions=alpha.training_sessions)
    frames, metas_by_period, statuses = [], {}, {}
    with timed() as t:
        for day in days:
            trained_for = retrain_day(day, alpha.retrain)
            if trained_for not in metas_by_period:
                metas_by_period[trained_for], statuses[trained_for] = models_for(
                    context, market, store, universe, trained_for, config, alpha.xgb_device)
            frames.append(pd.DataFrame([{"date": day, **meta_row(m)} for m in metas_by_period[trained_for]]))
    out = pd.concat(frames, ignore_index=True) if any(len(f) for f in frames) else no_model()
    metas = metas_by_period[retrain_day(days[-1], alpha.retrain)]
    meta = {**range_metadata(days), "status": "; ".join(f"{d:{DATE_FMT}}: {s}" for d, s in statuses.items()),
            "config": config.key, "device": alpha.xgb_device, "seconds": t["seconds"],
            "models_trained": sum(s == "trained" for s in statuses.values())}
    if metas:
        importances = pd.DataFrame({f"{m['horizon']}d": m["importances"] for m in metas})
        importances = importances.sort_values(importances.columns[0], ascending=False).head(12)
        meta.update({
            "trained_for": metas[0]["trained_for"],
            **{f"model_{m['horizon']}d": m["model_id"] for m in metas},
            **{f"validation_rank_ic_{m['horizon']}d": m["validation_rank_ic"] for m in metas},
            "training_window": f"{metas[0]['train_start']}..{metas[0]['train_end']}",
            "training_rows": int(sum(m["rows"] for m in metas)),
            "importances": markdown_table(importances.reset_index(names="feature"), ".3f"),
        })
    return Output(out, metadata=meta)


def meta_row(meta: dict) -> dict:
    return {"horizon": meta["horizon"], "model_id": meta["model_id"],
            **{k: pd.Timestamp(meta[k]) for k in ("trained_for", "train_start", "train_end")},
            **{k: meta[k] for k in ("rows", "validation_ic", "validation_rank_ic")}}


def models_for(context, market, store, universe, trained_for, config, device) -> tuple[list[dict], str]:
    """(the metadata of both horizons' models for `trained_for`, 'trained' | 'reused' | 'no model: ...'):
    from the store when they exist, else trained now and stored."""
    found = store.find_models(trained_for, config.key)
    if len(found) == len(HORIZONS):
        return [{**json.loads(m), "model_id": i} for m, i in zip(found["meta"], found["model_id"])], "reused"
    try:
        models = train_models(context, market, store, universe, trained_for, config, device)
    except InsufficientHistory as exc:
        context.log.warning(f"alpha_model: no model for {trained_for:{DATE_FMT}}: {exc}")
        return [], f"no model: {exc}"
    metas = [{**m.meta, **{k: str(v.date()) for k, v in m.meta.items() if isinstance(v, pd.Timestamp)},
              "model_id": m.model_id} for m in models]
    store.save_models([(m.model_id, m.horizon, trained_for, config.key, json.dumps(meta), m.raw)
                       for m, meta in zip(models, metas)])
    return metas, "trained"


@lru_cache(maxsize=8)
def cached_booster(path: str, model_id: str):
    """Each model is read from the store and deserialized once per process."""
    return load_booster(StoreResource(database=path).model_bytes(model_id))


FORECAST_SCHEMA = {"date": "timestamp", "symbol": "string",
                   "alpha_5d": "forecast 5-day return in excess of the universe median",
                   "alpha_10d": "forecast 10-day excess return", "model_5d": "model id", "model_10d": "model id"}


@asset(
    **DAILY,
    group_name="alpha",
    kinds={"duckdb", "xgboost"},
    metadata={**STORE_METADATA, **schema(FORECAST_SCHEMA)},
    description="alpha_5d and alpha_10d for every symbol of the filtered universe: one batched predict each.",
)
def alpha_forecasts(context, filtered_universe: pd.DataFrame, indicators: pd.DataFrame,
                    fundamentals: pd.DataFrame, alpha_model: pd.DataFrame, store: StoreResource):
    days = scan_days(context)
    parts = {name: by_day(frame, days) for name, frame in (("kept", filtered_universe), ("ind", indicators),
                                                           ("fund", fundamentals), ("model", alpha_model))}
    frames, predict_seconds = [], 0.0
    for day in days:
        symbols = parts["kept"][day]["symbol"]
        out = pd.DataFrame({"date": day, "symbol": symbols.to_numpy()})
        models = parts["model"][day]
        for h in HORIZONS:
            out[f"alpha_{h}d"], out[f"model_{h}d"] = np.nan, ""
        if len(models):
            features = features_for_day(day, parts["ind"][day].drop(columns="date"),
                                        parts["fund"][day].drop(columns="date"), symbols)
            with timed() as t:
                for row in models.itertuples():
                    booster = cached_booster(store.path, row.model_id)
                    out[f"alpha_{row.horizon}d"] = predict(booster, features).astype(np.float64)
                    out[f"model_{row.horizon}d"] = row.model_id
            predict_seconds += t["seconds"]
        frames.append(out)
    out = pd.concat(frames, ignore_index=True)
    scored = int(out["alpha_5d"].notna().groupby(out["date"]).any().sum())
    return Output(out, metadata={
        **range_metadata(days), "rows": len(out), "predict_seconds": round(predict_seconds, 3),
        "status": "scored" if scored == len(days) else
                  "no model yet: MERIT is the factor blend alone" if not scored else
                  f"scored {scored} of {len(days)} days (no model before)",
        **{f"median_alpha_{h}d": float(out[f"alpha_{h}d"].median()) for h in HORIZONS}})


EVALUATION_SCHEMA = {"date": "timestamp (returns realized through it)", "signal_date": "timestamp",
                     "horizon": "sessions", "score": "ics_score | merit_score | alpha_5d | alpha_10d",
                     "ic": "float", "rank_ic": "float", "quintile_spread": "top minus bottom fifth",
                     "hit_rate": "float", "names": "int"}
EVALUATION_DTYPES = {"date": "datetime64[ns]", "signal_date": "datetime64[ns]", "horizon": "int64", "score": "string",
                     "ic": "float64", "rank_ic": "float64", "quintile_spread": "float64", "hit_rate": "float64",
                     "names": "int64"}
SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    v = np.asarray([x for x in values if np.isfinite(x)])
    if len(v) == 0:
        return ""
    lo, hi = min(v.min(), 0.0), max(v.max(), 0.0)
    scale = (hi - lo) or 1.0
    return "".join(SPARK[int((x - lo) / scale * (len(SPARK) - 1))] for x in v)


def evaluate_day(day: pd.Timestamp, merit: pd.DataFrame, closes: pd.DataFrame, ratios: pd.DataFrame) -> pd.DataFrame:
    """Each score of each signal day `h` sessions back, against the split-adjusted return to `day`
    in excess of the scored names' median. `closes` and `ratios` are date x symbol (as traded)."""
    rows = []
    for h in HORIZONS:
        signal_date = sessions_back(day, h + 1)[0]
        scored = merit[merit["date"] == signal_date].set_index("symbol")
        if scored.empty or signal_date not in closes.index or day not in closes.index:
            continue
        splits = ratios[(ratios.index > signal_date) & (ratios.index <= day)].prod()
        ret = closes.loc[day] * splits / closes.loc[signal_date] - 1.0
        ret = ret.reindex(scored.index)
        excess = ret - ret.median()
        for score in SCORES:
            if score.startswith("alpha_") and score != f"alpha_{h}d":
                continue
            if score not in scored or scored[score].isna().all():
                continue
            rows.append({"date": day, "signal_date": signal_date, "horizon": h, "score": score,
                         **signal_quality(scored[score], excess)})
    return pd.DataFrame(rows, columns=list(EVALUATION_SCHEMA)).astype(EVALUATION_DTYPES)


def bar_matrices(bars: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(closes, split ratios) as date x symbol tables."""
    closes = bars.pivot_table(index="date", columns="symbol", values="close")
    ratios = bars.pivot_table(index="date", columns="symbol", values="split_ratio").fillna(1.0)
    return closes, ratios


@asset(
    **DAILY,
    group_name="alpha",
    kinds={"duckdb", "pandas"},
    # The signal days 5-10 sessions back are read from the store, not mapped partitions: they may not be
    # built (a new store), which is "nothing to evaluate", not an error; and a windowed mapping would
    # make an asset backfill of a few days expand 10 sessions past them. Same-day edges keep the order.
    deps=["merit", "price_bars"],
    metadata={**STORE_METADATA, **schema(EVALUATION_SCHEMA)},
    description=(
        "Is the model worth anything? For the signal days 5 and 10 sessions back: Pearson and rank IC, "
        "top-minus-bottom quintile spread and hit rate of ICS, MERIT and the alpha of that horizon "
        f"against the excess returns realized through this day; the {ROLLING_SESSIONS}-session rolling "
        "means with t-statistics as a table, today's values as numbers the UI plots across partitions."
    ),
)
def alpha_evaluation(context, store: StoreResource):
    days = scan_days(context)
    first = sessions_back(days[0], max(HORIZONS) + 1)[0]
    merit = store.read_span("merit", first, days[-1], ["date", "symbol", "merit_score", "ics_score", "alpha_5d", "alpha_10d"])
    closes, ratios = bar_matrices(store.read_span("price_bars", first, days[-1], ["date", "symbol", "close", "split_ratio"]))
    evaluated = pd.concat([evaluate_day(day, merit, closes, ratios) for day in days], ignore_index=True)
    if evaluated.empty:
        return Output(evaluated, metadata={**range_metadata(days), "status": "nothing to evaluate yet: no scored "
                                           f"day {min(HORIZONS)}-{max(HORIZONS)} sessions back in the store"})
    window = sessions_back(days[-1], ROLLING_SESSIONS)
    earlier = [d for d in window if d < days[0]]
    past = store.read_dates("alpha_evaluation", earlier) \
        if earlier and store.dates_present("alpha_evaluation", earlier[0], earlier[-1]) else evaluated.iloc[:0]
    history = pd.concat([past, evaluated], ignore_index=True)
    history = history[history["date"] >= window[0]].sort_values("date")
    rolling = history.groupby(["score", "horizon"]).agg(
        days=("rank_ic", "count"), ic=("ic", "mean"), rank_ic=("rank_ic", "mean"),
        rank_ic_t=("rank_ic", t_stat), quintile_spread=("quintile_spread", "mean"), hit_rate=("hit_rate", "mean"),
    ).reset_index()
    rolling["trend"] = [sparkline(history[(history["score"] == r.score) & (history["horizon"] == r.horizon)]["rank_ic"])
                        for r in rolling.itertuples()]
    last = evaluated[evaluated["date"] == evaluated["date"].max()]
    plots = {f"{m}_{r.score}_{r.horizon}d": float(getattr(r, m)) for r in last.itertuples()
             for m in MEASURES if m in ("ic", "rank_ic", "quintile_spread")}
    return Output(evaluated, metadata={
        **range_metadata(days), "status": "evaluated", **plots,
        f"rolling_{ROLLING_SESSIONS}": markdown_table(rolling, ".4f"),
    })
