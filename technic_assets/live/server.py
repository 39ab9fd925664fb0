"""`technic serve`: the live engine over HTTP (Starlette), with Server-Sent Events and a web page.

    GET /api/top?n=                 the day's settings' top n
    GET /api/screen?style=&sector=&min_price=&max_price=&min_dollar_volume=&max_price_cv=&include_etfs=&n=
    GET /api/symbol/{SYMBOL}        rank, scores, factor z-scores, indicators, or the rule that dropped it
    GET /api/chart/{SYMBOL}         the window's split-adjusted bars and volume with SMA 50/200 and Bollinger bands
    GET /api/track?screen=&horizon=&cost_bps=&benchmark=&...   the track record of the screen or the
                                    settings asked (live.track_panel: 202 with its progress while it runs)
    GET /api/stream                 SSE: the current top N at connect, then the newest version each time
                                    (`id`: RUN-VERSION), resumable with Last-Event-ID; the screen's parameters
    GET /healthz                    the feed's state and the data's lag (open without the token)
    GET /metrics                    Prometheus metrics (live.metrics)
    GET|POST /login                 the token's login page, when bound beyond loopback (live.access)
    GET /                           the page (static/: plain HTML, CSS and a JS module, no build step)

The handlers only parse, call the engine, and shape the answer: a bad parameter is HTTP 400 naming it.
Screens, charts and their JSON are made on the screen pool's few low-priority threads (live.streams: the
event loop keeps streaming and /healthz answering, the feed's rescan goes first), and one computation
serves every request for the same version and settings (single flight), so 50 clients of a new version
cost one. What a server grants a client is bounded (environment.ServeLimits, TECHNIC_SERVE_*): a Host
it does not answer to is refused (live.guard, against DNS rebinding), streams are capped per client
address and in all, and a stream whose client stops reading is dropped after a while.

Stream event ids are `RUN-VERSION`, RUN naming this run of the engine (its start): a Last-Event-ID
from another run (the server restarted) or that this run has not published gets the current version.

A server shutting down calls end_streams(app) first: every open stream then ends (uvicorn waits for
open connections before it stops, and a stream would never finish by itself).

TECHNIC_LIVE picks the intraday feed: `off` (default: the stored day only), `replay` or `polygon`, which
start `technic_assets.live.runner` (imported lazily) with `runner.start(engine, mode)` at start-up and
stop what it returned (`.stop()`, awaited if it is a coroutine) at shut-down.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import json
import math
import mimetypes
import os
import threading
import time
import typing
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from technic_assets.config import ScanSettings
from technic_assets.core.schema import GICS_SECTORS
from technic_assets.core.scoring import TOP_COLUMNS
from technic_assets.core.universe_filter import rule_detail
from technic_assets.environment import ServeAccess, ServeLimits
from technic_assets.live import access as gatekeeping
from technic_assets.live.engine import LiveEngine, plain_value, scan_settings, settings_json, settings_key
from technic_assets.live.guard import HostGuard, allowed_names, origin_allowed
from technic_assets.live.metrics import ServeMetrics, TimeScreens
from technic_assets.live.origin import data_origin
from technic_assets.live.settings_form import form_fields
from technic_assets.live.streams import EventStream, ScreenPool, StreamSlots
from technic_assets.live.track_panel import TRACK_PARAMS, BadTrackInput, TrackPanel, track_ask

STATIC = Path(__file__).with_name("static")
mimetypes.add_type("text/javascript", ".mjs")  # the vendored chart library: a module needs a JavaScript type
PING_SECONDS = 15.0
# query parameter -> ScanSettings field: every field, by its own name but two the page has always
# called otherwise; each is parsed by its type in the model, so a new setting needs nothing here
RENAMED = {"sectors": "sector", "top_n": "n"}
SCREEN_PARAMS = {RENAMED.get(field, field): field for field in ScanSettings.model_fields}
FIELD_PARAMS = {field: param for param, field in SCREEN_PARAMS.items()}
FORM = form_fields(FIELD_PARAMS)


def _kind(field: str):
    """float, int, bool, list or str: how a query value of the field is read."""
    annotation = ScanSettings.model_fields[field].annotation
    return list if typing.get_origin(annotation) is list else annotation if annotation in (float, int, bool) else str


class BadParameter(ValueError):
    def __init__(self, parameter: str, message: str):
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


def live_mode(env=None) -> str:
    """TECHNIC_LIVE, checked (environment.live_source): off (default), replay or polygon."""
    from technic_assets.environment import live_source

    return live_source((env if env is not None else os.environ).get("TECHNIC_LIVE", "") or "off")


PARSED: collections.OrderedDict = collections.OrderedDict()  # (base, query, allowed) -> ScanSettings
PARSED_KEPT = 1024
_parsed_lock = threading.Lock()


def parse_screen(query, base, *, allowed=tuple(SCREEN_PARAMS)):
    """ScanSettings from query parameters (a QueryParams) over `base` (the day's settings); BadParameter
    naming the parameter and what is wrong with it. A ScanSettings costs a millisecond or two to make and
    check, on the event loop: the last PARSED_KEPT queries' settings are kept (a refusal is not)."""
    key = (settings_key(base), tuple(query.multi_items()), tuple(allowed))
    with _parsed_lock:
        hit = PARSED.get(key)
        if hit is not None:
            PARSED.move_to_end(key)
            return hit
    settings = _parse_screen(query, base, allowed)
    with _parsed_lock:
        PARSED[key] = settings
        while len(PARSED) > PARSED_KEPT:
            PARSED.popitem(last=False)
    return settings


def _parse_screen(query, base, allowed):
    values = settings_json(base)
    for name in query.keys():
        if name not in allowed:
            raise BadParameter(name, f"unknown parameter (known: {', '.join(allowed)})")
    for param, field in SCREEN_PARAMS.items():
        if param not in query:
            continue
        kind = _kind(field)
        if kind is list:
            values[field] = [s for s in query.getlist(param) if s != ""]
            continue
        raw = query.get(param, "").strip()
        if kind is float:
            # empty: the field's "none" where its default is 0 (max_price: no cap), else an error
            off = ScanSettings.model_fields[field].default == 0.0
            try:
                value = float(raw) if raw else (0.0 if off else None)
            except ValueError:
                raise BadParameter(param, f"{raw[:40]!r} is not a number") from None
            if value is None:
                raise BadParameter(param, "is empty (give a number)")
            if not math.isfinite(value):
                raise BadParameter(param, f"{raw[:40]!r} is not a finite number")
        elif kind is int:
            try:
                value = int(raw)
            except ValueError:
                raise BadParameter(param, f"{raw[:40]!r} is not a whole number") from None
        elif kind is bool:
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off", ""):
                raise BadParameter(param, f"{raw[:40]!r} is not true or false")
            value = raw.lower() in ("true", "1", "yes", "on")
        else:
            value = raw
        values[field] = value
    try:
        return scan_settings(values)
    except ValueError as exc:  # pydantic's ValidationError: name the first field's parameter
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise BadParameter("settings", str(exc)) from None
        first = errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        field = loc[0] if loc else ""
        param = FIELD_PARAMS.get(field, "max_price" if "max_price" in first.get("msg", "") else field or "settings")
        value = first.get("input")
        shown = f"{value!r}: " if not isinstance(value, dict) and value is not None else ""
        raise BadParameter(param, f"{shown}{first['msg']}") from None


def saved_screens_of(path: str) -> dict:
    """name -> ScanSettings of the screens file at `path` ("": none)."""
    if not path:
        return {}
    from technic_assets.config import ScanSettings
    from technic_assets.screens import load_screens

    return {s.name: s.settings for s in load_screens(path, ScanSettings())}


def rows_json(result, n: int | None = None) -> list[dict]:
    """The ranked rows (TOP_COLUMNS, with the data's age and relative volume where live)."""
    top = result.top if n is None else result.top.head(n)
    rows = [{k: plain_value(v) for k, v in zip(TOP_COLUMNS, values)} for values in top[TOP_COLUMNS].itertuples(index=False)]
    snap = result.snapshot
    for row in rows:
        if snap.rel_volume is not None:
            row["rel_volume"] = plain_value(snap.rel_volume.get(row["symbol"], None))
        if snap.ages is not None:
            row["data_age_s"] = plain_value(snap.ages.get(row["symbol"], None))
    return rows


def screen_json(result) -> dict:
    return {**result.snapshot.meta(), "settings": settings_json(result.settings), "rows": rows_json(result),
            "kept": int(len(result.scored)), "dropped": result.counts, "sectors_kept": result.sectors_kept,
            "sectors_available": list(GICS_SECTORS),
            "screen_ms": round(result.seconds * 1000, 2)}


def dumps(payload) -> str:
    return json.dumps(payload, separators=(",", ":"), allow_nan=False)


class Service:
    """The app's state: the engine, the single-flight screens and JSON answers over it (made on the
    screen pool), the stream slots and the names the server answers to."""

    def __init__(self, engine: LiveEngine, limits: ServeLimits | None = None, names=()):
        self.engine = engine
        self.origin = data_origin(engine.universe)  # the day's market: read once, /healthz says it
        self.limits = limits or ServeLimits()
        self.names = tuple(names)
        self.pool = ScreenPool(engine, self.limits.screen_workers)
        self.slots = StreamSlots(total=self.limits.max_streams, per_client=self.limits.max_streams_per_client)
        self._flights: dict[tuple, asyncio.Future] = {}
        self._payloads: dict[tuple, asyncio.Future] = {}
        self.runner = None
        self.metrics: ServeMetrics | None = None  # counts the answer cache's hits and misses
        self.closing = asyncio.Event()  # set when the server shuts down: the streams end

    async def screen(self, settings, snapshot=None):
        """engine.screen on the pool, once per (version, settings) however many ask at once; a screen
        already computed is answered at once, without a thread."""
        snap = snapshot or self.engine.snapshot
        hit = self.engine.cached_screen(settings, snap)
        if hit is not None:
            return hit
        key = (snap.version, settings_key(settings))
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self.pool.run(self.engine.screen, settings, snapshot=snap))
            self._flights[key] = flight
            flight.add_done_callback(lambda _f, key=key: self._flights.pop(key, None))
        return await asyncio.shield(flight)

    async def payload(self, settings, snapshot) -> str:
        """The screen of a version as JSON text, computed and serialized once (on the pool) for every
        request and subscriber."""
        # a screen already computed (the day's, by the rescan) only needs its JSON: not a per-client screen,
        # it does not queue behind them
        computed = self.engine.cached_screen(settings, snapshot) is not None
        return await self.cached(("screen", snapshot.version, settings_key(settings)), self._screen_text,
                                 settings, snapshot, queue=not computed)

    def _screen_text(self, settings, snapshot) -> str:
        return dumps(screen_json(self.engine.screen(settings, snapshot=snapshot)))

    async def cached(self, key: tuple, make, *args, queue: bool = True) -> str:
        """make(*args) on the pool (without `queue`: on Starlette's thread pool), once per key (the last
        256 kept; a failure is not kept)."""
        made = self._payloads.get(key)
        if made is not None and made.done() and (made.cancelled() or made.exception() is not None):
            made = None  # a failure is not kept: this request tries again
        if self.metrics is not None:
            self.metrics.cache("answer", hit=made is not None)
        if made is not None and made.done():
            return made.result()
        if made is None:
            made = self._payloads[key] = asyncio.ensure_future(self.pool.run(make, *args) if queue else
                                                               run_in_threadpool(make, *args))
            if len(self._payloads) > 256:
                for old in list(self._payloads)[:128]:
                    self._payloads.pop(old, None)
        try:
            return await asyncio.shield(made)
        except Exception:
            if self._payloads.get(key) is made:
                self._payloads.pop(key, None)
            raise


