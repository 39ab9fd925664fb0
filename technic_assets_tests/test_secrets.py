"""The API key never leaves the Authorization header: a Polygon-backed `technic scan` with a persistent
Dagster instance and Redis as L3, then every byte it left behind is searched for the key: its output,
every file of the instance (run and event storage, compute logs), the store, and every Redis key and
value. A run with a refused key is searched the same way."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from technic_assets.market.synthetic import SyntheticMarket
from technic_assets_tests.conftest import fresh_redis
from technic_assets_tests.fake_polygon import serving

ROOT = Path(__file__).resolve().parents[1]
KEY = "pk-live-9Qz7XwV3mT2s"
WRONG = "pk-wrong-4Hd8LrP1cB6n"
DAY = "2025-06-02"
REDIS_URL = "redis://127.0.0.1:6379/14"


@pytest.fixture(scope="module")
def fake():
    with serving(SyntheticMarket(seed=4, n_stocks=100), KEY, DAY) as server:
        yield server


@pytest.fixture
def cache():
    r = fresh_redis(REDIS_URL)
    yield r
    r.flushdb()


def scan(tmp: Path, fake, key: str):
    home = tmp / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "TECHNIC_DUCKDB_PATH": str(tmp / "store.duckdb"),
           "TECHNIC_MARKET": "polygon", "POLYGON_API_KEY": key, "TECHNIC_POLYGON_BASE_URL": fake.base_url,
           "TECHNIC_REDIS_URL": REDIS_URL, "TECHNIC_HTTP_RETRY_SECONDS": "2",
           "TECHNIC_ALPHA_WEIGHT": "0"}
    return subprocess.run([sys.executable, "-m", "technic_assets.cli", "scan", "--date", DAY, "--top", "5"],
                          env=env, capture_output=True, text=True, timeout=600, cwd=tmp)


def leaks(tmp: Path, run, r: redis.Redis, key: str) -> list[str]:
    secret = key.encode()
    found = [name for name, text in (("stdout", run.stdout), ("stderr", run.stderr)) if key in text]
    files = [p for p in tmp.rglob("*") if p.is_file()]
    assert len(files) > 5  # the instance's storage and the store are there to search
    found += [str(p) for p in files if secret in p.read_bytes()]
    for k in r.scan_iter():
        if secret in k or secret in (r.dump(k) or b""):
            found.append(f"redis {k!r}")
    return found


def test_a_polygon_run_leaves_the_key_nowhere(fake, cache, tmp_path):
    run = scan(tmp_path, fake, KEY)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Technic top 5" in run.stdout
    assert cache.dbsize() > 0  # responses went through Redis, so its contents were searched
    assert leaks(tmp_path, run, cache, KEY) == []


def test_a_refused_key_fails_clearly_and_is_not_repeated(fake, cache, tmp_path):
    run = scan(tmp_path, fake, WRONG)
    assert run.returncode != 0
    assert "API key was refused" in run.stderr
    assert leaks(tmp_path, run, cache, WRONG) == []
