"""A scan run in this process: the daily job for one day, every asset or only those the settings change,
and the day put back as it was when the run fails."""

from __future__ import annotations

import pandas as pd
from dagster import AssetKey

from technic_assets.assets.market_data import refuse_mixing
from technic_assets.cli.progress import progress_logger
from technic_assets.definitions import ASSETS, build_definitions
from technic_assets.environment import Environment
from technic_assets.errors import root_cause
from technic_assets.instance import open_instance
from technic_assets.market.factory import label as source_label
from technic_assets.screens import Screens
from technic_assets.storage.history import screen_rows

# Assets that no scan setting changes, so a warm scan reads them from the store. alpha_evaluation is
# one: it measures the scores of 5 and 10 sessions back, not the day's. The first ones are the day's
# foundation; the rest can be legitimately empty (a source without fundamentals, no model yet, nothing
# to evaluate yet), so a day without their rows simply recomputes them, which costs little.
FOUNDATION = ("universe", "price_bars", "indicators", "market_regime")
SETTINGS_FREE = (*FOUNDATION, "fundamentals", "alpha_model", "alpha_evaluation")
# Made ahead for the evening's users, and not by a warm scan of other settings: its few seconds would
# become twenty on a long store (the next re-screen with new settings reads the store instead)
AHEAD = ("rescreen_inputs",)


def assets_to_run(history, day: str, refresh: bool) -> list[str] | None:
    """The asset keys to materialize, decided from what the store holds (not from run records, which
    outlive a deleted or switched store): None (all) unless the day's foundation is stored; else what
    the settings change, and whichever settings-free asset has no rows for the day."""
    if refresh:
        return None
    stamp = pd.Timestamp(day)

    def there(name: str) -> bool:
        return bool(history.dates_present(name, stamp, stamp))

    if not all(there(name) for name in FOUNDATION):
        return None
    return [a.key.to_user_string() for a in ASSETS if a.key.to_user_string() not in AHEAD
            and (a.key.to_user_string() not in SETTINGS_FREE or not there(a.key.to_user_string()))]


def run_scan(day: str, settings, env: Environment, *, resources: dict | None = None, screens=None,
             quiet: bool = False, refresh: bool = False, replace_bars: bool = False):
    """Materialize the day in this process (every asset, or those the settings change) for `screens`
    (default: the saved screens); returns the stored top N of the first screen it ranked. `replace_bars`
    reads the day's bars from the source again (and recomputes every asset). A run that fails puts every
    table's rows of the day back as they were before it (`History.put_back`): no day is left half written."""
    screens = screens or (resources or {}).get("screens") or Screens(path=env.screens_path)
    try:
        first = screens.resolve(settings)[0].name
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    defs = build_definitions(env, resources={**(resources or {}), "scan": settings, "screens": screens},
                             loggers={"progress": progress_logger()})
    store = defs.resources["store"]
    try:
        refuse_mixing(store, source_label(env.market))  # before the run, as the assets would after its start
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    instance = open_instance()  # DAGSTER_HOME's (made under a lock on first use) or an ephemeral one
    selection = assets_to_run(store.history, day, refresh or replace_bars)
    job = defs.resolve_job_def("daily_scan")
    if selection is not None:
        job = job.get_subset(asset_selection={AssetKey(name) for name in selection})
    run_config = {"loggers": {"progress": {"config": {"quiet": quiet}}}}
    if replace_bars:
        run_config["ops"] = {"price_bars": {"config": {"replace_bars": True}}}
    tables = sorted(a.key.to_user_string() for a in ASSETS)
    before = store.history.day_rows(tables, pd.Timestamp(day))
    try:
        result = job.execute_in_process(partition_key=day, instance=instance, run_config=run_config,
                                        raise_on_error=False)
    except BaseException:  # Ctrl-C, or Dagster itself failing: the day as it was, then the error
        store.history.put_back(before, pd.Timestamp(day))
        raise
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        msg = root_cause(failures[0].step_failure_data.error) if failures else "the run failed"
        restored = store.history.put_back(before, pd.Timestamp(day))
        kept = f"; every table's rows of {day} are as they were before the run" if restored else ""
        raise SystemExit(f"error: {msg}{kept}")
    top = screen_rows(store.history.read_dates("ranked_top_n", [pd.Timestamp(day)]), first)
    return top.sort_values("rank").reset_index(drop=True)
