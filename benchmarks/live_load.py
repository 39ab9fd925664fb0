"""Load on `technic serve` (issue 24): requests per second, p50 and p99 per endpoint with 50 connections.

A `technic serve` process (TECHNIC_LIVE=off) over the 6,000-stock store that benchmarks.live_serve builds,
and, in this process, 50 keep-alive HTTP/1.1 connections on loopback (plain asyncio streams: a lean client,
so that the server and not the client is what is measured), each sending its next request as soon as the
last answer is read, for `--seconds` per endpoint:

    /healthz                      the feed's state
    /api/top                      the day's settings' top N (one computation for every client)
    /api/screen?min_price=...     40 distinct settings in turn (each computed once, then cached)
    /api/symbol/{SYMBOL}          the day's top 50 in turn
    /api/chart/{SYMBOL}           the same 50 symbols' charts

The server runs from the checkout this script is run in, so the same script measures another commit
(`git stash` or a worktree of it) on the same machine. Issue 24's figures (2 cores, before): /api/top 325
req/s, p99 366 ms; /api/chart p99 1.03 s.

    python -m benchmarks.live_load [--store /tmp/technic_live_6000/store.duckdb] [--seconds 5] [--connections 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request

from benchmarks.live_serve import DEFAULT_STORE, ensure_store


async def fetch(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, bytes]:
    """One GET on a keep-alive connection: (status, body); the answer must carry a Content-Length."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def load(port: int, paths: list[str], connections: int, seconds: float) -> dict:
    """`connections` clients cycling through `paths` for `seconds`: req/s, p50, p99 and the errors."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        try:
            while time.perf_counter() < stop:
                t = time.perf_counter()
                status, _ = await fetch(reader, writer, paths[i % len(paths)])
                latencies.append(time.perf_counter() - t)
                if status != 200:
                    errors[status] = errors.get(status, 0) + 1
                i += connections
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(connections)))
    took = time.perf_counter() - started
    v = sorted(latencies)
    q = lambda p: v[min(len(v) - 1, int(p * len(v)))] * 1000  # noqa: E731
    return {"requests": len(v), "req_s": len(v) / took, "p50_ms": q(0.50), "p99_ms": q(0.99), "errors": errors}


def start_server(store: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "TECHNIC_DUCKDB_PATH": store, "TECHNIC_LIVE": "off"}
    proc = subprocess.Popen([sys.executable, "-m", "technic_assets.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/chart/SPY", timeout=30) as r:
                r.read()  # answers once the window of bars is read: the charts are measured, not the load
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"technic serve did not come up: {proc.stderr.read()[-2000:]}")
            time.sleep(0.2)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=DEFAULT_STORE)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    ensure_store(args.store)
    from technic_assets_tests.live_server import free_port

    port = free_port()
    proc = start_server(args.store, port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/top?n=50", timeout=60) as r:
            symbols = [row["symbol"] for row in json.load(r)["rows"]]
        endpoints = {
            "/healthz": ["/healthz"],
            "/api/top": ["/api/top"],
            "/api/screen": [f"/api/screen?style=swing&min_price={2 + k * 0.25:.2f}" for k in range(40)],
            "/api/symbol": [f"/api/symbol/{s}" for s in symbols],
            "/api/chart": [f"/api/chart/{s}" for s in symbols],
        }
        print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())} ({os.cpu_count()} cores); "
              f"{args.connections} connections, {args.seconds:g} s an endpoint")
        results = {}
        for name, paths in endpoints.items():
            results[name] = r = asyncio.run(load(port, paths, args.connections, args.seconds))
            print(f"{name:12s} {r['req_s']:8.1f} req/s  p50 {r['p50_ms']:7.1f} ms  p99 {r['p99_ms']:7.1f} ms  "
                  f"({r['requests']} requests{', errors ' + str(r['errors']) if r['errors'] else ''})")
        print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        proc.terminate()
        proc.wait(20)


if __name__ == "__main__":
    main()
