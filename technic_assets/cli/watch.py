"""`technic watch`: the live table of a running `technic serve`, in a terminal (technic_assets.live.watch).
Needs no settings of its own: it reads the server it is pointed at."""

from __future__ import annotations

from technic_assets.live.watch import watch


def add_parser(sub) -> None:
    watch_cmd = sub.add_parser("watch", help="the live table in a terminal, redrawn on each version")
    watch_cmd.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default http://127.0.0.1:8000)")
    watch_cmd.set_defaults(run=run, needs_env=False)


def run(args) -> int:
    try:
        return watch(args.url)
    except KeyboardInterrupt:
        return 0
