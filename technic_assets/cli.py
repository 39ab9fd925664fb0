"""`technic`: the scan from a terminal. Runs the same assets in process and prints the result.

    technic scan [--date YYYY-MM-DD] [--top N] [--style swing|medium|position] [--sector NAME ...] [--refresh]
    technic top  [--date YYYY-MM-DD]          print a stored top N
    technic worker [--name NAME] [--concurrency N]   serve steps of runs on the Celery executor
    technic backfill --from YYYY-MM-DD --to YYYY-MM-DD [--wait]   an asset backfill the daemon carries out

A scan materializes only what its settings change when the store already holds the day's
settings-free assets (universe, bars, fundamentals, indicators, regime, models): a second scan of a
day with other settings re-filters, re-scores and re-ranks, and takes a few seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

from technic_assets.environment import Environment
from technic_assets.errors import root_cause, settings_error

warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*is in preview.*")

SHOWN = ["rank", "symbol", "sector", "merit_score", "ics_score", "alpha_5d", "close", "rsi_14", "roc_63", "reasons"]


class _Progress(logging.Handler):
    """Prints one line as each asset finishes, and the assets' own info lines."""

    def __init__(self, stream):
        super().__init__()
        self.stream, self.start = stream, time.perf_counter()

    def emit(self, record):
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        elapsed = time.perf_counter() - self.start
        if event is not None and event.event_type_value == "STEP_SUCCESS":
            print(f"  [{elapsed:6.1f}s] done  {event.step_key}", file=self.stream, flush=True)
        elif event is not None and event.event_type_value == "STEP_FAILURE":
            print(f"  [{elapsed:6.1f}s] FAILED {event.step_key}", file=self.stream, flush=True)
        elif event is None and record.levelno >= logging.INFO:
            print(f"  [{elapsed:6.1f}s] {meta.get('orig_message', record.getMessage())}", file=self.stream, flush=True)


def _progress_logger():
    from dagster import logger

    @logger
    def progress(_init_context):
        log = logging.Logger("technic.progress", level=logging.DEBUG)
        log.addHandler(_Progress(sys.stderr))
        return log

    return progress


def resolve_date(raw: str | None, env: Environment, source=None) -> str:
    """The scan date: a given NYSE session, or else the configured source's latest complete one, as
    the sensor takes it (a closed session the provider has not published yet would scan nothing).
    `source` is that provider, or a MarketResource to take it from; None builds it from `env`."""
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.market.base import ProviderError
    from technic_assets.partitions import build_partitions, first_scannable, is_session, nyse

    if raw is None:
        try:
            day = _source(env, source).latest_session(pd.Timestamp.now(tz="UTC"))
        except ProviderError as exc:
            raise SystemExit(f"error: the latest session could not be asked of the data source: {exc}") from None
    else:
        try:
            stamp = pd.Timestamp(raw)
        except ValueError:
            raise SystemExit(f"error: --date {raw!r} is not a date (want YYYY-MM-DD)") from None
        cal = nyse()
        if not cal.first_session <= stamp <= cal.last_session:
            raise SystemExit(f"error: --date {raw} is outside the NYSE calendar "
                             f"({cal.first_session:%Y-%m-%d} .. {cal.last_session:%Y-%m-%d})")
        if not is_session(stamp):
            raise SystemExit(f"error: --date {raw} is not an NYSE trading day (weekend, holiday or closure)")
        day = stamp.strftime("%Y-%m-%d")
    partitions = build_partitions(env.start_date)
    earliest = first_scannable(partitions)
    if earliest == "none yet" or day < earliest:
        raise SystemExit(f"error: scan date {day} needs {LOOKBACK} sessions of history but partitions start on "
                         f"{partitions.get_first_partition_key()} (TECHNIC_START_DATE); the first date that can be "
                         f"scanned is {earliest}")
    return day


def _source(env: Environment, given=None):
    """The data source: `given` if it is one, else that of the market resource given or built from
    `env`, its settings (EnvVars) read as a run reads them."""
    from technic_assets.resources import MarketResource, build_resources

    if given is not None and not isinstance(given, MarketResource):
        return given
    with (given or build_resources(env)["market"]).process_config_and_initialize_cm() as market:
        return market.source()


# Assets that no scan setting changes, so a warm scan reads them from the store. alpha_evaluation is
# one: it measures the scores of 5 and 10 sessions back, not the day's.
SETTINGS_FREE = ("universe", "price_bars", "fundamentals", "indicators", "market_regime", "alpha_model",
                 "alpha_evaluation")


def assets_to_run(history, instance, day: str, refresh: bool) -> list[str] | None:
    """The asset keys to materialize: None (all) unless every settings-free asset of the day is there,
    as rows in the store or as a materialization the instance recorded (some are legitimately empty:
    no model yet, nothing to evaluate yet)."""
    from dagster import AssetKey

    from technic_assets.definitions import ASSETS

    if refresh:
        return None
    stamp = pd.Timestamp(day)

    def there(name: str) -> bool:
        if history.dates_present(name, stamp, stamp):
            return True
        return not instance.is_ephemeral and day in instance.get_materialized_partitions(AssetKey(name))

    if all(there(name) for name in SETTINGS_FREE):
        return [a.key.to_user_string() for a in ASSETS if a.key.to_user_string() not in SETTINGS_FREE]
    return None


