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

import pandas as pd
from dagster import Output, asset

from technic_assets.assets.common import (
    DAILY,
    STORE_METADATA,
    first_partition,
    markdown_table,
    range_metadata,
    scan_days,
    schema,
    screen_span,
    timed,
)
from technic_assets.config import AlphaSettings, ScanSettings
from technic_assets.core.alpha_evaluation import evaluate_days, rolling_summary
from technic_assets.core.alpha_features import HORIZONS, indicator_panel, training_rows
from technic_assets.core.alpha_model import (
    InsufficientHistory,
    TrainConfig,
    forecasts_for_days,
    load_booster,
    retrain_day,
    train_model,
)
from technic_assets.core.calendar import DATE_FMT, nyse, sessions_back
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.signal_quality import MEASURES
from technic_assets.lineage import later_days, record_later, refit_days, wait_for_earlier
from technic_assets.resources import MarketResource
from technic_assets.screens import Screens
from technic_assets.storage import ModelRegistry, StoreResource
from technic_assets.storage.resource import registry_for

ROLLING_SESSIONS = 63
MODEL_SCHEMA = {"date": "timestamp", "horizon": "sessions", "model_id": "sha256 of the booster, 16 hex",
                "trained_for": "first day the model scores", "train_start": "first signal day learnt from",
                "train_end": "last signal day learnt from", "rows": "training rows",
                "validation_ic": "held-out mean daily IC", "validation_rank_ic": "held-out mean daily rank IC"}


def training_window(trained_for: pd.Timestamp, config: TrainConfig, first: pd.Timestamp) -> pd.DatetimeIndex:
    """The sessions of bars a model for `trained_for` learns from: before it, from `first` on."""
    sessions = nyse().sessions
    last_bar = sessions[sessions < trained_for][-1]
    window = sessions_back(last_bar, config.training_sessions + max(HORIZONS) + config.embargo + LOOKBACK)
    window = window[window >= first]
    if len(window) < LOOKBACK:
        raise InsufficientHistory(f"only {len(window)} sessions of bars before {trained_for:{DATE_FMT}} from "
                                  f"TECHNIC_START_DATE {first:{DATE_FMT}} on")
    return window


def periods(days: list[pd.Timestamp], alpha: AlphaSettings) -> list[pd.Timestamp]:
    """The distinct days models are trained for, for these scan days (none while the alpha is off)."""
    if alpha.weight == 0:
        return []
    return list(dict.fromkeys(retrain_day(day, alpha.retrain, nyse().sessions) for day in days))


def sessions_for_training(days: list[pd.Timestamp], alpha: AlphaSettings, registry: ModelRegistry,
                          first: pd.Timestamp) -> list[pd.Timestamp]:
    """The bars the models of `days` still have to be trained on (none where they are stored), so
    that price_bars fills them in the same fetch as the scan's window; `first` is the first partition."""
    config = alpha.train_config()
    needed: set[pd.Timestamp] = set()
    for trained_for in periods(days, alpha):
        if len(registry.find(trained_for, config.key)) == len(HORIZONS):
            continue
        try:
            needed.update(training_window(trained_for, config, first))
        except InsufficientHistory:
            pass  # alpha_model says so; nothing to fill
    return sorted(needed)


