"""`technic export`: any asset's stored rows between two dates, to Parquet or CSV."""

from __future__ import annotations

import sys

import pandas as pd

from technic_assets.cli.dates import resolve_stored_date
from technic_assets.cli.stored import open_store
from technic_assets.definitions import ASSETS
from technic_assets.environment import Environment
from technic_assets.output import EXPORT_FORMATS, format_for, write_table


def add_parser(sub) -> None:
    exp = sub.add_parser("export", help="write a stored table's rows between two dates to Parquet or CSV")
    exp.add_argument("table", help="an asset's table: ranked_top_n, merit, price_bars, ...")
    exp.add_argument("--from", dest="start", required=True, help="first date, YYYY-MM-DD")
    exp.add_argument("--to", dest="end", required=True, help="last date, YYYY-MM-DD")
    exp.add_argument("--format", choices=["parquet", "csv"],
                     help="parquet (default) or csv; with --output and no --format, the file's extension says which")
    exp.add_argument("--output", help="the file (default: TABLE_FROM_TO.FORMAT here)")
    exp.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    try:
        args.format = format_for(args.format, args.output, EXPORT_FORMATS, "parquet")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    tables = sorted(a.key.to_user_string() for a in ASSETS)
    if args.table not in tables:
        raise SystemExit(f"error: no table {args.table!r}; the tables are {', '.join(tables)}")
    start, end = (pd.Timestamp(resolve_stored_date(d, None)) for d in (args.start, args.end))
    if start > end:
        raise SystemExit(f"error: --from {start:%Y-%m-%d} is after --to {end:%Y-%m-%d}")
    path, history = open_store(env)
    rows = history.read_span(args.table, start, end)
    if rows.empty:
        raise SystemExit(f"error: {args.table} holds no rows from {start:%Y-%m-%d} to {end:%Y-%m-%d} in {path}")
    output = args.output or f"{args.table}_{start:%Y%m%d}_{end:%Y%m%d}.{args.format}"
    try:
        write_table(rows, args.format, output)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"{len(rows):,} rows of {args.table} ({start:%Y-%m-%d} .. {end:%Y-%m-%d}) -> {output}", file=sys.stderr)
    return 0