def run_scan(day: str, settings, env: Environment, *, resources: dict | None = None, quiet: bool = False,
             refresh: bool = False):
    """Materialize the day in this process (every asset, or those the settings change); returns the stored top N."""
    from dagster import AssetKey, DagsterInstance

    from technic_assets.definitions import build_definitions

    defs = build_definitions(env, resources={**(resources or {}), "scan": settings},
                             loggers={"progress": _progress_logger()})
    store = defs.resources["store"]
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    selection = assets_to_run(store.history, instance, day, refresh)
    job = defs.resolve_job_def("daily_scan")
    if selection is not None:
        job = job.get_subset(asset_selection={AssetKey(name) for name in selection})
    run_config = {"loggers": {"progress": {}}} if not quiet else {}
    result = job.execute_in_process(partition_key=day, instance=instance, run_config=run_config,
                                    raise_on_error=False)
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        msg = root_cause(failures[0].step_failure_data.error) if failures else "the run failed"
        raise SystemExit(f"error: {msg}")
    return store.history.read_dates("ranked_top_n", [pd.Timestamp(day)]).sort_values("rank").reset_index(drop=True)


def print_table(top: pd.DataFrame, day: str, out=None) -> None:
    out = out or sys.stdout
    view = top[SHOWN].copy()
    for col in ("merit_score", "ics_score", "rsi_14", "roc_63"):
        view[col] = view[col].map(lambda v: f"{v:.1f}")
    view["close"] = view["close"].map(lambda v: f"{v:,.2f}")
    view["alpha_5d"] = view["alpha_5d"].map(lambda v: f"{v:+.2%}" if pd.notna(v) else "-")
    print(f"\nTechnic top {len(top)} for {day}\n", file=out)
    print(view.to_string(index=False), file=out)


def _backfill(args, env: Environment) -> int:
    """Submit the backfill to the instance in DAGSTER_HOME (and wait for it with --wait)."""
    from dagster import DagsterInstance

    from technic_assets import backfill
    from technic_assets.definitions import build_definitions

    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("error: a backfill needs DAGSTER_HOME, the instance the daemon (dagster-daemon run) serves")
    with DagsterInstance.get() as instance:
        try:
            backfill_id = backfill.submit(instance, build_definitions(env), args.start, args.end)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        print(f"backfill {backfill_id}: {args.start}...{args.end} submitted", file=sys.stderr)
        if args.wait:
            status = backfill.wait(instance, backfill_id)
            print(f"backfill {backfill_id}: {status}", file=sys.stderr)
            return 0 if status == "COMPLETED_SUCCESS" else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="technic", description="Technic: the daily US stock scan")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="run the daily scan for a date and print the top N")
    scan.add_argument("--date", help="NYSE trading day (default: the latest closed session)")
    scan.add_argument("--top", type=int, default=25, help="how many picks (default 25)")
    scan.add_argument("--style", default="medium", help="swing, medium or position (default medium)")
    scan.add_argument("--sector", action="append", default=[], help="keep only this GICS sector (repeatable)")
    scan.add_argument("--refresh", action="store_true", help="recompute every asset, even those the store holds")
    scan.add_argument("--quiet", action="store_true", help="no progress lines")
    top = sub.add_parser("top", help="print a stored top N")
    top.add_argument("--date", help="NYSE trading day (default: the latest stored)")
    worker = sub.add_parser("worker", help="serve steps of runs on the Celery executor (TECHNIC_EXECUTOR=celery)")
    worker.add_argument("--name", help="the worker's name (default technic-PID), shown in each step's events")
    worker.add_argument("--concurrency", type=int, default=1, help="steps at once (default 1)")
    worker.add_argument("--loglevel", default="INFO", help="Celery's log level (default INFO)")
    fill = sub.add_parser("backfill", help="backfill every asset for a range of days (the daemon runs it, "
                                           "following each asset's backfill policy)")
    fill.add_argument("--from", dest="start", required=True, help="first NYSE trading day")
    fill.add_argument("--to", dest="end", required=True, help="last NYSE trading day")
    fill.add_argument("--wait", action="store_true", help="wait until it has finished; fail if it failed")
    args = parser.parse_args(argv)
    try:
        env = Environment.read()
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None

    if args.command == "worker":
        from technic_assets.distributed import start_worker

        start_worker(args.name, args.concurrency, args.loglevel)
        return 0
    if args.command == "backfill":
        return _backfill(args, env)
    if args.command == "scan":
        from technic_assets.resources import ScanSettings, build_resources

        try:
            settings = ScanSettings(style=args.style, top_n=args.top, sectors=args.sector)
        except ValueError as exc:
            raise SystemExit(f"error: invalid scan settings: {settings_error(exc)}") from None
        try:
            resources = build_resources(env)  # the source named and checked before anything runs
        except ValueError as exc:
            raise SystemExit(f"error: {settings_error(exc)}") from None
        day = resolve_date(args.date, env, resources["market"])
        print(f"Scanning {day} (style {args.style}, top {args.top}) ...", file=sys.stderr)
        started = time.perf_counter()
        result = run_scan(day, settings, env, resources=resources, quiet=args.quiet, refresh=args.refresh)
        print_table(result, day)
        print(f"\n{time.perf_counter() - started:.1f}s", file=sys.stderr)
    elif args.command == "top":
        from technic_assets.resources import build_resources

        store = build_resources(env)["store"]
        path = store.path
        if not store.iceberg and not Path(path).exists():
            raise SystemExit(f"error: no store at {path}; run `technic scan` first")
        history = store.history
        latest = history.query("ranked_top_n", "SELECT max(date) AS day FROM technic.ranked_top_n", [])
        if latest is None:
            raise SystemExit(f"error: no ranked_top_n in {path} yet; run `technic scan` first")
        day = args.date or f"{pd.Timestamp(latest['day'].iloc[0]):%Y-%m-%d}"
        result = history.read_dates("ranked_top_n", [pd.Timestamp(day)])
        if result.empty:
            raise SystemExit(f"error: no stored top N for {day} in {path}")
        print_table(result.sort_values("rank").reset_index(drop=True), day)
    return 0


if __name__ == "__main__":
    sys.exit(main())
