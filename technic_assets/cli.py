"""`technic`: the scan from a terminal. Runs the same assets in process and prints the result.

    technic scan [--date YYYY-MM-DD] [--screen NAME] [--refresh | --replace-bars]   every saved screen, or one
    technic scan [--date YYYY-MM-DD] [--top N] [--style swing|medium|position] [--sector NAME ...]
                                                  a one-off screen, kept as the screen "adhoc"
    technic top  [--date YYYY-MM-DD] [--format table|csv|json|markdown] [--output FILE] [--columns A,B]
                 [--top N] [--changes]        a stored top N (or its changes since the previous session)
    technic export TABLE --from DATE --to DATE [--format parquet|csv] [--output FILE]
    technic backtest [--screen NAME] [--from D] [--to D] [--horizon H] [--cost-bps C] [--benchmark SYM]
                     [--style S] [--sector X] [--top N] [--set FIELD=VALUE] [--format table|json|csv]
                                              a stored screen's track record against its baselines
    technic plan [--date YYYY-MM-DD]          the requests a scan will make, and how long they take
    technic serve [--host 127.0.0.1] [--port 8000] [--date YYYY-MM-DD]   the live server and web page
    technic watch [--url http://127.0.0.1:8000]                           the live table in a terminal
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
from technic_assets.market.factory import is_remote

warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*is in preview.*")

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
    """The run's logger: a line per finished asset, or nothing at all with `{"config": {"quiet": True}}`
    (without a logger of its own a run falls back on Dagster's console logger, debug lines and all)."""
    from dagster import Field, logger

    @logger(config_schema={"quiet": Field(bool, default_value=False)})
    def progress(init_context):
        log = logging.Logger("technic.progress", level=logging.DEBUG)
        log.addHandler(logging.NullHandler() if init_context.logger_config["quiet"] else _Progress(sys.stderr))
        return log

    return progress


def scannable_range(env: Environment, now: pd.Timestamp) -> tuple[str, str]:
    """(the first session with a whole history window, the latest closed session as of `now`), or one
    line saying that TECHNIC_START_DATE leaves no day to scan yet (never a range that ends before it starts)."""
    from technic_assets.core.calendar import latest_closed_session, nyse
    from technic_assets.core.indicators import LOOKBACK
    from technic_assets.partitions import build_partitions, first_scannable

    partitions = build_partitions(env.start_date)
    earliest, latest = first_scannable(partitions), latest_closed_session(now)
    if earliest == "none yet" or earliest > latest:
        first = (f"past the end of the NYSE calendar ({nyse().last_session:%Y-%m-%d})" if earliest == "none yet"
                 else f"{earliest}, after the latest closed session ({latest})")
        raise SystemExit(f"error: TECHNIC_START_DATE={env.start_date} leaves no day to scan yet: partitions start on "
                         f"{partitions.get_first_partition_key()} and the first day with {LOOKBACK} sessions of "
                         f"history is {first}")
    return earliest, latest


def check_scannable(day: str, env: Environment, now: pd.Timestamp, what: str = "scan date") -> str:
    """`day` itself, or one line naming it and the range of days that can be scanned."""
    from technic_assets.core.indicators import LOOKBACK

    earliest, latest = scannable_range(env, now)
    if day > latest:
        raise SystemExit(f"error: {what} {day} has not closed yet (the latest closed session is {latest}); "
                         f"days that can be scanned: {earliest} .. {latest}")
    if day < earliest:
        raise SystemExit(f"error: {what} {day} needs {LOOKBACK} sessions of history from TECHNIC_START_DATE "
                         f"({env.start_date}) on; days that can be scanned: {earliest} .. {latest}")
    return day


def parse_session(raw: str, flag: str = "--date") -> str:
    """A YYYY-MM-DD that is an NYSE session, or one line saying what it is instead. A day beyond the
    calendar's years passes: check_scannable refuses it, naming the days that can be scanned."""
    from technic_assets.core.calendar import is_session, nyse

    try:
        stamp = pd.Timestamp(raw)
    except ValueError:
        raise SystemExit(f"error: {flag} {raw!r} is not a date (want YYYY-MM-DD)") from None
    cal = nyse()
    if cal.first_session <= stamp <= cal.last_session and not is_session(stamp):
        raise SystemExit(f"error: {flag} {raw} is not an NYSE trading day (weekend, holiday or closure)")
    return stamp.strftime("%Y-%m-%d")


def resolve_date(raw: str | None, env: Environment, source=None, now: pd.Timestamp | None = None) -> str:
    """The scan date: a given NYSE session, or else the configured source's latest complete one, as
    the sensor takes it (a closed session the provider has not published yet would scan nothing);
    either checked against the days that can be scanned as of `now` (default: the wall clock).
    `source` is that provider, or a MarketResource to take it from; None builds it from `env`."""
    from technic_assets.core.calendar import utc_now
    from technic_assets.market.base import ProviderError

    now = utc_now() if now is None else now
    if raw is None:
        try:
            day = _source(env, source).latest_session(now)
        except ProviderError as exc:
            raise SystemExit(f"error: the latest session could not be asked of the data source: {exc}") from None
    else:
        day = parse_session(raw)
    return check_scannable(day, env, now)


def _source(env: Environment, given=None):
    """The data source: `given` if it is one, else that of the market resource given or built from
    `env`, its settings (EnvVars) read as a run reads them."""
    from technic_assets.resources import MarketResource, build_resources

    if given is not None and not isinstance(given, MarketResource):
        return given
    with (given or build_resources(env)["market"]).process_config_and_initialize_cm() as market:
        return market.source()


def request_plan(day: str, env: Environment, resources: dict):
    """The requests a scan of `day` makes of its source (technic_assets.plan), read from the store."""
    from technic_assets.partitions import build_partitions
    from technic_assets.plan import plan_scan

    first = pd.Timestamp(build_partitions(env.start_date).get_first_partition_key())
    with resources["market"].process_config_and_initialize_cm() as market:
        return plan_scan(pd.Timestamp(day), market, resources["alpha"], first)


# Assets that no scan setting changes, so a warm scan reads them from the store. alpha_evaluation is
# one: it measures the scores of 5 and 10 sessions back, not the day's. The first ones are the day's
# foundation; the rest can be legitimately empty (a source without fundamentals, no model yet, nothing
# to evaluate yet), so a day without their rows simply recomputes them, which costs little.
FOUNDATION = ("universe", "price_bars", "indicators", "market_regime")
SETTINGS_FREE = (*FOUNDATION, "fundamentals", "alpha_model", "alpha_evaluation")


def assets_to_run(history, day: str, refresh: bool) -> list[str] | None:
    """The asset keys to materialize, decided from what the store holds (not from run records, which
    outlive a deleted or switched store): None (all) unless the day's foundation is stored; else what
    the settings change, and whichever settings-free asset has no rows for the day."""
    from technic_assets.definitions import ASSETS

    if refresh:
        return None
    stamp = pd.Timestamp(day)

    def there(name: str) -> bool:
        return bool(history.dates_present(name, stamp, stamp))

    if not all(there(name) for name in FOUNDATION):
        return None
    return [a.key.to_user_string() for a in ASSETS
            if a.key.to_user_string() not in SETTINGS_FREE or not there(a.key.to_user_string())]


def run_scan(day: str, settings, env: Environment, *, resources: dict | None = None, screens=None,
             quiet: bool = False, refresh: bool = False, replace_bars: bool = False):
    """Materialize the day in this process (every asset, or those the settings change) for `screens`
    (default: the saved screens); returns the stored top N of the first screen it ranked. `replace_bars`
    reads the day's bars from the source again (and recomputes every asset). A run that fails puts every
    table's rows of the day back as they were before it (`History.put_back`): no day is left half written."""
    from dagster import AssetKey

    from technic_assets.assets.market_data import refuse_mixing
    from technic_assets.definitions import ASSETS, build_definitions
    from technic_assets.instance import open_instance
    from technic_assets.market.factory import label as source_label
    from technic_assets.screens import Screens
    from technic_assets.storage.history import screen_rows

    screens = screens or (resources or {}).get("screens") or Screens(path=env.screens_path)
    try:
        first = screens.resolve(settings)[0].name
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    defs = build_definitions(env, resources={**(resources or {}), "scan": settings, "screens": screens},
                             loggers={"progress": _progress_logger()})
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


def print_table(top: pd.DataFrame, day: str, screen: str, out=None) -> None:
    from technic_assets.output import DEFAULT_COLUMNS, pick_columns, render

    text = render(pick_columns(top, None, DEFAULT_COLUMNS), "table", title=f"Technic top {len(top)} for {day}, "
                  f"screen {screen}", day=day, source="")
    print(text, file=out or sys.stdout, end="")


def _open_store(env: Environment):
    """(what messages call the store, its History): the DuckDB file or the Iceberg store (TECHNIC_STORE)."""
    from technic_assets.resources import build_resources

    store = build_resources(env)["store"]
    if not store.iceberg and not Path(store.path).exists():
        raise SystemExit(f"error: no store at {store.path}; run `technic scan` first")
    return store.path, store.history


def show_top(args, env: Environment) -> None:
    """`technic top`: the stored top N (or its changes) in the format asked, to stdout or a file."""
    from technic_assets.output import CHANGE_COLUMNS, DEFAULT_COLUMNS, pick_columns, render, write_text
    from technic_assets.storage.history import screen_rows

    if args.top is not None and args.top < 1:
        raise SystemExit(f"error: --top {args.top}: want at least 1 rank")
    path, history = _open_store(env)
    latest = history.query("ranked_top_n", "SELECT max(date) AS day FROM technic.ranked_top_n", [])
    if latest is None or pd.isna(latest["day"].iloc[0]):
        raise SystemExit(f"error: no ranked_top_n in {path} yet; run `technic scan` first")
    day = resolve_stored_date(args.date, latest["day"].iloc[0])
    table = "changes" if args.changes else "ranked_top_n"
    tops = history.read_dates("ranked_top_n", [pd.Timestamp(day)])
    if tops.empty:
        raise SystemExit(f"error: no stored top N for {day} in {path}")
    screen = pick_screen(tops, args.screen, env, day)
    rows = screen_rows(history.read_dates(table, [pd.Timestamp(day)]), screen) if args.changes else screen_rows(tops, screen)
    if args.changes and rows.empty:
        raise SystemExit(f"error: no changes stored for {day}, screen {screen} in {path}: "
                         f"{why_no_changes(day, screen, env, history)}")
    if args.changes:
        if args.top is not None:  # the first N ranks today, and those that left them
            rows = rows[(rows["rank"] <= args.top) | (rows["previous_rank"] <= args.top)]
        title = f"Technic top {args.top or 'N'} changes for {day}, screen {screen}, since the previous session"
        default = CHANGE_COLUMNS
    else:
        rows = rows.sort_values("rank").reset_index(drop=True)
        if args.top is not None:
            rows = rows[rows["rank"] <= args.top]
        title, default = f"Technic top {len(rows)} for {day}, screen {screen}", DEFAULT_COLUMNS
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    try:
        source = history.sources().get(pd.Timestamp(day), "unknown (stored before sources were recorded)")
        text = render(pick_columns(rows.drop(columns="date"), columns, default), args.format, title=title, day=day,
                      source=source, screen=screen)
        write_text(text, args.output)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def why_no_changes(day: str, screen: str, env: Environment, history) -> str:
    """Why `day` has no stored changes for `screen`, and the scan that computes them (if any can)."""
    from technic_assets.core.calendar import nyse
    from technic_assets.partitions import build_partitions, first_scannable
    from technic_assets.screens import ADHOC_SCREEN
    from technic_assets.storage.history import screen_rows

    def scan(date: str) -> str:
        if screen == ADHOC_SCREEN:
            return f"`technic scan --date {date}` with the --style, --top and --sector the one-off screen had"
        return f"`technic scan --date {date}{'' if screen == 'default' else f' --screen {screen}'}`"

    before = f"{nyse().previous_session(pd.Timestamp(day)):%Y-%m-%d}"
    if before < first_scannable(build_partitions(env.start_date)):
        return (f"{day} is the first day that can be scanned from TECHNIC_START_DATE ({env.start_date}), so there is "
                "no earlier top N to compare it with")
    if screen_rows(history.read_dates("ranked_top_n", [pd.Timestamp(before)]), screen).empty:
        return (f"the previous session, {before}, has no top N of that screen to compare with; scan it ({scan(before)}) "
                "and the changes are computed")
    return (f"the previous session, {before}, is stored but {day} was not compared with it; scan {day} again "
            f"({scan(day)})")


def show_backtest(args, env: Environment) -> None:
    """`technic backtest`: the track record of a stored screen (technic_assets.backtest)."""
    from technic_assets.backtest import as_csv, as_json, as_table
    from technic_assets.config import settings_json
    from technic_assets.track import stored_record

    if args.horizon < 1:
        raise SystemExit(f"error: --horizon {args.horizon}: want at least 1 session")
    if args.cost_bps < 0:
        raise SystemExit(f"error: --cost-bps {args.cost_bps:g}: costs cannot be negative")
    start, end = (resolve_stored_date(d, None, flag) if d else None for d, flag in ((args.start, "--from"), (args.end, "--to")))
    path, history = _open_store(env)
    tops = history.query("ranked_top_n", "SELECT DISTINCT coalesce(screen, 'default') AS screen FROM technic.ranked_top_n", [])
    if tops is None or tops.empty:
        raise SystemExit(f"error: no ranked_top_n in {path} yet; run `technic scan` first")
    screen = pick_screen(tops, args.screen, env, "the stored days")
    settings = one_off_settings(args, env, screen)
    try:
        record = stored_record(history, screen, start, end, horizon=args.horizon, cost_bps=args.cost_bps,
                               benchmark=args.benchmark, settings=settings, alpha_weight=env.alpha_weight)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    sources = ", ".join(sorted(set(history.sources().values())) or ["unknown"])
    if args.format == "csv":
        print(as_csv(record.daily), end="")
    elif args.format == "json":
        print(as_json(record.summary, sources, settings_json(settings) if settings else None), end="")
    else:
        print(as_table(record.summary, sources), end="")


def one_off_settings(args, env: Environment, screen: str):
    """The settings a backtest re-screens history with: the saved screen's, changed by --style,
    --sector, --top and --set FIELD=VALUE (any ScanSettings field); None when none is given (the
    stored rows are the record)."""
    from pydantic import ValidationError

    from technic_assets.config import ScanSettings, scan_settings
    from technic_assets.screens import Screens

    changes = dict(item.split("=", 1) if "=" in item else (item, None) for item in args.set)
    bad = [k for k, v in changes.items() if v is None or k not in ScanSettings.model_fields]
    if bad:
        raise SystemExit(f"error: --set {bad[0]}: want FIELD=VALUE with FIELD one of "
                         f"{', '.join(ScanSettings.model_fields)}")
    changes.update({k: v for k, v in (("style", args.style), ("top_n", args.top)) if v is not None})
    if args.sector:
        changes["sectors"] = args.sector
    if not changes:
        return None
    try:
        saved = {s.name: s.settings for s in Screens(path=env.screens_path).resolve(ScanSettings())}
        return scan_settings(saved.get(screen, ScanSettings()), **changes)
    except (ValidationError, ValueError) as exc:
        raise SystemExit(f"error: {settings_error(exc)}") from None


def pick_screen(tops: pd.DataFrame, asked: str | None, env: Environment, day: str) -> str:
    """The screen to show: the one asked for, else the saved screens' first ("default" where there is
    one) when stored for the day, else the only one stored; an error lists the day's screens."""
    from technic_assets.config import ScanSettings
    from technic_assets.screens import Screens

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


def resolve_stored_date(raw: str | None, latest, flag: str = "--date") -> str:
    if raw is None:
        return f"{pd.Timestamp(latest):%Y-%m-%d}"
    try:
        return f"{pd.Timestamp(raw):%Y-%m-%d}"
    except ValueError:
        raise SystemExit(f"error: {flag} {raw!r} is not a date (want YYYY-MM-DD)") from None


def export(args, env: Environment) -> None:
    """`technic export`: a stored table's rows between two dates, to Parquet or CSV."""
    from technic_assets.definitions import ASSETS
    from technic_assets.output import write_table

    tables = sorted(a.key.to_user_string() for a in ASSETS)
    if args.table not in tables:
        raise SystemExit(f"error: no table {args.table!r}; the tables are {', '.join(tables)}")
    start, end = (pd.Timestamp(resolve_stored_date(d, None)) for d in (args.start, args.end))
    if start > end:
        raise SystemExit(f"error: --from {start:%Y-%m-%d} is after --to {end:%Y-%m-%d}")
    path, history = _open_store(env)
    rows = history.read_span(args.table, start, end)
    if rows.empty:
        raise SystemExit(f"error: {args.table} holds no rows from {start:%Y-%m-%d} to {end:%Y-%m-%d} in {path}")
    output = args.output or f"{args.table}_{start:%Y%m%d}_{end:%Y%m%d}.{args.format}"
    try:
        write_table(rows, args.format, output)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{len(rows):,} rows of {args.table} ({start:%Y-%m-%d} .. {end:%Y-%m-%d}) -> {output}", file=sys.stderr)


def _backfill(args, env: Environment) -> int:
    """Submit the backfill to the instance in DAGSTER_HOME (and wait for it with --wait)."""
    from technic_assets import backfill
    from technic_assets.definitions import build_definitions
    from technic_assets.instance import open_instance

    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("error: a backfill needs DAGSTER_HOME, the instance the daemon (dagster-daemon run) serves")
    with open_instance() as instance:
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


def main(argv: list[str] | None = None, now: pd.Timestamp | None = None) -> int:
    """The CLI; `now` is the clock's time for the dates it checks (default: the wall clock)."""
    parser = argparse.ArgumentParser(prog="technic", description="Technic: the daily US stock scan")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="run the daily scan for a date and print the top N")
    scan.add_argument("--date", help="NYSE trading day (default: the latest closed session)")
    scan.add_argument("--screen", help="rank only this saved screen (default: every saved screen)")
    scan.add_argument("--top", type=int, help="a one-off screen: how many picks (default 25)")
    scan.add_argument("--style", help="a one-off screen: swing, medium or position (default medium)")
    scan.add_argument("--sector", action="append", default=[], help="a one-off screen: keep only this GICS sector "
                                                                     "(repeatable)")
    scan.add_argument("--refresh", action="store_true", help="recompute every asset, even those the store holds "
                                                              "(the day's bars are read from the store)")
    scan.add_argument("--replace-bars", action="store_true",
                      help="read the day's bars from the source again, replacing the stored ones (a corrected file), "
                           "and recompute every asset; refused if the source has fewer than half the stored bars")
    scan.add_argument("--quiet", action="store_true", help="no progress lines")
    top = sub.add_parser("top", help="print a stored top N, or what changed since the previous session")
    top.add_argument("--date", help="NYSE trading day (default: the latest stored)")
    top.add_argument("--screen", help="which saved screen (default: \"default\", or the only one stored)")
    top.add_argument("--format", choices=["table", "csv", "json", "markdown"],
                     help="table (default, for a person), csv, json or markdown (for other tools); with --output "
                          "and no --format, the file's extension says which")
    top.add_argument("--output", help="write to this file (whole, or not at all) instead of stdout")
    top.add_argument("--columns", help="comma-separated columns, in order (default: the usual ones)")
    top.add_argument("--top", type=int, help="only the first N ranks")
    top.add_argument("--changes", action="store_true",
                     help="entries, exits, rank moves and MERIT changes since the previous session")
    exp = sub.add_parser("export", help="write a stored table's rows between two dates to Parquet or CSV")
    exp.add_argument("table", help="an asset's table: ranked_top_n, merit, price_bars, ...")
    exp.add_argument("--from", dest="start", required=True, help="first date, YYYY-MM-DD")
    exp.add_argument("--to", dest="end", required=True, help="last date, YYYY-MM-DD")
    exp.add_argument("--format", choices=["parquet", "csv"],
                     help="parquet (default) or csv; with --output and no --format, the file's extension says which")
    exp.add_argument("--output", help="the file (default: TABLE_FROM_TO.FORMAT here)")
    back = sub.add_parser("backtest", help="a stored screen's track record: bought at the next close, after costs, "
                                           "against the universe, a benchmark, momentum and random books")
    back.add_argument("--screen", help="which saved screen (default: \"default\", or the only one stored)")
    back.add_argument("--from", dest="start", help="first stored day (default: the first)")
    back.add_argument("--to", dest="end", help="last stored day (default: the last)")
    back.add_argument("--horizon", type=int, default=5, help="sessions each pick is held (default 5)")
    back.add_argument("--cost-bps", type=float, default=10.0, help="cost per side, in basis points (default 10)")
    back.add_argument("--benchmark", default="SPY", help="the benchmark symbol (default SPY)")
    back.add_argument("--format", choices=["table", "json", "csv"], default="table",
                      help="table (default), json (the measures), csv (each book's value by session)")
    back.add_argument("--style", help="re-screen the stored days in this style (swing, medium, position)")
    back.add_argument("--sector", action="append", default=[], help="re-screen keeping only this GICS sector "
                                                                     "(repeatable)")
    back.add_argument("--top", type=int, help="re-screen with this many picks")
    back.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                      help="re-screen with any scan setting changed, e.g. --set min_price=10 (repeatable)")
    plan = sub.add_parser("plan", help="say how many requests a scan will make and how long they take")
    plan.add_argument("--date", help="NYSE trading day (default: the latest closed session)")
    serve = sub.add_parser("serve", help="serve a scanned day live: JSON API, Server-Sent Events, web page")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--date", help="scanned day to serve (default: the latest with a stored top N)")
    watch = sub.add_parser("watch", help="the live table in a terminal, redrawn on each version")
    watch.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
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
    if args.command == "watch":
        from technic_assets.live.watch import watch as watch_table

        try:
            return watch_table(args.url)
        except KeyboardInterrupt:
            return 0
    try:
        env = Environment.read()
        from technic_assets.core.calendar import first_session, utc_now

        first_session(env.start_date)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    now = utc_now() if now is None else now

    from technic_assets.output import EXPORT_FORMATS, FORMATS, format_for

    try:
        if args.command == "top":
            args.format = format_for(args.format, args.output, FORMATS, "table")
        if args.command == "export":
            args.format = format_for(args.format, args.output, EXPORT_FORMATS, "parquet")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.command == "worker":
        from technic_assets.distributed import start_worker

        start_worker(args.name, args.concurrency, args.loglevel)
        return 0
    if args.command == "backfill":
        args.start, args.end = (check_scannable(resolve_stored_date(d, None, flag), env, now, flag)
                                for d, flag in ((args.start, "--from"), (args.end, "--to")))
        if args.start > args.end:
            raise SystemExit(f"error: --from {args.start} is after --to {args.end}")
        return _backfill(args, env)
    if args.command == "scan":
        from technic_assets.config import ScanSettings
        from technic_assets.resources import build_resources
        from technic_assets.screens import ADHOC_SCREEN, Screens

        one_off = args.style is not None or args.top is not None or bool(args.sector)
        if one_off and args.screen:
            raise SystemExit("error: --screen ranks a saved screen as saved; give its settings in the screens file, "
                             "or --style/--top/--sector without --screen for a one-off screen")
        try:
            settings = ScanSettings(style=args.style or "medium", top_n=25 if args.top is None else args.top,
                                    sectors=args.sector)
        except ValueError as exc:
            raise SystemExit(f"error: invalid scan settings: {settings_error(exc)}") from None
        screens = (Screens(name=ADHOC_SCREEN) if one_off else
                   Screens(path=env.screens_path, only=[args.screen] if args.screen else []))
        try:
            names = [s.name for s in screens.resolve(settings)]
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        try:
            resources = build_resources(env)  # the source named and checked before anything runs
        except ValueError as exc:
            raise SystemExit(f"error: {settings_error(exc)}") from None
        day = resolve_date(args.date, env, resources["market"], now)
        if not args.quiet:
            print(f"Scanning {day} (screen{'s' if len(names) > 1 else ''} {', '.join(names)}) ...", file=sys.stderr)
        if is_remote(env.market):  # the only sources asked over the network: plan only for them
            print(f"  {request_plan(day, env, resources).summary()}", file=sys.stderr)
        started = time.perf_counter()
        result = run_scan(day, settings, env, resources=resources, screens=screens, quiet=args.quiet,
                          refresh=args.refresh, replace_bars=args.replace_bars)
        print_table(result, day, names[0])
        if len(names) > 1:
            print(f"\nAlso ranked: {', '.join(names[1:])} (technic top --screen NAME)")
        if not args.quiet:
            print(f"\n{time.perf_counter() - started:.1f}s", file=sys.stderr)
    elif args.command == "plan":
        from technic_assets.resources import build_resources

        try:
            resources = build_resources(env)
        except ValueError as exc:
            raise SystemExit(f"error: {settings_error(exc)}") from None
        day = resolve_date(args.date, env, resources["market"], now)
        print("\n".join(request_plan(day, env, resources).lines()))
    elif args.command == "top":
        show_top(args, env)
    elif args.command == "backtest":
        show_backtest(args, env)
    elif args.command == "export":
        export(args, env)
    elif args.command == "serve":
        serve_day(env, args.host, args.port, args.date)
    return 0


