"""`technic backtest`: a stored screen's track record against its baselines, or that of the stored
evenings re-screened with other settings (technic_assets.backtest formats it, technic_assets.track
computes it)."""

from __future__ import annotations

import pandas as pd
from pydantic import ValidationError

from technic_assets.backtest import as_csv, as_json, as_table
from technic_assets.cli.dates import resolve_stored_date
from technic_assets.cli.options import add_screen_option, add_screen_settings
from technic_assets.cli.stored import open_store, pick_screen
from technic_assets.config import ScanSettings, scan_settings, settings_json
from technic_assets.core.track_record import CAPACITY_PARTICIPATION, CAPACITY_WINDOW
from technic_assets.environment import Environment
from technic_assets.errors import settings_error
from technic_assets.screens import Screens
from technic_assets.track import stored_record


def add_parser(sub) -> None:
    back = sub.add_parser("backtest", help="a stored screen's track record: bought at the next close, after costs, "
                                           "against the universe, a benchmark, momentum and random books")
    add_screen_option(back, "which saved screen", "\"default\", or the only one stored")
    back.add_argument("--from", dest="start", help="first stored day (default: the first)")
    back.add_argument("--to", dest="end", help="last stored day (default: the last)")
    back.add_argument("--horizon", type=int, default=5, help="sessions each pick is held (default 5)")
    back.add_argument("--cost-bps", type=float, default=10.0, help="cost per side, in basis points (default 10)")
    back.add_argument("--benchmark", default="SPY", help="the benchmark symbol (default SPY)")
    back.add_argument("--book-size", type=float, metavar="USD",
                      help="the top-N book's size in dollars: adds its capacity, the sessions to sell it at "
                           f"{CAPACITY_PARTICIPATION * 100:.0f}%% of each name's {CAPACITY_WINDOW}-session average dollar volume")
    back.add_argument("--format", choices=["table", "json", "csv"], default="table",
                      help="table (default), json (the measures), csv (each book's value by session)")
    add_screen_settings(back, "re-screen the stored days", "the saved screen's")
    back.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                      help="re-screen with any scan setting changed, e.g. --set min_price=10 (repeatable)")
    back.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    """The track record of a stored screen, as a table, JSON or CSV."""
    if args.horizon < 1:
        raise SystemExit(f"error: --horizon {args.horizon}: want at least 1 session")
    if args.cost_bps < 0:
        raise SystemExit(f"error: --cost-bps {args.cost_bps:g}: costs cannot be negative")
    if args.book_size is not None and not args.book_size > 0:
        raise SystemExit(f"error: --book-size {args.book_size:g}: want a positive number of dollars")
    start, end = (resolve_stored_date(d, None, flag) if d else None for d, flag in ((args.start, "--from"), (args.end, "--to")))
    path, history = open_store(env)
    tops = history.query("ranked_top_n", "SELECT DISTINCT coalesce(screen, 'default') AS screen FROM technic.ranked_top_n", [])
    if tops is None or tops.empty:
        raise SystemExit(f"error: no ranked_top_n in {path} yet; run `technic scan` first")
    screen = pick_screen(tops, args.screen, env, "the stored days")
    settings = one_off_settings(args, env, screen)
    try:
        record = stored_record(history, screen, start, end, horizon=args.horizon, cost_bps=args.cost_bps,
                               benchmark=args.benchmark, settings=settings, alpha_weight=env.alpha_weight,
                               book_size=args.book_size)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    sources = ", ".join(sorted(set(history.sources().values())) or ["unknown"])
    if args.format == "csv":
        print(as_csv(record.daily), end="")
    elif args.format == "json":
        print(as_json(record.summary, sources, settings_json(settings) if settings else None), end="")
    else:
        print(as_table(record.summary, sources), end="")
    return 0


def one_off_settings(args, env: Environment, screen: str):
    """The settings a backtest re-screens history with: the saved screen's, changed by --style,
    --sector, --top and --set FIELD=VALUE (any ScanSettings field); None when none is given (the
    stored rows are the record)."""
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
