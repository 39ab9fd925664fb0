"""`technic backfill`: an asset backfill of a range of days, submitted to the instance the daemon serves."""

from __future__ import annotations

import os
import sys

import pandas as pd

from technic_assets import backfill
from technic_assets.cli.dates import check_scannable, resolve_stored_date
from technic_assets.definitions import build_definitions
from technic_assets.environment import Environment
from technic_assets.instance import open_instance


def add_parser(sub) -> None:
    fill = sub.add_parser("backfill", help="backfill every asset for a range of days (the daemon runs it, "
                                           "following each asset's backfill policy)")
    fill.add_argument("--from", dest="start", required=True, help="first NYSE trading day")
    fill.add_argument("--to", dest="end", required=True, help="last NYSE trading day")
    fill.add_argument("--wait", action="store_true", help="wait until it has finished; fail if it failed")
    fill.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    """Submit the backfill to the instance in DAGSTER_HOME (and wait for it with --wait)."""
    start, end = (check_scannable(resolve_stored_date(d, None, flag), env, now, flag)
                  for d, flag in ((args.start, "--from"), (args.end, "--to")))
    if start > end:
        raise SystemExit(f"error: --from {start} is after --to {end}")
    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("error: a backfill needs DAGSTER_HOME, the instance the daemon (dagster-daemon run) serves")
    with open_instance() as instance:
        try:
            backfill_id = backfill.submit(instance, build_definitions(env), start, end)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        print(f"backfill {backfill_id}: {start}...{end} submitted", file=sys.stderr)
        if args.wait:
            status = backfill.wait(instance, backfill_id)
            print(f"backfill {backfill_id}: {status}", file=sys.stderr)
            return 0 if status == "COMPLETED_SUCCESS" else 1
    return 0
