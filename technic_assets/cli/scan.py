"""`technic scan`: the daily scan of a day, every saved screen or one, or a one-off screen kept as
"adhoc"; prints the first screen's top N."""

from __future__ import annotations

import sys
import time

import pandas as pd

from technic_assets.cli.dates import resolve_date
from technic_assets.cli.plan import request_plan
from technic_assets.cli.run import run_scan
from technic_assets.config import ScanSettings
from technic_assets.environment import Environment
from technic_assets.errors import settings_error
from technic_assets.market.factory import is_remote
from technic_assets.output import DEFAULT_COLUMNS, pick_columns, render
from technic_assets.resources import build_resources
from technic_assets.screens import ADHOC_SCREEN, Screens


def add_parser(sub) -> None:
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
    scan.set_defaults(run=run)


def print_table(top: pd.DataFrame, day: str, screen: str, out=None) -> None:
    text = render(pick_columns(top, None, DEFAULT_COLUMNS), "table", title=f"Technic top {len(top)} for {day}, "
                  f"screen {screen}", day=day, source="")
    print(text, file=out or sys.stdout, end="")


def run(args, env: Environment, now: pd.Timestamp) -> int:
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
    return 0
