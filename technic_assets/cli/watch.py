"""`technic watch`: the live table of a running `technic serve`, in a terminal (technic_assets.live.watch),
for the day's screen, a saved one (--screen) or any settings (--style, --top, --sector: the options `scan`
takes), which the server checks as it checks the page's. Needs no settings of its own."""

from __future__ import annotations

from technic_assets.cli.options import add_screen_option, add_screen_settings
from technic_assets.live.watch import watch


def add_parser(sub) -> None:
    watch_cmd = sub.add_parser("watch", help="the live table in a terminal, redrawn on each version")
    watch_cmd.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    add_screen_option(watch_cmd, "a saved screen of the server's screens file")
    add_screen_settings(watch_cmd, "the screen watched", "the served screen's")
    watch_cmd.set_defaults(run=run, needs_env=False)


def run(args) -> int:
    params = {"screen": args.screen, "style": args.style, "n": args.top, "sector": args.sector}
    try:
        return watch(args.url, params=params)
    except KeyboardInterrupt:
        return 0
