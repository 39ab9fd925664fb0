"""XGBoost alpha models: walk-forward training without look-ahead, content-hashed, scored in one batch.

A model trained "for" a day T learns only from labels fully known before T. Its caller hands it
bars dated before T only, so a label needing a later close cannot exist; on top of that the training
rows end `embargo` sessions before the last labelled day. The most recent VALIDATION_SHARE of the
labelled days (after a gap of horizon + embargo sessions) is held out: the model is fitted on the
rest and its validation IC measured there, out of sample. Fixed seed, fixed rounds, no early stopping:
the same rows give the same model, byte for byte, and so the same content hash.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from technic_assets.core.alpha_features import FEATURES, HORIZONS, features_for_day
from technic_assets.core.frames import by_day, days_of
from technic_assets.core.signal_quality import signal_quality

if TYPE_CHECKING:
    import xgboost as xgb  # imported where a model is trained or loaded: a warm scan need not pay for it

VALIDATION_SHARE = 0.15
DEVICES = ("cpu", "cuda")


class InsufficientHistory(ValueError):
    """Too few signal days with known labels before the training date to fit a model."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a model besides its data; its `key` tells stored models apart."""

    training_sessions: int = 504  # two years of signal days before the training date
    embargo: int = 5
    rounds: int = 100
    day_stride: int = 3  # every third signal day: 5/10-day labels overlap, so this loses little
    seed: int = 7
    params: dict = field(default_factory=lambda: {
        "objective": "reg:squarederror", "tree_method": "hist", "max_depth": 4, "eta": 0.08,
        "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 400, "lambda": 10.0,
        "max_bin": 64,
    })

    @property
    def key(self) -> str:
        text = json.dumps({**asdict(self), "features": FEATURES}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class TrainedModel:
    horizon: int
    booster: xgb.Booster
    meta: dict

    @property
    def raw(self) -> bytes:
        return bytes(self.booster.save_raw("ubj"))

    @property
    def model_id(self) -> str:
        """The content hash: sha256 of the serialized booster."""
        return hashlib.sha256(self.raw).hexdigest()[:16]


def training_target(label: pd.Series, dates: pd.Series, q: float = 0.01) -> pd.Series:
    """What the trees fit: each day's labels clipped at its q and 1-q quantiles (fat tails should not
    steer them) and divided by that day's deviation, so that a turbulent week does not outweigh a
    calm quarter: the task is ranking names within a day."""
    by_day = label.groupby(dates)
    clipped = label.clip(by_day.transform(lambda x: x.quantile(q)), by_day.transform(lambda x: x.quantile(1 - q)))
    return clipped / clipped.groupby(dates).transform("std")


def split_days(days: pd.DatetimeIndex, horizon: int, embargo: int) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """(fit days, validation days): the last VALIDATION_SHARE held out, with horizon + embargo
    sessions dropped between them so no fit label overlaps a validation label's period."""
    n_val = max(int(len(days) * VALIDATION_SHARE), 1)
    gap = horizon + embargo
    return days[: max(len(days) - n_val - gap, 0)], days[len(days) - n_val:]


def last_signal_day(trained_for: pd.Timestamp, sessions: pd.DatetimeIndex, horizon: int, embargo: int) -> pd.Timestamp:
    """The latest signal day a model trained for `trained_for` may learn from: its label ends
    `horizon` sessions later and `embargo` more sessions must pass before `trained_for`."""
    before = sessions[sessions < trained_for]
    return before[-(horizon + embargo + 1)]


def train_model(rows: pd.DataFrame, horizon: int, config: TrainConfig, trained_for: pd.Timestamp,
                sessions: pd.DatetimeIndex, device: str = "cpu", nthread: int = 0) -> TrainedModel:
    """Fit one horizon's model on `rows` (training_rows output) for use from `trained_for` on.
    `sessions` is the trading calendar; rows after last_signal_day are purged whatever they hold."""
    if device not in DEVICES:
        raise ValueError(f"alpha device {device!r} is not one of {', '.join(DEVICES)}")
    label = f"label_{horizon}"
    last = last_signal_day(trained_for, sessions, horizon, config.embargo)
    rows = rows[rows["date"] <= last].dropna(subset=[label])
    days = pd.DatetimeIndex(sorted(rows["date"].unique()))[-config.training_sessions:]
    fit_days, val_days = split_days(days, horizon, config.embargo)
    fit_days = fit_days[::-1][:: config.day_stride][::-1]  # stride back from the newest day
    if len(fit_days) < 20:
        raise InsufficientHistory(f"too little history to train the {horizon}-day alpha model for "
                         f"{trained_for:%Y-%m-%d}: {len(fit_days)} signal days with known labels "
                         "(at least 20 needed; an earlier TECHNIC_START_DATE gives more)")
    fit = rows[rows["date"].isin(fit_days)]
    y = training_target(fit[label], fit["date"]).to_numpy(np.float32)
    import xgboost as xgb

    dtrain = xgb.QuantileDMatrix(fit[list(FEATURES)].to_numpy(np.float32), y,
                                 max_bin=config.params["max_bin"], feature_names=list(FEATURES))
    params = {**config.params, "seed": config.seed, "device": device, "nthread": nthread}
    booster = xgb.train(params, dtrain, num_boost_round=config.rounds)
    val = rows[rows["date"].isin(val_days)]
    quality = daily_quality(val["date"], predict(booster, val[list(FEATURES)]), val[label])
    gain = booster.get_score(importance_type="gain")
    total = sum(gain.values()) or 1.0
    return TrainedModel(horizon, booster, {
        "horizon": horizon, "trained_for": trained_for, "config": config.key,
        "train_start": fit_days[0], "train_end": fit_days[-1], "rows": len(fit),
        "validation_start": val_days[0], "validation_end": val_days[-1], "validation_rows": len(val),
        "validation_ic": quality["ic"], "validation_rank_ic": quality["rank_ic"],
        "features": list(FEATURES),
        "importances": {f: round(gain.get(f, 0.0) / total, 4) for f in FEATURES},
    })


def predict(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """One batched prediction for every row (missing features are NaN; XGBoost routes them)."""
    return booster.inplace_predict(features[list(FEATURES)].to_numpy(np.float32))


def load_booster(raw: bytes) -> xgb.Booster:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def daily_quality(dates: pd.Series, score, outcome: pd.Series) -> dict:
    """Mean over days of each day's signal_quality (IC, rank IC, ...), NaN when there are no days."""
    frame = pd.DataFrame({"date": np.asarray(dates), "score": np.asarray(score), "outcome": np.asarray(outcome)})
    per_day = [signal_quality(g["score"], g["outcome"]) for _, g in frame.groupby("date")]
    if not per_day:
        return {"ic": float("nan"), "rank_ic": float("nan")}
    return {k: float(np.nanmean([d[k] for d in per_day])) for k in per_day[0]}


def retrain_day(day: pd.Timestamp, cadence: str, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    """The session a day's models are trained for: the first of its month (or week) in `sessions`."""
    period = "M" if cadence == "month" else "W"
    same = sessions[(sessions.to_period(period) == day.to_period(period)) & (sessions <= day)]
    return same[0]


def forecasts_for_days(kept: pd.DataFrame, indicators: pd.DataFrame, fundamentals: pd.DataFrame,
                       models: pd.DataFrame, booster) -> tuple[pd.DataFrame, float]:
    """alpha_<h>d and model_<h>d for each day's filtered universe: one batched predict per day and
    horizon with the day's models (`models`: date, horizon, model_id; `booster(model_id)` loads one).
    NaN forecasts on a day without models. Returns (the frame, seconds spent predicting)."""
    days = days_of(kept)
    parts = {name: by_day(frame, days) for name, frame in
             (("kept", kept), ("ind", indicators), ("fund", fundamentals), ("model", models))}
    frames, seconds = [], 0.0
    for day in days:
        symbols = parts["kept"][day]["symbol"]
        out = pd.DataFrame({"date": day, "symbol": symbols.to_numpy()})
        for h in HORIZONS:
            out[f"alpha_{h}d"], out[f"model_{h}d"] = np.nan, ""
        if len(parts["model"][day]):
            features = features_for_day(day, parts["ind"][day].drop(columns="date"),
                                        parts["fund"][day].drop(columns="date"), symbols)
            start = time.perf_counter()
            for row in parts["model"][day].itertuples():
                out[f"alpha_{row.horizon}d"] = predict(booster(row.model_id), features).astype(np.float64)
                out[f"model_{row.horizon}d"] = row.model_id
            seconds += time.perf_counter() - start
        frames.append(out)
    return pd.concat(frames, ignore_index=True), seconds


__all__ = ["HORIZONS", "InsufficientHistory", "TrainConfig", "TrainedModel", "train_model", "predict", "load_booster",
           "retrain_day", "forecasts_for_days"]
