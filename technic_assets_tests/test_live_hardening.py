"""`technic serve` against greedy clients and hostile pages (issue 24, items 3-6), on the warm 200-stock
day: stalled streams, many streams with distinct settings, resuming after a restart, DNS rebinding.

No test here waits on timing luck: what is asserted is a bounded quantity (versions held per subscriber,
screens run at once, resident memory) or an order that events and gates enforce; the waits are for a
condition, with deadlines far beyond what it takes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import pandas as pd
import pytest
from starlette.testclient import TestClient

from technic_assets.environment import ServeLimits
from technic_assets.live.engine import LiveEngine
from technic_assets.live.guard import allowed_names, host_name
from technic_assets.live.server import create_app
from technic_assets.live.streams import ScreenPool
from technic_assets_tests.live_server import running
from technic_assets_tests.test_live_server import modified, sse_events

WIDE = ServeLimits(max_streams=200, max_streams_per_client=200, stall_seconds=600.0)


@pytest.fixture(scope="module")
def engine(warm_template):
    return LiveEngine.load(warm_template)


def until(condition, what: str, seconds: float = 120.0) -> None:
    """Wait for `condition()` (polled); fail naming `what` after `seconds`, far beyond what it needs."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds:.0f} s: {what}"
        time.sleep(0.02)


def publish(engine: LiveEngine, k: int) -> None:
    engine.rescan(modified(engine, k % 20), as_of=pd.Timestamp.now(tz="UTC"), source="replay")


def rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))


# -- 3. stalled stream clients ---------------------------------------------------------------------------
def test_a_subscriber_holds_only_the_newest_version(engine):
    """Five versions published while a subscriber does not read: it holds one, the newest, and is given
    that one next (a client that is behind wants the latest, not the history)."""

    async def scenario():
        versions = engine.subscribe()
        first = await versions.__anext__()
        for k in range(5):
            publish(engine, k)
        await asyncio.sleep(0)  # the publisher's hand-overs (call_soon_threadsafe) run
        held = engine.backlogs()
        nxt = await versions.__anext__()
        await versions.aclose()
        return first.version, held, nxt.version

    first, held, nxt = asyncio.run(scenario())
    assert held == [1]
    assert nxt == first + 5 == engine.version
    assert engine.backlogs() == []  # closed: unsubscribed


def asgi_scope(path: str, query: str = "", headers=()) -> dict:
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
            "query_string": query.encode(), "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
            "headers": [(b"host", b"localhost"), *headers]}


def test_a_stream_whose_client_stops_reading_is_dropped_and_its_slot_given_back(engine):
    """The ASGI server's `send` never returns once the headers are out (a client that reads nothing: its
    buffers are full): after stall_seconds the stream ends, its subscription and its slot with it."""
    app = create_app(engine, mode="off", limits=ServeLimits(stall_seconds=0.2))
    sent: list[dict] = []

    async def scenario():
        forever = asyncio.Event()

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body":
                await forever.wait()

        async def receive():
            await forever.wait()  # no disconnect: the client just sits there

        async with app.router.lifespan_context(app):
            service = app.state.service
            await asyncio.wait_for(app(asgi_scope("/api/stream"), receive, send), 60)
            return service.slots.count(), engine.backlogs()

    slots, backlogs = asyncio.run(scenario())
    assert sent[0]["status"] == 200 and slots == 0 and backlogs == []
    assert all(m.get("more_body", True) for m in sent[1:])  # never finished: the connection is closed unfinished


