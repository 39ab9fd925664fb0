"""`technic serve`: a scanned day served live (JSON API, Server-Sent Events, the web page)."""

from __future__ import annotations

import time

import pandas as pd

from technic_assets.config import ScanSettings
from technic_assets.core.calendar import nyse
from technic_assets.environment import Environment, ServeLimits
from technic_assets.live.day import DayNotFound
from technic_assets.live.engine import LiveEngine
from technic_assets.live.replay import replay_length
from technic_assets.live.server import create_app, live_mode, saved_screens_of
from technic_assets.live.serving import listen, serve
from technic_assets.resources import build_resources
from technic_assets.screens import Screens


def add_parser(sub) -> None:
    serve_cmd = sub.add_parser("serve", help="serve a scanned day live: JSON API, Server-Sent Events, web page")
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_cmd.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve_cmd.add_argument("--date", help="scanned day to serve (default: the latest with a stored top N)")
    serve_cmd.set_defaults(run=run)


def run(args, env: Environment, now: pd.Timestamp) -> int:
    serve_day(env, args.host, args.port, args.date)
    return 0


def serve_day(env: Environment, host: str, port: int, date: str | None) -> None:
    """Listen on the address, then load the day (both checked here, so a busy port, a bad host, a
    missing store or day is one clear line), then serve the live app until SIGTERM or Ctrl-C."""
    if not 0 < port < 65536:
        raise SystemExit(f"error: --port {port} is not a TCP port (1..65535)")
    if date is not None:
        try:
            pd.Timestamp(date)
        except ValueError:
            raise SystemExit(f"error: --date {date!r} is not a date (want YYYY-MM-DD)") from None
    if env.live == "polygon" and not env.api_key_var:
        raise SystemExit("error: TECHNIC_LIVE=polygon needs an API key: set POLYGON_API_KEY (or MASSIVE_API_KEY)")
    try:
        mode = live_mode()
        limits = ServeLimits.read()
        saved = saved_screens_of(env.screens_path)
        primary = Screens(path=env.screens_path).primary(ScanSettings())
        sock = listen(host, port)  # before the day is loaded: nothing runs yet when the address is refused
    except (ValueError, DayNotFound) as exc:
        raise SystemExit(f"error: {exc}") from None
    try:
        started = time.perf_counter()
        store = build_resources(env)["store"].location  # the DuckDB file, or the Iceberg store (TECHNIC_STORE)
        engine = LiveEngine.load(store, date, screen=primary, wait_for_window=False)
    except (ValueError, DayNotFound) as exc:
        sock.close()
        raise SystemExit(f"error: {exc}") from None
    replaying = (f"; replaying {nyse().next_session(engine.day):%Y-%m-%d}, "
                 f"{replay_length(nyse().next_session(engine.day), env.replay_speed)} (TECHNIC_REPLAY_SPEED)"
                 if mode == "replay" else "")
    serve(create_app(engine, mode=mode, screens=saved, host=host, limits=limits), sock,
          announce=f"Serving {engine.day:%Y-%m-%d} ({len(engine.universe)} listings, loaded in "
                   f"{time.perf_counter() - started:.1f}s; TECHNIC_LIVE={mode}{replaying}) at http://{host}:{port}/")
