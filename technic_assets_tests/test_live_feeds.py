"""Polygon's live feeds against fake servers on loopback (real sockets): the full-market snapshot over
HTTP and the minute aggregates over a WebSocket. Malformed messages are counted and skipped, an
outage shows as stale and is recovered from, a refused key is reported without the key."""

import asyncio
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from technic_assets.live.polygon_feed import SNAPSHOT_PATH, AggregatesFeed, SnapshotFeed
from technic_assets.market.http import HttpClient

KEY = "live-key-123"
T0 = 1_748_966_400.0  # 2025-06-03 16:00 UTC, mid-session


def ticker(symbol, o, h, l, c, v, updated):
    """One ticker of the snapshot, in the shape of ../shared/data/polygon/mocks/v2/snapshot/."""
    return {"ticker": symbol, "day": {"o": o, "h": h, "l": l, "c": c, "v": v, "vw": c},
            "prevDay": {"o": o, "h": h, "l": l, "c": o, "v": v * 3, "vw": o},
            "lastTrade": {"p": c, "s": 100, "t": int(updated * 1e9), "x": 4}, "updated": int(updated * 1e9)}


class FakeSnapshot:
    """The snapshot endpoint: the key checked, a mode switched by the test (ok, down: 503, garbage)."""

    def __init__(self, key=KEY):
        self.key, self.mode, self.tickers, self.requests = key, "ok", [], 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.requests += 1
                if self.path.split("?")[0] != SNAPSHOT_PATH:
                    return self._send(404, b'{"status":"NOT_FOUND"}')
                if self.headers.get("Authorization") != f"Bearer {fake.key}":
                    return self._send(401, b'{"status":"ERROR","error":"Unknown API Key"}')
                if fake.mode == "down":
                    return self._send(503, b"Service Unavailable")
                if fake.mode == "garbage":
                    return self._send(200, b'{"status":"OK","tickers": [')
                self._send(200, json.dumps({"status": "OK", "count": len(fake.tickers), "tickers": fake.tickers}).encode())

            def _send(self, code, body):
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def snapshot():
    fake = FakeSnapshot()
    yield fake
    fake.close()


def client(url, key=KEY):
    return HttpClient(url, key, retry_seconds=0.3, backoff=0.01, max_backoff=0.05, timeout=(1.0, 2.0))


