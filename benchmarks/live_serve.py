"""Live serving benchmark (issue 12): start-up, screens, rescan-to-SSE latency with many clients, memory.

On the 6,000-stock built-in market (a store built once with TECHNIC_SYNTHETIC_STOCKS=6000 and `technic
scan`, cached under /tmp), it measures:
  startup     store to ready: LiveEngine.load + the app, in a fresh process (target 2 s); and a whole
              `technic serve` process from spawn to its first /healthz answer (imports included)
  screen      a screen with new settings, server side (engine.screen on settings never seen before;
              target 20 ms median), and the same through GET /api/screen on loopback
  rescan      engine.rescan of the whole universe (the engine's share of an intraday update)
  sse         from the rescan call (the feed's message handed to the engine) to the `version` event read
              by loopback clients in another process, with 1 and with 50 clients (target p99 250 ms)
  memory      resident memory of a fresh process: after the imports, after loading the day, after
              screens and rescans; less the day's raw window (target 500 MB beyond the window)

    python -m benchmarks.live_serve [--store /tmp/technic_live_6000/store.duckdb] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request

DEFAULT_STORE = "/tmp/technic_live_6000/store.duckdb"


def ensure_store(path: str) -> None:
    """The 6,000-stock store with one scanned day, built once through the CLI."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    env = {**os.environ, "TECHNIC_SYNTHETIC_STOCKS": "6000", "TECHNIC_DUCKDB_PATH": path,
           "DAGSTER_HOME": tempfile.mkdtemp(prefix="technic-bench-home-")}
    print(f"building {path} (technic scan on 6,000 stocks, about a minute) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "technic_assets.cli", "scan", "--quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL)


def spread(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    v = sorted(x * scale for x in values)
    p = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]  # noqa: E731
    return (f"median {statistics.median(v):.1f} {unit}, p90 {p(0.9):.1f}, p99 {p(0.99):.1f}, "
            f"min {v[0]:.1f}, max {v[-1]:.1f} (n={len(v)})")


def child(code: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


STARTUP = """
    import json, sys, time
    from technic_assets.live.engine import LiveEngine
    from technic_assets.live.server import create_app
    t = time.perf_counter()
    engine = LiveEngine.load(sys.argv[1], wait_for_window=False)  # as technic serve loads it
    create_app(engine, mode="off")
    ready = time.perf_counter() - t
    rows = len(engine.window_bars)
    print(json.dumps({"seconds": ready, "window": time.perf_counter() - t, "listings": len(engine.universe),
                      "window_rows": rows}))
"""

MEMORY = """
    import json, sys
    import pandas as pd
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    from technic_assets.live.engine import LiveEngine, scan_settings
    import technic_assets.live.server
    base = rss()
    engine = LiveEngine.load(sys.argv[1])
    loaded = rss()
    window = int(engine.window_bars.memory_usage(deep=True).sum())
    for k in range(30):
        engine.screen(scan_settings(engine.day_settings, min_price=1.0 + k / 7, style=("swing", "medium", "position")[k % 3]))
    live = engine.stored.indicators.assign(date=engine.day)
    for k in range(70):  # more than the versions kept for resuming: the steady state
        engine.rescan(live, as_of=pd.Timestamp.now(tz="UTC"), source="bench")
    import gc
    gc.collect()
    print(json.dumps({"imports": base, "loaded": loaded, "after_use": rss(), "window": window}))
"""

CLIENTS = """
    import asyncio, json, sys, time
    from datetime import datetime
    url_host, url_port, clients, versions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    lat, ready = [], []

    async def one(k):
        reader, writer = await asyncio.open_connection(url_host, url_port)
        writer.write(f"GET /api/stream HTTP/1.1\\r\\nHost: {url_host}\\r\\nAccept: text/event-stream\\r\\n\\r\\n".encode())
        await writer.drain()
        seen = 0
        while seen < versions:
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                now = time.time()
                payload = json.loads(line[6:])
                if payload["version"] == 1:
                    ready.append(k)
                    continue
                lat.append(now - datetime.fromisoformat(payload["as_of"]).timestamp())
                seen += 1
        writer.close()

    async def main():
        await asyncio.gather(*(one(k) for k in range(clients)))
    asyncio.run(main())
    print(json.dumps({"latencies": lat}))
"""


def sse_latency(engine, clients: int, versions: int, gap: float) -> tuple[list[float], list[float]]:
    """Latencies from rescan call to event receipt at `clients` loopback clients, and the rescan times."""
    import pandas as pd

    from technic_assets.live.server import create_app
    from technic_assets_tests.live_server import running

    live = engine.stored.indicators.assign(date=engine.day)
    movers = engine.screen().scored["symbol"].iloc[20:20 + versions].tolist()
    with running(create_app(engine, mode="off")) as url:
        host, port = url.removeprefix("http://").split(":")
        proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(CLIENTS), host, port, str(clients),
                                 str(versions)], stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # every client connected and given the current version
            with urllib.request.urlopen(f"{url}/healthz") as r:
                json.load(r)
            if _connected(engine) >= clients:
                break
            time.sleep(0.1)
        rescans = []
        for k in range(versions):
            time.sleep(gap)
            frame = live.copy()
            frame.loc[frame["symbol"] == movers[k], ["roc_63", "roc_126"]] += 50.0
            t = time.thread_time()
            engine.rescan(frame, as_of=pd.Timestamp.now(tz="UTC"), source="bench")
            rescans.append(time.thread_time() - t)
        out, _ = proc.communicate(timeout=120)
    return json.loads(out.strip().splitlines()[-1])["latencies"], rescans