def serve_day(env: Environment, host: str, port: int, date: str | None) -> None:
    """`technic serve`: listen on the address, then load the day (both checked here, so a busy port, a bad
    host, a missing store or day is one clear line), then serve the live app until SIGTERM or Ctrl-C."""
    from technic_assets.config import ScanSettings
    from technic_assets.live.day import DayNotFound
    from technic_assets.live.engine import LiveEngine
    from technic_assets.live.server import create_app, live_mode, saved_screens_of
    from technic_assets.live.serving import listen, serve
    from technic_assets.environment import ServeLimits
    from technic_assets.screens import Screens
    from technic_assets.storage import db_path

    if not 0 < port < 65536:
        raise SystemExit(f"error: --port {port} is not a TCP port (1..65535)")
    if date is not None:
        try:
            pd.Timestamp(date)
        except ValueError:
            raise SystemExit(f"error: --date {date!r} is not a date (want YYYY-MM-DD)") from None
    if env.live == "polygon" and not env.api_key_var:
        raise SystemExit("error: TECHNIC_LIVE=polygon needs an API key: set POLYGON_API_KEY (or MASSIVE_API_KEY)")
    try:
        mode = live_mode()
        limits = ServeLimits.read()
        saved = saved_screens_of(env.screens_path)
        primary = Screens(path=env.screens_path).primary(ScanSettings())
        sock = listen(host, port)  # before the day is loaded: nothing runs yet when the address is refused
    except (ValueError, DayNotFound) as exc:
        raise SystemExit(f"error: {exc}") from None
    try:
        started = time.perf_counter()
        engine = LiveEngine.load(db_path(env.duckdb_path), date, screen=primary, wait_for_window=False)
    except (ValueError, DayNotFound) as exc:
        sock.close()
        raise SystemExit(f"error: {exc}") from None
    serve(create_app(engine, mode=mode, screens=saved, host=host, limits=limits), sock,
          announce=f"Serving {engine.day:%Y-%m-%d} ({len(engine.universe)} listings, loaded in "
                   f"{time.perf_counter() - started:.1f}s; TECHNIC_LIVE={mode}) at http://{host}:{port}/")


if __name__ == "__main__":
    sys.exit(main())