def stalled_stream(port: int, query: str) -> socket.socket:
    """A stream requested and never read, with a small receive buffer (set before connecting)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET /api/stream?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return sock


def test_fifty_stalled_streams_hold_one_version_each_and_bounded_memory(warm_template):
    """50 clients that never read the whole-list stream while 60 versions are published: each holds at
    most one version, none is dropped (the stall limit is 10 minutes here), and resident memory grows by
    less than 50 MB; once they hang up, every slot is given back."""
    engine = LiveEngine.load(warm_template)
    app = create_app(engine, mode="off", limits=WIDE)
    with running(app) as url:
        port = int(url.rsplit(":", 1)[1])
        query = "n=500&include_etfs=true&min_dollar_volume=0&min_price=0"
        socks = [stalled_stream(port, query) for _ in range(50)]
        try:
            until(lambda: len(engine.backlogs()) == 50, "50 streams subscribed")
            before, most = rss(), 0
            for k in range(60):
                publish(engine, k)
                most = max([most, *engine.backlogs()])
            httpx.get(f"{url}/healthz", timeout=60)  # the loop has run the hand-overs queued before it
            held = engine.backlogs()
            grown = rss() - before
        finally:
            for sock in socks:
                sock.close()
        assert len(held) == 50 and max(held) <= 1 and most <= 1
        assert grown < 50 * 2**20, f"resident memory grew {grown / 2**20:.0f} MB"
        until(lambda: app.state.service.slots.count() == 0 and engine.backlogs() == [], "slots given back")


# -- 4. streams with distinct settings -------------------------------------------------------------------
def test_streams_are_capped_per_client_and_in_all(engine):
    limits = ServeLimits(max_streams=3, max_streams_per_client=2)
    app = create_app(engine, mode="off", limits=limits)
    readers = []  # each open stream's line iterator, kept: one dropped would close its connection

    def versioned(response) -> bool:
        """The stream has given its first version (and stays open)."""
        lines = response.iter_lines()
        readers.append(lines)
        return response.status_code == 200 and any(line.startswith("data: ") for line in lines)

    with running(app) as url, httpx.Client(timeout=60) as a, \
            httpx.Client(timeout=60, transport=httpx.HTTPTransport(local_address="127.0.0.2")) as b:
        service = app.state.service
        first = a.stream("GET", f"{url}/api/stream?n=3")
        assert versioned(first.__enter__())
        with a.stream("GET", f"{url}/api/stream?n=4") as second:
            assert versioned(second)
            third = a.get(f"{url}/api/stream?n=5")
            assert third.status_code == 429 and "TECHNIC_SERVE_MAX_STREAMS_PER_CLIENT" in third.json()["error"]
            with b.stream("GET", f"{url}/api/stream?n=5") as other:  # another address: within the total
                assert versioned(other)
                fourth = b.get(f"{url}/api/stream?n=6")
                assert fourth.status_code == 503 and "TECHNIC_SERVE_MAX_STREAMS" in fourth.json()["error"]
                assert fourth.headers["retry-after"]
                assert service.slots.count() == 3
                first.__exit__(None, None, None)  # one closed: its slot comes back
                until(lambda: service.slots.count() == 2, "the closed stream's slot given back")
                with a.stream("GET", f"{url}/api/stream?n=7") as again:
                    assert versioned(again)


def test_per_client_screens_wait_for_the_feeds_rescan(engine, monkeypatch):
    """A screen queued on the pool while a rescan runs starts only after the rescan has published."""
    pool = ScreenPool(engine, 1, rescan_wait=600)
    inside, release, order = threading.Event(), threading.Event(), []
    real = engine._rescan

    def slow_rescan(*args, **kwargs):
        inside.set()
        release.wait(600)
        result = real(*args, **kwargs)
        order.append(("published", engine.version))
        return result

    monkeypatch.setattr(engine, "_rescan", slow_rescan)
    feed = threading.Thread(target=publish, args=(engine, 0))
    feed.start()
    try:
        assert inside.wait(600)
        job = pool.submit(lambda: order.append(("screen", engine.version)))
        release.set()
        job.result(600)
    finally:
        release.set()
        feed.join(600)
        pool.close()
    assert [what for what, _ in order] == ["published", "screen"] and order[0][1] == order[1][1]


def test_the_feed_and_healthz_go_on_while_every_screen_worker_is_busy(warm_template):
    """The one screen worker held by a gate: /healthz answers, the feed's rescan publishes, and the day's
    top of the new version (computed by the rescan itself) is served; a new setting waits for the worker."""
    engine = LiveEngine.load(warm_template)
    app = create_app(engine, mode="off", limits=ServeLimits(screen_workers=1))
    gate = threading.Event()
    with running(app) as url, httpx.Client(timeout=120) as http:
        busy = app.state.service.pool.submit(gate.wait, 600)
        try:
            assert http.get(f"{url}/healthz").status_code == 200
            publish(engine, 0)
            top = http.get(f"{url}/api/top").json()
            assert top["version"] == engine.version == 2
            assert http.get(f"{url}/healthz").json()["version"] == 2
        finally:
            gate.set()
        busy.result(600)
        assert http.get(f"{url}/api/screen?min_price=7.5").json()["version"] == 2


class SseClients:
    """`count` streams, each with its own `min_price`, read on an event loop in a thread: the newest
    version each has received."""

    def __init__(self, port: int, count: int):
        self.port, self.count = port, count
        self.newest = [0] * count
        self.stop: asyncio.Event | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self.main(),), daemon=True)

    async def main(self):
        self.stop = asyncio.Event()
        tasks = [asyncio.ensure_future(self.one(k)) for k in range(self.count)]
        await self.stop.wait()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def one(self, k: int):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        # none is the day's own min_price (5): the feed's rescan screens that one itself
        writer.write(f"GET /api/stream?n=10&min_price={1.1 + k * 0.25:.2f} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    self.newest[k] = max(self.newest[k], json.loads(line[6:])["version"])
        finally:
            writer.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        until(lambda: self.stop is not None, "the clients' loop started")
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(60)


def test_forty_streams_with_distinct_settings_do_not_stall_the_feed(warm_template):
    """40 streams, 40 settings, while the feed publishes 10 versions: every version is published, every
    client ends on the newest, at most `screen_workers` screens ever ran at once, and each (version,
    settings) was screened at most once."""
    engine = LiveEngine.load(warm_template)
    computed: list[tuple] = []
    real = engine._compute

    def counted(snap, settings):
        computed.append((snap.version, settings.min_price))
        return real(snap, settings)

    engine._compute = counted
    app = create_app(engine, mode="off", limits=ServeLimits(max_streams=64, max_streams_per_client=64,
                                                             screen_workers=2))
    with running(app) as url, SseClients(int(url.rsplit(":", 1)[1]), 40) as clients:
        until(lambda: min(clients.newest) == 1, "40 streams given version 1")
        feed = threading.Thread(target=lambda: [publish(engine, k) for k in range(10)])
        feed.start()
        healthz = [httpx.get(f"{url}/healthz", timeout=120).status_code]
        feed.join(300)
        assert not feed.is_alive() and engine.version == 11
        until(lambda: min(clients.newest) == 11, "every client given the newest version")
        healthz.append(httpx.get(f"{url}/healthz", timeout=120).status_code)
        most = app.state.service.pool.most
    assert healthz == [200, 200]
    assert 1 <= most <= 2
    assert len(computed) == len(set(computed))


# -- 5. resuming after a restart -------------------------------------------------------------------------
def test_an_id_from_before_a_restart_gets_the_current_version(warm_template):
    before = LiveEngine.load(warm_template)
    with running(create_app(before, mode="off")) as url, httpx.Client(timeout=60) as http:
        for k in range(2):
            publish(before, k)
        with http.stream("GET", f"{url}/api/stream?n=5") as response:
            [(last_id, seen)] = sse_events(response, 1)
    assert seen["version"] == 3
    # the server restarts: a new run of the engine, at version 1 again. A client given only pings would
    # wait for ever (no version is published after it connects): the reads time out after 12 s, before
    # the first ping (15 s), where the answer takes milliseconds
    after = LiveEngine.load(warm_template)
    with running(create_app(after, mode="off")) as url, httpx.Client(timeout=12) as http:
        with http.stream("GET", f"{url}/api/stream?n=5", headers={"Last-Event-ID": last_id}) as response:
            [(ident, payload)] = sse_events(response, 1)
        assert payload["version"] == after.version == 1 and ident == f"{after.run}-1" != last_id
        for sent in (f"{after.run}-{after.version + 40}", "7"):  # one this run has not published, a bare number
            with http.stream("GET", f"{url}/api/stream?n=5", headers={"Last-Event-ID": sent}) as response:
                [(ident, payload)] = sse_events(response, 1)
            assert payload["version"] == after.version and ident == f"{after.run}-{after.version}", sent


# -- 6. DNS rebinding ------------------------------------------------------------------------------------
def test_a_host_the_server_is_not_bound_under_is_refused(engine):
    with TestClient(create_app(engine, mode="off"), base_url="http://localhost") as client:
        for host in ("evil.example", "evil.example:8000", "localhost.evil.example", "", "a b"):
            response = client.get("/api/top", headers={"host": host})
            assert response.status_code == 400, host
            assert "TECHNIC_SERVE_ALLOWED_HOSTS" in response.json()["error"]
        for host in ("localhost", "localhost:8000", "LOCALHOST.", "127.0.0.1:8000", "[::1]:8000", "10.1.2.3"):
            assert client.get("/healthz", headers={"host": host}).status_code == 200, host
    allowed = ServeLimits(allowed_hosts=("technic.lan", "*.example.org"))
    with TestClient(create_app(engine, mode="off", host="0.0.0.0", limits=allowed), base_url="http://localhost") as client:
        for host in ("technic.lan:8000", "a.example.org", "localhost", socket.gethostname()):
            assert client.get("/healthz", headers={"host": host}).status_code == 200, host
        for host in ("example.org", "technic.lan.evil.example"):
            assert client.get("/healthz", headers={"host": host}).status_code == 400, host


def test_a_stream_from_a_foreign_origin_is_refused_and_the_server_does_not_name_itself(engine):
    with running(create_app(engine, mode="off")) as url, httpx.Client(timeout=60) as http:
        for origin in ("http://evil.example", "null"):
            with http.stream("GET", f"{url}/api/stream", headers={"Origin": origin}) as refused:
                assert refused.status_code == 403 and json.loads(refused.read())["parameter"] == "Origin"
        with http.stream("GET", f"{url}/api/stream?n=2", headers={"Origin": url}) as response:
            assert response.status_code == 200 and sse_events(response, 1)
        answer = http.get(f"{url}/healthz")
        assert answer.status_code == 200 and "server" not in answer.headers


def test_host_names_and_serve_limits_are_read_and_checked():
    assert host_name("Example.ORG.:80") == "example.org" and host_name("[::1]:8000") == "::1"
    assert host_name("a:b") is None and host_name("") is None and host_name("[::1]x") is None
    assert allowed_names("127.0.0.1") == ("localhost",) and allowed_names("my.host", ("x",)) == ("x", "my.host")
    limits = ServeLimits.read({"TECHNIC_SERVE_ALLOWED_HOSTS": " technic.lan, *.example.org ",
                               "TECHNIC_SERVE_MAX_STREAMS": "10", "TECHNIC_SERVE_MAX_STREAMS_PER_CLIENT": "2",
                               "TECHNIC_SERVE_STALL_SECONDS": "5", "TECHNIC_SERVE_SCREEN_WORKERS": "3"})
    assert limits == ServeLimits(("technic.lan", "*.example.org"), 10, 2, 5.0, 3)
    assert ServeLimits.read({}) == ServeLimits()
    for name, value, words in [("TECHNIC_SERVE_ALLOWED_HOSTS", "http://x", "is not a host name"),
                               ("TECHNIC_SERVE_ALLOWED_HOSTS", "a.*.b", "is not a host name"),
                               ("TECHNIC_SERVE_MAX_STREAMS", "0", "outside"),
                               ("TECHNIC_SERVE_STALL_SECONDS", "soon", "not a number")]:
        with pytest.raises(ValueError, match=words):
            ServeLimits.read({name: value})
