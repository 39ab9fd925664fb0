"""`technic`: the scan from a terminal. Runs the same assets in process and prints the result.

    technic scan [--date YYYY-MM-DD] [--top N] [--style swing|medium|position] [--sector NAME ...]
    technic top  [--date YYYY-MM-DD]          print a stored top N
    technic bench [--symbols 1000 3000 6000]  time the core scan (see benchmarks/)
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

from technic_assets.errors import root_cause

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


def resolve_date(raw: str | None) -> str:
    """The scan date: a given NYSE session, or the latest one that has closed."""
    from technic_assets.assets.common import history_window
    from technic_assets.partitions import is_session, latest_closed_session, nyse

    if raw is None:
        day = latest_closed_session()
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
    try:
        history_window(pd.Timestamp(day))
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    return day


def run_scan(day: str, settings, *, quiet: bool = False):
    """Materialize every asset for `day` in this process; returns the stored top N."""
    from dagster import DagsterInstance, Definitions

    from technic_assets.definitions import ASSETS, daily_scan, resources
    from technic_assets.store import db_path, transaction

    res = {**resources(), "scan": settings}
    defs = Definitions(assets=ASSETS, jobs=[daily_scan], resources=res, loggers={"progress": _progress_logger()})
    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    run_config = {"loggers": {"progress": {}}} if not quiet else {}
    result = defs.resolve_job_def("daily_scan").execute_in_process(
        partition_key=day, instance=instance, run_config=run_config, raise_on_error=False)
    if not result.success:
        failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
        msg = root_cause(failures[0].step_failure_data.error) if failures else "the run failed"
        raise SystemExit(f"error: {msg}")
    with transaction(db_path()) as conn:
        return stored_top(conn, day)


def stored_top(conn, day: str) -> pd.DataFrame:
    return conn.execute(
        "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [pd.Timestamp(day).to_pydatetime()]
    ).fetchdf()


def print_table(top: pd.DataFrame, day: str, out=None) -> None:
    out = out or sys.stdout
    view = top[SHOWN].copy()
    for col in ("merit_score", "ics_score", "rsi_14", "roc_63"):
        view[col] = view[col].map(lambda v: f"{v:.1f}")
    view["close"] = view["close"].map(lambda v: f"{v:,.2f}")
    view["alpha_5d"] = view["alpha_5d"].map(lambda v: f"{v:+.2%}" if pd.notna(v) else "-")
    print(f"\nTechnic top {len(top)} for {day}\n", file=out)
    print(view.to_string(index=False), file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="technic", description="Technic: the daily US stock scan")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="run the daily scan for a date and print the top N")
    scan.add_argument("--date", help="NYSE trading day (default: the latest closed session)")
    scan.add_argument("--top", type=int, default=25, help="how many picks (default 25)")
    scan.add_argument("--style", default="medium", help="swing, medium or position (default medium)")
    scan.add_argument("--sector", action="append", default=[], help="keep only this GICS sector (repeatable)")
    scan.add_argument("--quiet", action="store_true", help="no progress lines")
    top = sub.add_parser("top", help="print a stored top N")
    top.add_argument("--date", help="NYSE trading day (default: the latest stored)")
    bench = sub.add_parser("bench", help="time the core scan (filter to ranked top N)")
    bench.add_argument("--symbols", type=int, nargs="+", default=[1000, 3000, 6000])
    bench.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    if args.command == "scan":
        from technic_assets.resources import ScanSettings

        try:
            settings = ScanSettings(style=args.style, top_n=args.top, sectors=args.sector).validated()
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        try:
            day = resolve_date(args.date)  # the first import of the partitions, which read TECHNIC_START_DATE
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        print(f"Scanning {day} (style {args.style}, top {args.top}) ...", file=sys.stderr)
        started = time.perf_counter()
        result = run_scan(day, settings, quiet=args.quiet)
        print_table(result, day)
        print(f"\n{time.perf_counter() - started:.1f}s", file=sys.stderr)
    elif args.command == "top":
        import duckdb

        from technic_assets.store import connect, db_path

        path = db_path()
        if not Path(path).exists():
            raise SystemExit(f"error: no store at {path}; run `technic scan` first")
        conn = connect(path, read_only=True)
        try:
            day = args.date or str(conn.execute("SELECT max(date)::DATE FROM technic.ranked_top_n").fetchall()[0][0])
            result = stored_top(conn, day)
        except duckdb.CatalogException:
            raise SystemExit(f"error: no ranked_top_n in {path} yet; run `technic scan` first") from None
        finally:
            conn.close()
        if result.empty:
            raise SystemExit(f"error: no stored top N for {day} in {db_path()}")
        print_table(result, day)
    elif args.command == "bench":
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ beside the package
        try:
            from benchmarks.core_scan import main as bench_main
        except ImportError:
            raise SystemExit("error: technic bench runs from a source checkout (benchmarks/ beside technic_assets/)") from None

        bench_main(args.symbols, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
