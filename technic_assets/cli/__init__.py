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

One module per subcommand, each with its `add_parser` (its options) and `run` (the command); dates.py,
stored.py, run.py and progress.py hold what several share. A scan materializes only what its settings
change when the store already holds the day's settings-free assets (universe, bars, fundamentals,
indicators, regime, models): a second scan of a day with other settings re-filters, re-scores and
re-ranks, and takes a few seconds.
"""

from __future__ import annotations

import argparse
import warnings

import pandas as pd

from technic_assets.cli import backfill, backtest, export, plan, scan, serve, top, watch, worker
from technic_assets.core.calendar import first_session, utc_now
from technic_assets.environment import Environment

warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*is in preview.*")

COMMANDS = (scan, top, export, backtest, plan, serve, watch, worker, backfill)  # in `technic --help`'s order


def parser() -> argparse.ArgumentParser:
    """`technic`'s arguments: each subcommand adds its own, and names the function that runs it."""
    root = argparse.ArgumentParser(prog="technic", description="Technic: the daily US stock scan")
    sub = root.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return root


def main(argv: list[str] | None = None, now: pd.Timestamp | None = None) -> int:
    """The CLI; `now` is the clock's time for the dates it checks (default: the wall clock)."""
    args = parser().parse_args(argv)
    if not getattr(args, "needs_env", True):  # `watch` reads a server, not the settings
        return args.run(args)
    try:
        env = Environment.read()
        first_session(env.start_date)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    return args.run(args, env, utc_now() if now is None else now)

