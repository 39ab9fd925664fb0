"""`technic top`: a stored top N, or its changes since the previous session, for a person (a table) or
for a program (CSV, JSON, Markdown), to stdout or a file."""

from __future__ import annotations

import pandas as pd

from technic_assets.cli.dates import resolve_stored_date
from technic_assets.cli.options import add_screen_option
from technic_assets.cli.stored import open_store, pick_screen, with_day_move
from technic_assets.core.calendar import nyse
from technic_assets.environment import Environment
from technic_assets.output import CHANGE_COLUMNS, DEFAULT_COLUMNS, FORMATS, format_for, pick_columns, render, write_text
from technic_assets.partitions import build_partitions, first_scannable
from technic_assets.screens import ADHOC_SCREEN
from technic_assets.storage.history import screen_rows


def add_parser(sub) -> None:
    top = sub.add_parser("top", help="print a stored top N, or what changed since the previous session")
    top.add_argument("--date", help="NYSE trading day (default: the latest stored)")
    add_screen_option(top, "which screen", "\"default\", or the only one stored")
    top.add_argument("--format", choices=["table", "csv", "json", "markdown"],
                     help="table (default, for a person), csv, json or markdown (for other tools); with --output "
                          "and no --format, the file's extension says which")
    top.add_argument("--output", help="write to this file (whole, or not at all) instead of stdout")
    top.add_argument("--columns", help="comma-separated columns, in order (default: the usual ones)")
    top.add_argument("--top", type=int, help="only the first N ranks")
    top.add_argument("--changes", action="store_true",
                     help="entries, exits, rank moves and MERIT changes since the previous session")
    top.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    """The stored top N (or its changes) in the format asked, to stdout or a file."""
    try:
        args.format = format_for(args.format, args.output, FORMATS, "table")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if args.top is not None and args.top < 1:
        raise SystemExit(f"error: --top {args.top}: want at least 1 rank")
    path, history = open_store(env)
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
        rows = with_day_move(rows, history, day)
        title, default = f"Technic top {len(rows)} for {day}, screen {screen}", DEFAULT_COLUMNS
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    try:
        source = history.sources().get(pd.Timestamp(day), "unknown (stored before sources were recorded)")
        text = render(pick_columns(rows.drop(columns="date"), columns, default), args.format, title=title, day=day,
                      source=source, screen=screen)
        write_text(text, args.output)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def why_no_changes(day: str, screen: str, env: Environment, history) -> str:
    """Why `day` has no stored changes for `screen`, and the scan that computes them (if any can)."""
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