async def wait_for(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def no_update_and_stale(updates, feed) -> None:
    """The next update does not come while the feed turns stale; then the feed is closed."""
    pending = asyncio.ensure_future(anext(updates))
    await wait_for(lambda: feed.status.state == "stale")
    pending.cancel()
    with pytest.raises(asyncio.CancelledError):
        await pending
    await updates.aclose()


def test_snapshot_rows_not_traded_yet_are_left_out_and_malformed_rows_counted(snapshot):
    snapshot.tickers = [
        ticker("AAA", 10.0, 10.5, 9.8, 10.2, 12_000, T0 - 10),
        ticker("BBB", 20.0, 20.0, 19.0, 19.5, 3_000, T0),
        ticker("CCC", 0, 0, 0, 0, 0, T0 - 3600),  # no trade yet today: zeros
        {"ticker": "DDD", "updated": int(T0 * 1e9)},  # no day bar
        ticker("EEE", "12.5", 13.0, 12.0, 12.4, 100, T0),  # a price as text
        ticker("FFF", 5.0, 4.0, 6.0, 5.0, 100, T0),  # high below low
        42,
    ]
    feed = SnapshotFeed(client(snapshot.url), interval=0.01)

    async def first():
        return await anext(feed.updates())

    update = asyncio.run(first())
    forming = update.forming.set_index("symbol")
    assert sorted(forming.index) == ["AAA", "BBB"]
    assert forming.loc["AAA", ["open", "high", "low", "close", "volume"]].tolist() == [10.0, 10.5, 9.8, 10.2, 12_000]
    assert feed.status.malformed == 4 and feed.status.extra["not_traded_yet"] == 1
    assert update.as_of == pd_utc(T0)
    assert update.ages.to_dict() == pytest.approx({"AAA": 10.0, "BBB": 0.0})
    assert feed.status.state == "live"


def pd_utc(seconds):
    import pandas as pd

    return pd.Timestamp(seconds, unit="s", tz="UTC")


def test_a_snapshot_outage_shows_as_stale_and_is_recovered_from(snapshot):
    snapshot.tickers = [ticker("AAA", 10.0, 10.5, 9.8, 10.2, 12_000, T0)]
    feed = SnapshotFeed(client(snapshot.url), interval=0.02)

    async def play():
        updates = feed.updates()
        first = await anext(updates)
        snapshot.mode = "down"
        pending = asyncio.ensure_future(anext(updates))
        await wait_for(lambda: feed.status.state == "stale")
        assert "HTTP 503" in feed.status.error and not pending.done()
        snapshot.mode = "garbage"  # a broken answer while it comes back: counted, still stale
        await wait_for(lambda: feed.status.malformed >= 1)
        assert feed.status.state == "stale" and not pending.done()
        snapshot.tickers = [ticker("AAA", 10.0, 10.9, 9.8, 10.8, 15_000, T0 + 60)]
        snapshot.mode = "ok"
        second = await asyncio.wait_for(pending, 5)
        await updates.aclose()
        return first, second

    first, second = asyncio.run(play())
    assert second.as_of - first.as_of == pd_utc(T0 + 60) - pd_utc(T0)
    assert second.forming.set_index("symbol").loc["AAA", "high"] == 10.9
    assert [state for _, state, _ in feed.status.changes] == ["live", "stale", "live"]
    assert feed.status.state == "live" and feed.status.error is None


def test_a_refused_snapshot_key_stops_the_feed_and_is_reported_without_the_key(snapshot, caplog):
    secret = "wrong-secret-key-987"
    feed = SnapshotFeed(client(snapshot.url, key=secret), interval=0.01)

    async def play():
        return [u async for u in feed.updates()]

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(play()) == []
    assert feed.status.state == "refused" and "HTTP 401" in feed.status.error
    assert secret not in feed.status.error and secret not in caplog.text
    assert secret not in json.dumps(feed.status.as_dict())


def am(symbol, o, h, l, c, v, end_ms, op=None, av=None):
    e = {"ev": "AM", "sym": symbol, "o": o, "h": h, "l": l, "c": c, "v": v, "vw": c, "a": c, "z": 10,
         "s": end_ms - 60_000, "e": end_ms}
    if op is not None:
        e["op"], e["av"] = op, av
    return e


class FakeSocket:
    """Polygon's WebSocket protocol: connected, auth (the key checked), subscribe, then the test's
    messages for each connection in turn (after the last one of a connection, the server drops it)."""

    def __init__(self, connections, key=KEY):
        self.connections, self.key, self.logins = list(connections), key, 0

    async def handler(self, ws):
        await ws.send(json.dumps([{"ev": "status", "status": "connected", "message": "Connected Successfully"}]))
        auth = json.loads(await ws.recv())
        if auth.get("action") != "auth" or auth.get("params") != self.key:
            await ws.send(json.dumps([{"ev": "status", "status": "auth_failed", "message": "authentication failed"}]))
            return
        self.logins += 1
        await ws.send(json.dumps([{"ev": "status", "status": "auth_success", "message": "authenticated"}]))
        sub = json.loads(await ws.recv())
        assert sub == {"action": "subscribe", "params": "AM.*"}
        for message in (self.connections.pop(0) if self.connections else []):
            await ws.send(message if isinstance(message, str) else json.dumps(message))
        if not self.connections:
            await asyncio.sleep(30)  # the last connection stays open


async def serve(fake):
    from websockets.asyncio.server import serve as ws_serve

    quiet = logging.getLogger("fake.polygon.websocket")  # the fake's own frame logs hold the key
    quiet.setLevel(logging.INFO)
    server = await ws_serve(fake.handler, "127.0.0.1", 0, logger=quiet)
    return server, f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/stocks"


def test_websocket_minutes_are_aggregated_malformed_ones_skipped_and_a_dropped_socket_reconnects():
    m1, m2, m3 = (int((T0 + 60 * k) * 1000) for k in (1, 2, 3))
    fake = FakeSocket([
        [[am("AAA", 10.0, 10.4, 9.9, 10.1, 500, m1, op=9.95, av=20_500)],
         "{not json",
         [{"ev": "AM", "sym": "BBB", "o": "x", "h": 1, "l": 1, "c": 1, "v": 1, "e": m1}],
         [am("AAA", 10.1, 10.6, 10.0, 10.5, 700, m2, op=9.95, av=21_200), am("BBB", 20.0, 20.2, 19.9, 20.1, 50, m1)]],
        [[am("AAA", 10.5, 10.5, 9.7, 9.8, 900, m3, op=9.95, av=22_100),
          am("AAA", 10.0, 99.0, 1.0, 50.0, 5, int((T0 - 3 * 3600) * 1000))]],  # 12:00 UTC: pre-market
    ])

    async def play():
        server, url = await serve(fake)
        session = (T0 - 2.5 * 3600, T0 + 4 * 3600)  # 13:30 to 20:00 UTC
        feed = AggregatesFeed(url, KEY, reconnect_seconds=0.05, session=session)
        seen, states = [], set()
        async for update in feed.updates():
            seen.append(update)
            states.add(feed.status.state)
            if len(seen) == 3:
                break
        server.close()
        return feed, seen

    feed, seen = asyncio.run(play())
    assert fake.logins == 2  # the dropped connection was made again
    states = [state for _, state, _ in feed.status.changes]
    assert states == ["live", "stale", "live"]  # stale while reconnecting, with the reason
    assert "reconnecting" in feed.status.changes[1][2]
    last = seen[-1].forming.set_index("symbol")
    # the day's official open and accumulated volume from the messages, high/low over the minutes seen
    assert last.loc["AAA", ["open", "high", "low", "close", "volume"]].tolist() == [9.95, 10.6, 9.7, 9.8, 22_100]
    assert last.loc["BBB", ["open", "high", "low", "close", "volume"]].tolist() == [20.0, 20.2, 19.9, 20.1, 50]
    assert feed.status.malformed == 2 and feed.status.extra["outside_session"] == 1
    assert seen[-1].as_of == pd_utc(T0 + 180) and seen[-1].ages.to_dict() == {"AAA": 0.0, "BBB": 120.0}
    assert feed.status.state == "live"


def test_websocket_a_refused_key_stops_the_feed_without_showing_the_key(caplog):
    secret = "ws-secret-key-555"

    async def play():
        server, url = await serve(FakeSocket([]))
        feed = AggregatesFeed(url, secret, reconnect_seconds=0.05)
        updates = [u async for u in feed.updates()]
        server.close()
        return feed, updates

    with caplog.at_level(logging.DEBUG):
        feed, updates = asyncio.run(play())
    assert updates == [] and feed.status.state == "refused"
    assert "refused" in feed.status.error and secret not in feed.status.error and secret not in caplog.text
    assert secret not in repr(feed)


def test_a_snapshot_whose_data_stops_moving_turns_stale(snapshot):
    """The provider answers, but with the same data (it lags, or the market closed)."""
    snapshot.tickers = [ticker("AAA", 10.0, 10.5, 9.8, 10.2, 12_000, T0)]
    feed = SnapshotFeed(client(snapshot.url), interval=0.02, stale_after=0.2)

    async def play():
        updates = feed.updates()
        await anext(updates)
        await no_update_and_stale(updates, feed)

    asyncio.run(play())
    assert "has not moved" in feed.status.error and feed.status.as_of == pd_utc(T0).isoformat()


def test_websocket_starts_from_the_day_so_far_and_turns_stale_when_nothing_comes():
    m1 = int((T0 + 60) * 1000)
    fake = FakeSocket([[[am("AAA", 10.0, 10.4, 9.9, 10.1, 500, m1, op=9.95, av=20_500)]]])
    day_so_far = {"status": "OK", "tickers": [ticker("AAA", 9.95, 10.8, 9.5, 10.0, 20_000, T0)]}

    async def play():
        server, url = await serve(fake)
        feed = AggregatesFeed(url, KEY, snapshot=lambda: day_so_far, stale_after=0.2)
        updates = feed.updates()
        first, second = await anext(updates), await anext(updates)
        await no_update_and_stale(updates, feed)
        server.close()
        return feed, first, second

    feed, first, second = asyncio.run(play())
    assert first.as_of == pd_utc(T0) and first.forming.set_index("symbol").loc["AAA", "high"] == 10.8
    row = second.forming.set_index("symbol").loc["AAA"]
    # the morning's high and low from the snapshot, the minute's close, the day's volume from `av`
    assert row[["open", "high", "low", "close", "volume"]].tolist() == [9.95, 10.8, 9.5, 10.1, 20_500]
    assert "no message for 0.2 s" in feed.status.error
