"""The model registry: alpha models stored once by content hash, one row per model."""

from __future__ import annotations

import pandas as pd

from technic_assets.storage.connection import SCHEMA, transaction
from technic_assets.storage.history import History

MODELS_DDL = (f"CREATE TABLE IF NOT EXISTS {SCHEMA}.alpha_models (model_id VARCHAR PRIMARY KEY, "
              "horizon INTEGER, trained_for TIMESTAMP, config VARCHAR, meta VARCHAR, model BLOB)")


class ModelRegistry:
    def __init__(self, path: str):
        self.path = path
        self.history = History(path)

    def find(self, trained_for: pd.Timestamp, config: str) -> pd.DataFrame:
        """Stored models trained for `trained_for` under training config `config` (without blobs)."""
        found = self.history.query(
            "alpha_models", f"SELECT model_id, horizon, meta FROM {SCHEMA}.alpha_models "
            "WHERE trained_for = ? AND config = ? ORDER BY horizon", [trained_for.to_pydatetime(), config])
        return found if found is not None else pd.DataFrame(columns=["model_id", "horizon", "meta"])

    def save(self, models: list[tuple[str, int, pd.Timestamp, str, str, bytes]]) -> None:
        """Store (model_id, horizon, trained_for, config, meta json, serialized booster) rows
        atomically; a model already stored under its id is kept (same id, same bytes)."""
        with transaction(self.path) as conn:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}").fetchall()
            conn.execute(MODELS_DDL).fetchall()
            for model_id, horizon, trained_for, config, meta, raw in models:
                conn.execute(f"INSERT OR IGNORE INTO {SCHEMA}.alpha_models VALUES (?, ?, ?, ?, ?, ?)",
                             [model_id, horizon, trained_for.to_pydatetime(), config, meta, raw]).fetchall()

    def model_bytes(self, model_id: str) -> bytes:
        return self.history.model_bytes(model_id)