def train_models(market: MarketResource, universe: pd.DataFrame, trained_for: pd.Timestamp, config: TrainConfig,
                 device: str, first: pd.Timestamp) -> list:
    """Both horizons' models for `trained_for`, from the store's bars before it (price_bars filled them)."""
    window = training_window(trained_for, config, first)
    provider, history = market.provider(), market.store.history
    bars = history.read_dates("price_bars", list(window))
    missing = window.difference(pd.DatetimeIndex(bars["date"].unique()))
    if len(missing):
        raise ValueError(f"price_bars lacks {len(missing)} sessions the alpha model for {trained_for:{DATE_FMT}} "
                         f"learns from ({missing[0]:{DATE_FMT}} ...): materialize price_bars for the day first")
    panel = indicator_panel(bars, window)
    reports = provider.report_history(window[0], window[-1])
    kinds = pd.concat([history.symbol_kinds(window[0], trained_for),
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
def alpha_model(context, universe: pd.DataFrame, market: MarketResource, alpha: AlphaSettings):
    days = scan_days(context)
    config = alpha.train_config()
    frames, metas_by_period, statuses = [], {}, {}
    with timed() as t:
        for trained_for in periods(days, alpha):
            metas_by_period[trained_for], statuses[trained_for] = models_for(
                context, market, universe, trained_for, config, alpha.device)
        for day in days:
            metas = metas_by_period.get(retrain_day(day, alpha.retrain, nyse().sessions), [])
            frames.append(pd.DataFrame([{"date": day, **meta_row(m)} for m in metas]))
    out = pd.concat(frames, ignore_index=True) if any(len(f) for f in frames) else no_model()
    metas = metas_by_period.get(retrain_day(days[-1], alpha.retrain, nyse().sessions), [])
    status = "; ".join(f"{d:{DATE_FMT}}: {s}" for d, s in statuses.items()) or "alpha off (weight 0): no model"
    meta = {**range_metadata(days), "status": status,
            "config": config.key, "device": alpha.device, "seconds": t["seconds"],
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


def models_for(context, market, universe, trained_for, config, device) -> tuple[list[dict], str]:
    """(the metadata of both horizons' models for `trained_for`, 'trained' | 'reused' | 'no model: ...'):
    from the store when they exist, else trained now and stored."""
    registry = market.store.models
    found = registry.find(trained_for, config.key)
    if len(found) == len(HORIZONS):
        return [{**json.loads(m), "model_id": i} for m, i in zip(found["meta"], found["model_id"])], "reused"
    try:
        models = train_models(market, universe, trained_for, config, device, first_partition(context))
    except InsufficientHistory as exc:
        context.log.warning(f"alpha_model: no model for {trained_for:{DATE_FMT}}: {exc}")
        return [], f"no model: {exc}"
    metas = [{**m.meta, **{k: str(v.date()) for k, v in m.meta.items() if isinstance(v, pd.Timestamp)},
              "model_id": m.model_id} for m in models]
    registry.save([(m.model_id, m.horizon, trained_for, config.key, json.dumps(meta), m.raw)
                       for m, meta in zip(models, metas)])
    return metas, "trained"


@lru_cache(maxsize=8)
def cached_booster(location: str, model_id: str):
    """Each model is read from the store (a DuckDB file's path or an Iceberg URL) and deserialized once
    per process."""
    return load_booster(registry_for(location).model_bytes(model_id))


FORECAST_SCHEMA = {"date": "timestamp", "symbol": "string",
                   "alpha_5d": "z-score: forecast 5-day return in excess of the universe median, in units of the "
                                "day's cross-sectional deviation (not a % return)",
                   "alpha_10d": "z-score: forecast 10-day excess return (as alpha_5d)", "model_5d": "model id", "model_10d": "model id"}


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
    path = store.location
    # a forecast depends on the symbol, not the screen: one predict over every screen's symbols
    kept = filtered_universe.drop(columns="screen", errors="ignore").drop_duplicates(["date", "symbol"])
    out, predict_seconds = forecasts_for_days(kept, indicators, fundamentals, alpha_model,
                                              lambda model_id: cached_booster(path, model_id))
    scored = int(out["alpha_5d"].notna().groupby(out["date"]).any().sum())
    return Output(out, metadata={
        **range_metadata(days), "rows": len(out), "predict_seconds": round(predict_seconds, 3),
        "status": "scored" if scored == len(days) else
                  "no model yet: MERIT is the factor blend alone" if not scored else
                  f"scored {scored} of {len(days)} days (no model before)",
        **{f"median_alpha_{h}d": float(out[f"alpha_{h}d"].dropna().median()) if scored else float("nan")
           for h in HORIZONS}})  # no model: NaN, without numpy's warning about an empty median


EVALUATION_SCHEMA = {"date": "timestamp (returns realized through it)", "signal_date": "timestamp",
                     "horizon": "sessions", "score": "ics_score | merit_score | alpha_5d | alpha_10d",
                     "ic": "float", "rank_ic": "float", "quintile_spread": "top minus bottom fifth",
                     "hit_rate": "float", "names": "int"}


def signal_days(day: pd.Timestamp) -> list[pd.Timestamp]:
    """The days whose scores `day` evaluates: HORIZONS sessions back."""
    back = sessions_back(day, max(HORIZONS) + 1)
    return [back[-1 - h] for h in HORIZONS if h < len(back)]


def evaluation_for(history, days: list[pd.Timestamp], screen: str) -> pd.DataFrame:
    """evaluate_days over `days` from the stored MERIT of `screen` and the bars."""
    first = sessions_back(days[0], max(HORIZONS) + 1)[0]
    merit = screen_span(history, "merit", first, days[-1],
                        ["date", "symbol", "merit_score", "ics_score", "alpha_5d", "alpha_10d"], screen)
    bars = history.read_span("price_bars", first, days[-1], ["date", "symbol", "close", "split_ratio"])
    return evaluate_days(days, merit, bars, nyse().sessions)


@asset(
    **DAILY,
    group_name="alpha",
    kinds={"duckdb", "pandas"},
    # The signal days 5 and 10 sessions back are read from the store, one screen's, a run computing
    # them side by side waited for (technic_assets.lineage). Not yet built (a new store) is "nothing to
    # evaluate", not an error.
    deps=["merit", "price_bars"],
    metadata={**STORE_METADATA, **schema(EVALUATION_SCHEMA)},
    description=(
        "Is the model worth anything? For the signal days 5 and 10 sessions back: Pearson and rank IC, "
        "top-minus-bottom quintile spread and hit rate of ICS, MERIT and the alpha of that horizon "
        f"against the excess returns realized through this day; the {ROLLING_SESSIONS}-session rolling "
        "means with t-statistics as a table, today's values as numbers the UI plots across partitions."
    ),
)
def alpha_evaluation(context, store: StoreResource, scan: ScanSettings, screens: Screens):
    days = scan_days(context)
    history = store.history
    # one screen's scores, every day the same one: ICS and MERIT of different screens are not comparable
    primary = screens.primary(scan)
    wait_for_earlier(context, history, "merit", sorted({s for d in days for s in signal_days(d)} - set(days)))
    evaluated = evaluation_for(history, days, primary)
    later = later_days(history, "alpha_evaluation", days, refit_days(history, days, screens.resolve(scan)))
    if later:  # scanned before this day was: they evaluated without its scores
        record_later(context, history, "alpha_evaluation", evaluation_for(history, later, primary), later, days)
    if evaluated.empty:
        return Output(evaluated, metadata={**range_metadata(days), "screen": primary,
                                           "status": "nothing to evaluate yet: no scored "
                                           f"day {min(HORIZONS)}-{max(HORIZONS)} sessions back in the store"})
    window = sessions_back(days[-1], ROLLING_SESSIONS)
    earlier = [d for d in window if d < days[0]]
    past = history.read_dates("alpha_evaluation", earlier) if earlier else evaluated.iloc[:0]
    past = past if len(past) else evaluated.iloc[:0]
    recent = pd.concat([past, evaluated], ignore_index=True)
    rolling = rolling_summary(recent[recent["date"] >= window[0]])
    last = evaluated[evaluated["date"] == evaluated["date"].max()]
    plots = {f"{m}_{r.score}_{r.horizon}d": float(getattr(r, m)) for r in last.itertuples()
             for m in MEASURES if m in ("ic", "rank_ic", "quintile_spread")}
    return Output(evaluated, metadata={
        **range_metadata(days), "screen": primary, "status": "evaluated", **plots,
        f"rolling_{ROLLING_SESSIONS}": markdown_table(rolling, ".4f"),
    })