def end_streams(app) -> None:
    """End every open stream of the app now, and any opened after: a server shutting down calls it first."""
    service = getattr(app.state, "service", None)
    if service is not None:
        service.closing.set()


async def until(stop: asyncio.Event, items):
    """The items of the async iterator `items` until `stop` is set: then it ends at once (even while
    waiting for the next item) and closes `items`."""
    stopping, step = asyncio.ensure_future(stop.wait()), None
    try:
        while not stop.is_set():
            step = asyncio.ensure_future(items.__anext__())
            await asyncio.wait((step, stopping), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                return
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            step = None
            yield item
    finally:
        stopping.cancel()
        if step is not None and not step.done():
            step.cancel()
            await asyncio.wait((step,))
        await items.aclose()


def _bad(exc: BadParameter) -> JSONResponse:
    return JSONResponse({"error": str(exc), "parameter": exc.parameter}, status_code=400)


def saved_base(request: Request):
    """The settings a request starts from: the saved screen `screen=` names, else the served day's."""
    name = request.query_params.get("screen")
    if name is None:
        return request.app.state.service.engine.day_settings
    saved = request.app.state.screens
    if name not in saved:
        raise BadParameter("screen", f"{name[:40]!r} is not a saved screen (saved: {', '.join(saved) or 'none'})")
    return saved[name]


async def list_screens(request: Request):
    """The saved screens (the screens file's), each with its settings: `?screen=NAME` serves one."""
    saved = request.app.state.screens
    return JSONResponse({"screens": [{"name": n, "settings": settings_json(s)} for n, s in saved.items()]})


async def settings_form(request: Request):
    """The screen settings the page's form offers, described from the model (live.settings_form)."""
    return JSONResponse({"fields": FORM})


async def top(request: Request):
    service: Service = request.app.state.service
    try:
        settings = parse_screen(request.query_params, saved_base(request), allowed=("n", "screen"))
    except BadParameter as exc:
        return _bad(exc)
    return Response(await service.payload(settings, service.engine.snapshot), media_type="application/json")


async def screen(request: Request):
    service: Service = request.app.state.service
    try:
        settings = parse_screen(request.query_params, saved_base(request), allowed=(*SCREEN_PARAMS, "screen"))
    except BadParameter as exc:
        return _bad(exc)
    return Response(await service.payload(settings, service.engine.snapshot), media_type="application/json")


async def symbol(request: Request):
    service: Service = request.app.state.service
    sym = request.path_params["symbol"].strip().upper()
    try:
        settings = parse_screen(request.query_params, saved_base(request), allowed=(*SCREEN_PARAMS, "screen"))
    except BadParameter as exc:
        return _bad(exc)
    snap = service.engine.snapshot
    await service.screen(settings, snap)  # computed once, shared with the list
    text = await service.cached(("symbol", snap.version, settings_key(settings), sym[:40]), symbol_text,
                                service.engine, sym, settings, snap)
    if text is None:
        return JSONResponse({"error": f"{sym[:20]!r} is not listed on {service.engine.day:%Y-%m-%d}"}, status_code=404)
    return Response(text, media_type="application/json")


def symbol_text(engine: LiveEngine, sym: str, settings, snap) -> str | None:
    """engine.symbol's answer on the version `snap` as JSON text, None for a symbol not listed."""
    found = engine.symbol(sym, settings, snapshot=snap)
    if found is None:
        return None
    if found["dropped_by"] is not None:  # the rule with the symbol's number against the setting's bound
        facts = {**(found["indicators"] or {}), "n_bars": found["n_bars"], "last_date": found["last_date"],
                 "sector": found["sector"]}
        found["dropped_detail"] = rule_detail(found["dropped_by"], facts, settings.filter_settings(), snap.day,
                                              engine.screen(settings, snapshot=snap).sectors_kept)
    return dumps({**snap.meta(), **{k: plain_value(v) if not isinstance(v, dict) else
                                    {a: plain_value(b) if not isinstance(b, list) else b for a, b in v.items()}
                                    for k, v in found.items()}})


async def chart(request: Request):
    service: Service = request.app.state.service
    sym = request.path_params["symbol"].strip().upper()[:40]
    if not service.engine.window_ready:  # start-up: wait for the window here, not on a screen thread
        await run_in_threadpool(lambda: service.engine.window_bars)
    snap = service.engine.snapshot
    # the chart changes with a version only where the version is of a later day (its live close)
    text = await service.cached(("chart", sym, snap.version if snap.day > service.engine.day else 0),
                                chart_text, service.engine, sym)
    if text is None:
        return JSONResponse({"error": f"{sym[:20]!r} has no bars in the window"}, status_code=404)
    return Response(text, media_type="application/json")


def chart_text(engine: LiveEngine, sym: str) -> str | None:
    data = chart_data(engine, sym)
    return None if data is None else dumps(data)


def chart_data(engine: LiveEngine, sym: str) -> dict | None:
    """The symbol's window, split-adjusted as of the day, with SMA 50/200 and Bollinger bands (20, 2)
    from TA-Lib, as the indicators define them; the live close appended when a version has one."""
    from technic_assets.core.adjust import split_adjust
    from technic_assets.core.indicators import ta

    bars = engine.bars(sym)
    if bars.empty:
        return None
    adj = split_adjust(bars.reset_index(drop=True))
    c = np.ascontiguousarray(adj["close"].to_numpy(dtype=np.float64))
    upper, _, lower = ta.BBANDS(c, 20, 2.0, 2.0, 0)
    series = {"date": [f"{d:%Y-%m-%d}" for d in pd.DatetimeIndex(adj["date"])],
              **{k: [plain_value(v) for v in adj[k].to_numpy(dtype=float)]
                 for k in ("open", "high", "low", "close", "volume")},
              "sma_50": [plain_value(v) for v in ta.SMA(c, 50)], "sma_200": [plain_value(v) for v in ta.SMA(c, 200)],
              "bb_upper": [plain_value(v) for v in upper], "bb_lower": [plain_value(v) for v in lower]}
    snap = engine.snapshot
    live = None
    if snap.day > engine.day:
        row = snap.indicators[snap.indicators["symbol"] == sym]
        if len(row):
            live = {"date": f"{snap.day:%Y-%m-%d}", "close": plain_value(row.iloc[0]["close"]), "as_of": snap.as_of.isoformat()}
    # as_of, source and version like every other answer: when the appended live close is from
    return {**snap.meta(), "symbol": sym, "day": f"{engine.day:%Y-%m-%d}", **series, "live": live}


async def track(request: Request):
    """The track record of the screen on view, or of the settings asked (live.track_panel)."""
    service: Service = request.app.state.service
    try:
        base = saved_base(request)
        settings = parse_screen(request.query_params, base, allowed=(*SCREEN_PARAMS, "screen", *TRACK_PARAMS))
        ask = track_ask(request.query_params, request.query_params.get("screen") or service.engine.stored.screen,
                        settings, base)
    except (BadParameter, BadTrackInput) as exc:
        return _bad(exc)
    status, text = await request.app.state.track.answer(ask)
    return Response(text, status_code=status, media_type="application/json")


async def healthz(request: Request):
    engine: LiveEngine = request.app.state.service.engine
    snap = engine.snapshot
    lag = (pd.Timestamp.now(tz="UTC") - snap.as_of).total_seconds()
    return JSONResponse({"status": "ok", "day": f"{engine.day:%Y-%m-%d}", **snap.meta(), "feed": engine.feed,
                         "mode": request.app.state.mode, "lag_s": round(lag, 3),
                         **request.app.state.service.origin,
                         "since_publish_s": round(time.time() - snap.published, 3)})


def event_id(engine: LiveEngine, snap) -> str:
    """A version's SSE id: RUN-VERSION, unique across restarts (RUN is the engine's start)."""
    return f"{engine.run}-{snap.version}"


def _last_event_id(request: Request, engine: LiveEngine) -> int | None:
    """The version a resuming client last saw in this run; None for none, or one from another run
    (a restart: its versions are not these) or from before ids named their run (a bare number)."""
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
    if raw is None or raw.strip() == "":
        return None
    run, dash, version = raw.strip().rpartition("-")
    if not version.isdigit() or (dash and not run.isdigit()) or len(raw) > 60:
        raise BadParameter("Last-Event-ID", f"{raw[:20]!r} is not a version id (RUN-VERSION, as the stream sent)")
    return int(version) if run == engine.run else None


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Retry-After": "5"})


async def stream(request: Request):
    service: Service = request.app.state.service
    origin = request.headers.get("origin")
    if origin is not None and not origin_allowed(origin, service.names):
        return JSONResponse({"error": f"Origin {origin[:60]!r} may not open a stream here (not a name this server "
                                      "answers to; add it with TECHNIC_SERVE_ALLOWED_HOSTS)",
                             "parameter": "Origin"}, status_code=403)
    try:
        settings = parse_screen(request.query_params, saved_base(request),
                                allowed=(*SCREEN_PARAMS, "screen", "last_event_id"))
        last = _last_event_id(request, service.engine)
    except BadParameter as exc:
        return _bad(exc)
    address = request.client.host if request.client else ""
    refusal = service.slots.take(address)
    if refusal is not None:
        return _refused(*refusal)

    async def events():
        yield "retry: 2000\n\n"
        async for snap in until(service.closing, service.engine.subscribe(last, heartbeat=PING_SECONDS)):
            if snap is None:
                yield ": ping\n\n"
                continue
            text = await service.payload(settings, snap)
            yield f"id: {event_id(service.engine, snap)}\nevent: version\ndata: {text}\n\n"

    return EventStream(events(), stall_seconds=service.limits.stall_seconds, client=address,
                       on_close=lambda: service.slots.give_back(address), media_type="text/event-stream",
                       headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def index(request: Request):
    return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def create_app(engine: LiveEngine | None = None, *, store_path: str | None = None, day=None,
               mode: str | None = None, screens: dict | None = None, host: str = "127.0.0.1",
               limits: ServeLimits | None = None, access: ServeAccess | None = None) -> Starlette:
    """The app over `engine`, or over the store's day loaded at start-up (lifespan); `screens` are the
    saved screens (name -> ScanSettings) it serves by name; `host` is the address it is bound to (the
    names it answers to follow from it, live.guard, and whether a token is asked, live.access); `limits`
    default to the TECHNIC_SERVE_* settings, `access` to the limits' own. `app.state.access_line` says
    who may reach it (live.serving.serve prints it)."""
    mode = live_mode() if mode is None else mode
    limits = ServeLimits.read() if limits is None else limits
    access = limits.access if access is None else access
    names = allowed_names(host, limits.allowed_hosts)
    gate = gatekeeping.gate_for(host, access)
    metrics = ServeMetrics()  # a registry per app: /metrics

    @asynccontextmanager
    async def lifespan(app: Starlette):
        eng = engine
        if eng is None:
            eng = await run_in_threadpool(LiveEngine.load, store_path, day)
        service = Service(eng, limits, names)
        app.state.service, app.state.mode, app.state.track = service, mode, TrackPanel(service)
        service.metrics = metrics
        metrics.watch(service)
        try:
            if mode != "off":
                service.runner = await start_runner(eng, mode)
            yield
        finally:
            await stop_runner(service.runner)
            service.pool.close()
            metrics.unwatch(service)

    routes = [
        Route("/", index), Route("/healthz", healthz), Route("/api/top", top), Route("/api/screen", screen),
        Route("/api/screens", list_screens), Route("/api/settings", settings_form),
        Route("/api/symbol/{symbol}", symbol), Route("/api/chart/{symbol}", chart), Route("/api/stream", stream),
        Route("/api/track", track),
        Route("/metrics", metrics.endpoint), *gatekeeping.login_routes(gate),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(HostGuard, names=names), *gatekeeping.middleware(gate, access),
        Middleware(TimeScreens, metrics=metrics)])
    app.state.mode, app.state.screens, app.state.metrics = mode, dict(screens or {}), metrics
    app.state.access_line = gatekeeping.startup_line(host, gate)
    return app


async def start_runner(engine: LiveEngine, mode: str):
    """The hook for the intraday loop: technic_assets.live.runner.start(engine, mode), imported lazily."""
    try:
        from technic_assets.live import runner
    except ImportError as exc:
        raise RuntimeError(f"TECHNIC_LIVE={mode} needs technic_assets.live.runner, which this build lacks "
                           f"({exc}); set TECHNIC_LIVE=off to serve the stored day") from None
    await run_in_threadpool(lambda: engine.window_bars)  # the loop continues the window: read it off the event loop
    handle = runner.start(engine, mode)
    return await handle if inspect.isawaitable(handle) else handle


async def stop_runner(handle) -> None:
    stop = getattr(handle, "stop", None)
    if callable(stop):
        done = stop()
        if inspect.isawaitable(done):
            await done
