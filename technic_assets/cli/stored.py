"""What the reading commands (top, export, backtest) share: the store opened as the settings name it,
and the screen to show when none is asked for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from technic_assets.config import ScanSettings
from technic_assets.environment import Environment
from technic_assets.resources import build_resources
from technic_assets.screens import Screens


def open_store(env: Environment):
    """(what messages call the store, its History): the DuckDB file or the Iceberg store (TECHNIC_STORE)."""
    store = build_resources(env)["store"]
    if not store.iceberg and not Path(store.path).exists():
        raise SystemExit(f"error: no store at {store.path}; run `technic scan` first")
    return store.path, store.history


def pick_screen(tops: pd.DataFrame, asked: str | None, env: Environment, day: str) -> str:
    """The screen to show: the one asked for, else the saved screens' first ("default" where there is
    one) when stored for the day, else the only one stored; an error lists the day's screens."""
    stored = sorted(set(tops["screen"].fillna("default"))) if "screen" in tops else ["default"]
    if asked is not None:
        if asked not in stored:
            raise SystemExit(f"error: no screen {asked!r} stored for {day}; stored: {', '.join(stored)}")
        return asked
    try:
        primary = Screens(path=env.screens_path).primary(ScanSettings())
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if primary in stored:
        return primary
    if len(stored) == 1:
        return stored[0]
    raise SystemExit(f"error: several screens stored for {day} ({', '.join(stored)}); pick one with --screen")