def _connected(engine) -> int:
    with engine._lock:
        return len(engine._subscribers)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=DEFAULT_STORE)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screens", type=int, default=40)
    parser.add_argument("--versions", type=int, default=30)
    args = parser.parse_args(argv)
    ensure_store(args.store)
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} (2 cores)")

    starts = [child(STARTUP, args.store) for _ in range(args.repeat)]
    print(f"startup (store to ready: screens served, in a fresh process): {spread([s['seconds'] for s in starts], 's', 1)}; "
          f"{starts[0]['listings']} listings")
    print(f"  and the window of {starts[0]['window_rows']:,} bars loaded (charts, the intraday loop): "
          f"{spread([s['window'] for s in starts], 's', 1)}")
    print(f"technic serve, spawn to first /healthz: {spread([serve_to_ready(args.store) for _ in range(2)], 's', 1)}")

    from technic_assets.live.engine import LiveEngine, scan_settings

    engine = LiveEngine.load(args.store)
    styles, sectors = ("swing", "medium", "position"), [[], ["Energy"], ["Financials", "Health Care"], []]
    times, cpu, chain = [], [], []
    for k in range(args.screens):
        settings = scan_settings(engine.day_settings, style=styles[k % 3], sectors=sectors[k % 4],
                                 min_price=2.0 + k * 0.173, min_dollar_volume=250_000 + 10_000 * k)
        t, c = time.perf_counter(), time.thread_time()
        engine.screen(settings)
        cpu.append(time.thread_time() - c)
        times.append(time.perf_counter() - t)
        c = time.thread_time()
        assets_chain(engine, settings)
        chain.append(time.thread_time() - c)
    print(f"screen with new settings, server side: {spread(times)}")
    print(f"  its CPU time (thread): {spread(cpu)}")
    print(f"  the assets' per-day chain (core *_for_days) on the same settings, CPU time: {spread(chain)}")
    print(f"  the same again (cached): {spread(_cached(engine))}")
    print(f"screen through GET /api/screen on loopback: {spread(http_screens(engine, args.screens))}")

    for clients in (1, 50):
        lat, rescans = sse_latency(LiveEngine.load(args.store), clients, args.versions, 0.4)
        print(f"rescan (engine.rescan, whole universe, CPU time, {clients} client(s) streaming): {spread(rescans)}")
        print(f"rescan to SSE event at {clients} loopback client(s): {spread(lat)}")

    mem = child(MEMORY, args.store)
    mb = 1 / 2**20
    print(f"memory: after imports {mem['imports'] * mb:.0f} MB; loaded {mem['loaded'] * mb:.0f} MB "
          f"(+{(mem['loaded'] - mem['imports']) * mb:.0f}); after 30 screens and 70 rescans {mem['after_use'] * mb:.0f} MB; "
          f"the day's window {mem['window'] * mb:.0f} MB; beyond the window "
          f"{(mem['after_use'] - mem['imports'] - mem['window']) * mb:.0f} MB")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def assets_chain(engine, settings):
    """core.pipeline's stages as the assets call them, on the engine's day (the comparison)."""
    import pandas as pd

    from technic_assets.core.factors import factors_for_days
    from technic_assets.core.scoring import ics_for_days, merit_for_days, rank_for_days
    from technic_assets.core.universe_filter import filter_days

    day = engine.day
    ind = engine.stored.indicators.assign(date=day)
    kept, _, _ = filter_days(engine.universe.assign(date=day), ind, [day], settings.filter_settings())
    factors, _ = factors_for_days(kept, ind, engine.stored.fundamentals.assign(date=day), engine.stored.splits,
                                  settings.style)
    ics = ics_for_days(factors, settings.style)
    forecasts = kept[["date", "symbol"]].merge(engine.stored.forecasts, on="symbol", how="left")
    merit, _ = merit_for_days(factors, ics, pd.Series({day: engine.snapshot.risk}), forecasts, settings.style,
                              engine.stored.alpha_weight)
    return rank_for_days(merit, kept, ind, settings.top_n)


def _cached(engine) -> list[float]:
    out = []
    for _ in range(20):
        t = time.perf_counter()
        engine.screen()
        out.append(time.perf_counter() - t)
    return out


def http_screens(engine, count: int) -> list[float]:
    from technic_assets.live.server import create_app
    from technic_assets_tests.live_server import running

    out = []
    with running(create_app(engine, mode="off")) as url:
        for k in range(count):
            t = time.perf_counter()
            with urllib.request.urlopen(f"{url}/api/screen?style=swing&min_price={3 + k * 0.37:.2f}") as r:
                r.read()
            out.append(time.perf_counter() - t)
    return out


def serve_to_ready(store: str) -> float:
    from technic_assets_tests.live_server import free_port

    port = free_port()
    env = {**os.environ, "TECHNIC_DUCKDB_PATH": store, "TECHNIC_LIVE": "off"}
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "technic_assets.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    r.read()
                return time.perf_counter() - t
            except OSError:
                if proc.poll() is not None or time.perf_counter() - t > 60:
                    raise RuntimeError("technic serve did not come up")
                time.sleep(0.02)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
