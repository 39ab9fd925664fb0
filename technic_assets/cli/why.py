"""`technic why SYMBOL`: where a symbol stands in a stored day's screen, or the rule that dropped it with
its number against the bound. The answer is exactly `GET /api/symbol/X`'s (live.server.symbol_text: the
engine's `symbol` and core.universe_filter.rule_detail), on the day read from the store: one answer for
the page, the API and the terminal.

The screen's settings are those it was scanned with that day, stored with its rows (read back from its
scores for an older store's day), so the answer is about the list that was ranked, whatever the screens
file says now.
"""

from __future__ import annotations

import json

import pandas as pd

from technic_assets.cli.dates import resolve_stored_date
from technic_assets.cli.options import add_screen_option
from technic_assets.config import ScanSettings
from technic_assets.environment import Environment
from technic_assets.live.day import DayNotFound
from technic_assets.live.engine import LiveEngine
from technic_assets.live.server import symbol_text
from technic_assets.resources import build_resources
from technic_assets.screens import Screens


def add_parser(sub) -> None:
    why = sub.add_parser("why", help="a symbol's rank and scores in a stored screen, or the rule that dropped it")
    why.add_argument("symbol", help="the ticker, e.g. AAPL or BRK.B")
    add_screen_option(why, "which screen")
    why.add_argument("--date", help="a scanned day (default: the latest with the screen's top N)")
    why.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    symbol = args.symbol.strip().upper()
    if not symbol or len(symbol) > 40:
        raise SystemExit(f"error: symbol {args.symbol[:40]!r} is not a ticker")
    date = resolve_stored_date(args.date, None) if args.date else None
    try:
        screen = args.screen or Screens(path=env.screens_path).primary(ScanSettings())
        store = build_resources(env)["store"].location  # the DuckDB file, or the Iceberg store (TECHNIC_STORE)
        engine = LiveEngine.load(store, date, screen=screen, default_alpha_weight=env.alpha_weight)
    except (ValueError, DayNotFound) as exc:
        raise SystemExit(f"error: {exc}") from None
    settings = engine.day_settings
    text = symbol_text(engine, symbol, settings, engine.snapshot)
    day = f"{engine.day:%Y-%m-%d}"
    if text is None:
        raise SystemExit(f"error: {symbol} is not listed on {day} (the store's universe of that day, "
                         f"{len(engine.universe):,} listings)")
    print("\n".join(explain(json.loads(text), engine.screen(settings), day, screen)))
    return 0


def explain(found: dict, result, day: str, screen: str) -> list[str]:
    """The lines a person reads: who it is, then its rank and scores, or why it fell."""
    head = (f"{found['symbol']}  {found.get('name') or ''}  ({found.get('type')}, {found.get('sector')}, "
            f"{found.get('exchange')})  {day}, screen {screen}")
    if not found["passed"]:
        return [head, f"not ranked: dropped by {found['dropped_detail']['text']}",
                f"({len(result.scored):,} names passed the filter; the top {result.settings.top_n} are listed)"]
    n, rank = result.settings.top_n, found["rank"]
    where = f"in the top {n}" if rank <= n else f"outside the top {n}"
    lines = [head, f"rank {rank} of {len(result.scored):,} ranked ({where})",
             f"MERIT {found['merit_score']:.1f}   ICS {found['ics_score']:.1f}   "
             f"alpha 5d {_z(found['alpha_5d'])}   alpha 10d {_z(found['alpha_10d'])}   regime {found['regime']}",
             "factors (sector z-scores): " + "  ".join(f"{k} {_signed(v)}" for k, v in found["factors"].items()),
             "MERIT contributions: " + "  ".join(f"{k} {_signed(v)}" for k, v in found["contributions"].items()),
             "penalties: " + "  ".join(f"{k} {_signed(v)}" for k, v in found["penalties"].items())]
    if found.get("reasons"):
        lines.append(f"why: {found['reasons']}")
    return lines


def _signed(value) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _z(value) -> str:
    return "-" if value is None else f"{value:+.2f} z"
