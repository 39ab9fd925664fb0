"""What an operator of `technic serve` relies on (issue 23): /metrics scraped and read with the Prometheus
client's own parser, the token asked beyond loopback (refused without, served with), CORS only where
configured. On the warm 200-stock day, in process (Starlette's TestClient)."""

import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from technic_assets.environment import ServeAccess
from technic_assets.live.access import COOKIE
from technic_assets.live.engine import LiveEngine
from technic_assets.live.server import create_app

TOKEN = "a-test-token-0123456789"


@pytest.fixture
def engine(warm_template):
    return LiveEngine.load(warm_template)  # a fresh one: the tests publish versions


def scrape(client) -> dict:
    """{(sample name, frozenset of labels): value} of /metrics, parsed by prometheus_client's parser."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_with_a_screen_request_and_a_rescan(engine):
    with TestClient(create_app(engine, mode="off"), base_url="http://localhost") as client:
        before = scrape(client)
        assert value(before, "technic_feed_state", state="off") == 1.0
        assert value(before, "technic_versions_published_total") == 0.0 and value(before, "technic_version") == 1.0
        assert value(before, "technic_screen_seconds_count", endpoint="screen") == 0.0
        assert value(before, "process_resident_memory_bytes") > 0  # the client's process collector

        query = "/api/screen?style=swing&min_price=7"
        assert client.get(query).status_code == 200
        first = scrape(client)
        assert value(first, "technic_screen_seconds_count", endpoint="screen") == 1.0
        assert value(first, "technic_screen_seconds_bucket", endpoint="screen", le="+Inf") == 1.0
        misses = "technic_cache_misses_total"
        assert value(first, misses, cache="answer") == value(before, misses, cache="answer") + 1
        assert value(first, misses, cache="screen") > value(before, misses, cache="screen")  # computed
        assert client.get(query).status_code == 200  # the same settings and version: the JSON is kept
        second = scrape(client)
        assert value(second, "technic_screen_seconds_count", endpoint="screen") == 2.0
        hits = "technic_cache_hits_total"
        assert value(second, hits, cache="answer") == value(first, hits, cache="answer") + 1

        assert value(second, "technic_rescan_seconds_count") == 0.0
        live = engine.stored.indicators.assign(date=engine.day)
        as_of = pd.Timestamp("2025-06-03 15:00", tz="UTC")
        engine.rescan(live, as_of=as_of, source="replay")
        engine.set_feed("live")
        earliest = (pd.Timestamp.now(tz="UTC") - as_of).total_seconds()
        after = scrape(client)
        latest = (pd.Timestamp.now(tz="UTC") - as_of).total_seconds()
        assert value(after, "technic_rescan_seconds_count") == 1.0 and value(after, "technic_rescan_seconds_sum") > 0
        assert value(after, "technic_versions_published_total") == 1.0 and value(after, "technic_version") == 2.0
        assert value(after, "technic_feed_state", state="live") == 1.0
        assert value(after, "technic_feed_state", state="off") == 0.0  # only the current state is there
        assert earliest <= value(after, "technic_feed_lag_seconds") <= latest

        slots = client.app.state.service.slots
        assert value(after, "technic_streams_open") == 0.0
        assert slots.take("192.0.2.1") is None and slots.take("192.0.2.2") is None
        assert value(scrape(client), "technic_streams_open") == 2.0
    # the app is gone: the engine's observers with it
    assert engine.on_rescan == [] and engine.on_screen_cache == []


def test_each_app_counts_on_its_own_registry(engine):
    with TestClient(create_app(engine, mode="off"), base_url="http://localhost") as one, \
            TestClient(create_app(engine, mode="off"), base_url="http://localhost") as other:
        one.get("/api/top")
        assert value(scrape(one), "technic_screen_seconds_count", endpoint="top") == 1.0
        assert value(scrape(other), "technic_screen_seconds_count", endpoint="top") == 0.0


def test_beyond_loopback_a_request_without_the_token_is_refused_and_one_with_it_served(engine):
    app = create_app(engine, mode="off", host="0.0.0.0", access=ServeAccess(token=TOKEN))
    said = app.state.access_line  # what `technic serve` prints on its "Serving ..." line
    assert "beyond loopback" in said and "/healthz" in said and TOKEN not in said
    with TestClient(app, base_url="http://localhost") as client:
        refused = client.get("/api/top")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in refused.text
        for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN):
            assert client.get("/api/top", headers={"Authorization": wrong}).status_code == 401, wrong
        assert client.get("/metrics").status_code == 401
        served = client.get("/api/top", headers={"Authorization": f"Bearer {TOKEN}"})
        assert served.status_code == 200 and served.json()["rows"]
        assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.get("/healthz").status_code == 200  # a probe needs no token

        # a browser: sent to the login page, logs in, then the cookie serves it
        page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == "/login?next=/"
        assert client.get("/login?next=/").status_code == 200
        bad = client.post("/login", data={"token": "guess", "next": "/"}, follow_redirects=False)
        assert bad.status_code == 401 and COOKIE not in client.cookies
        good = client.post("/login", data={"token": TOKEN, "next": "/api/top"}, follow_redirects=False)
        assert good.status_code == 303 and good.headers["location"] == "/api/top"
        cookie = client.cookies[COOKIE]
        assert cookie and TOKEN not in cookie and "httponly" in good.headers["set-cookie"].lower()
        assert client.get("/api/top").status_code == 200  # the cookie, no header
        away = client.post("/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False)
        assert away.headers["location"] == "/"  # never sent elsewhere
        client.cookies.clear()
        assert client.get("/api/top", headers={"Cookie": f"{COOKIE}={'0' * len(cookie)}"}).status_code == 401
        assert client.get("/api/top", headers={"Cookie": f"{COOKIE}={cookie}"}).status_code == 200


def test_on_loopback_no_token_is_asked(engine):
    app = create_app(engine, mode="off", host="127.0.0.1", access=ServeAccess(token=TOKEN))
    assert "no token asked" in app.state.access_line
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/api/top").status_code == 200 and client.get("/metrics").status_code == 200


def test_without_a_configured_token_a_run_token_is_made_and_told(engine):
    app = create_app(engine, mode="off", host="0.0.0.0", access=ServeAccess())
    said = app.state.access_line
    assert "TECHNIC_SERVE_TOKEN is not set" in said and "\n" not in said
    token = said.split("this run's token is ")[1].split()[0]
    assert len(token) >= 24
    with TestClient(app, base_url="http://localhost") as client:
        assert client.get("/api/top").status_code == 401
        assert client.get("/api/top", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    other = create_app(engine, mode="off", host="0.0.0.0", access=ServeAccess())
    assert token not in other.state.access_line  # each run its own


def test_technic_watch_sends_the_token_it_is_given(engine, monkeypatch):
    import io

    from technic_assets.live.watch import watch
    from technic_assets_tests.live_server import running

    app = create_app(engine, mode="off", host="0.0.0.0", access=ServeAccess(token=TOKEN))
    with running(app) as url:
        monkeypatch.delenv("TECHNIC_SERVE_TOKEN", raising=False)
        with pytest.raises(SystemExit, match="Unauthorized"):
            watch(url, params={"n": 3}, out=io.StringIO(), max_events=1, clear=False)
        monkeypatch.setenv("TECHNIC_SERVE_TOKEN", TOKEN)
        out = io.StringIO()
        assert watch(url, params={"n": 3}, out=out, max_events=1, clear=False) == 0
    assert "version 1" in out.getvalue()


def test_cors_is_off_unless_origins_are_configured(engine):
    origin = "https://dash.example.org"
    with TestClient(create_app(engine, mode="off"), base_url="http://localhost") as client:
        answer = client.get("/api/top", headers={"Origin": origin})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
    access = ServeAccess(token=TOKEN, cors_origins=(origin,))
    with TestClient(create_app(engine, mode="off", host="0.0.0.0", access=access), base_url="http://localhost") as client:
        preflight = client.options("/api/top", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                        "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        read = client.get("/api/top", headers={"Origin": origin, "Authorization": f"Bearer {TOKEN}"})
        assert read.status_code == 200 and read.headers["access-control-allow-origin"] == origin
        other = client.get("/api/top", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"})
        assert "access-control-allow-origin" not in other.headers


def test_access_settings_are_checked_without_showing_the_token():
    assert ServeAccess.read({"TECHNIC_SERVE_TOKEN": TOKEN}).token == TOKEN
    assert TOKEN not in repr(ServeAccess.read({"TECHNIC_SERVE_TOKEN": TOKEN}))
    with pytest.raises(ValueError, match="TECHNIC_SERVE_TOKEN") as short:
        ServeAccess.read({"TECHNIC_SERVE_TOKEN": "abc123"})
    assert "abc123" not in str(short.value)
    assert ServeAccess.read({"TECHNIC_SERVE_CORS_ORIGINS": "https://a.example, http://b.example:8080/"}).cors_origins \
        == ("https://a.example", "http://b.example:8080")
    for bad in ("a.example", "ftp://a.example", "https://a.example/page"):
        with pytest.raises(ValueError, match="TECHNIC_SERVE_CORS_ORIGINS"):
            ServeAccess.read({"TECHNIC_SERVE_CORS_ORIGINS": bad})


def test_technic_serve_beyond_loopback_says_so_on_its_serving_line_and_asks_the_token(warm_store, monkeypatch):
    """The process: `--host 0.0.0.0` without TECHNIC_SERVE_TOKEN prints a run token once, on the line a
    script waits for; a request without it is refused, one with it served."""
    import signal
    import subprocess
    import sys

    import httpx

    from technic_assets_tests.live_server import free_port

    monkeypatch.delenv("TECHNIC_SERVE_TOKEN", raising=False)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "technic_assets.cli", "serve", "--host", "0.0.0.0", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        assert first.startswith("Serving") and "beyond loopback (0.0.0.0)" in first, first
        token = first.split("this run's token is ")[1].split()[0]
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz", timeout=30).status_code == 200
        assert httpx.get(f"{base}/api/top", timeout=30).status_code == 401
        assert httpx.get(f"{base}/api/top", headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert token not in proc.stderr.read()  # said once
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def test_technic_serve_refuses_a_bad_token_setting_in_one_line_without_showing_it(warm_store):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "technic_assets.cli", "serve", "--host", "0.0.0.0", "--port", "8000"],
                            capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "TECHNIC_SERVE_TOKEN": "tooshort123"})
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, (result.returncode, lines)
    assert "TECHNIC_SERVE_TOKEN" in lines[0] and "tooshort123" not in lines[0]
