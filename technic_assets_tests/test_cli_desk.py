"""The trader's desk in a terminal: `technic why`, the top N's name and day's move, and every output of
the built-in market saying it is simulated. On a copy of the warm test store (the built-in market)."""

import csv
import io
import json
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from technic_assets.cli import main
from technic_assets_tests.live_server import free_port
from technic_assets_tests.snapshots import query

DAY = "2025-06-02"
PREVIOUS = "2025-05-30"


def test_why_a_ranked_symbol_gives_its_stored_rank_and_scores(warm_store, capsys):
    top = query(warm_store, "SELECT symbol, rank, merit_score, ics_score FROM technic.ranked_top_n "
                            "WHERE date = ? AND coalesce(screen, 'default') = 'default' ORDER BY rank", [DAY])
    third = top.iloc[2]
    assert main(["why", third["symbol"].lower(), "--date", DAY]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{third['symbol']}  ") and f"{DAY}, screen default" in lines[0]
    assert lines[1].startswith(f"rank 3 of ") and lines[1].endswith(f"(in the top {len(top)})")
    assert f"MERIT {third['merit_score']:.1f}   ICS {third['ics_score']:.1f}" in lines[2]


def test_why_a_dropped_symbol_names_the_rule_and_its_number_against_the_bound(warm_store, capsys):
    """A listed stock with a full history whose close on the day is under $5, read from the raw tables:
    the first rule it fails is price_below_min, and the close printed is the stored bar's."""
    cheap = query(warm_store, """
        SELECT u.symbol, b.close FROM technic.universe u
        JOIN technic.price_bars b ON b.symbol = u.symbol AND b.date = u.date
        JOIN technic.indicators i ON i.symbol = u.symbol AND i.date = u.date
        WHERE u.date = ? AND u.type = 'stock' AND u.valid_ticker AND NOT u.is_leveraged
          AND i.n_bars >= 200 AND NOT coalesce(i.split_unverified, false) AND b.close < 5
        ORDER BY u.symbol LIMIT 1""", [DAY])
    assert len(cheap), "the 200-stock market has penny stocks with a full history"
    symbol, close = cheap["symbol"].iloc[0], cheap["close"].iloc[0]
    assert main(["why", symbol, "--date", DAY]) == 0
    out = capsys.readouterr().out
    assert f"not ranked: dropped by price_below_min: close {close:,.4g} < min_price 5" in out


def test_why_refuses_a_symbol_not_listed_and_a_screen_not_stored_in_one_line(warm_store):
    with pytest.raises(SystemExit) as refused:
        main(["why", "NOPE", "--date", DAY])
    assert str(refused.value).startswith(f"error: NOPE is not listed on {DAY}")
    with pytest.raises(SystemExit) as refused:
        main(["why", "SPY", "--date", DAY, "--screen", "energy"])
    assert "energy" in str(refused.value) and "\n" not in str(refused.value)


def test_the_top_table_shows_the_name_and_the_days_move_from_the_stored_bars(warm_store, capsys):
    """Change, volume and relative volume computed here from the raw price_bars (names without a split
    in the 21 sessions), against what `technic top` prints; the title says the data is simulated."""
    assert main(["top", "--date", DAY, "--format", "json", "--columns", "symbol,name,change_pct,volume,rel_volume"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    bars = query(warm_store, "SELECT symbol, date, close, volume, split_ratio FROM technic.price_bars "
                             "WHERE date <= ? AND date >= ? ORDER BY symbol, date", [DAY, "2025-05-01"])
    names = query(warm_store, "SELECT symbol, name FROM technic.universe WHERE date = ?", [DAY]).set_index("symbol")["name"]
    checked = 0
    for symbol, row in rows.items():
        mine = bars[bars["symbol"] == symbol].tail(21)
        if len(mine) < 21 or (mine["split_ratio"] != 1.0).any() or str(mine["date"].iloc[-1])[:10] != DAY:
            continue
        closes, volumes = mine["close"].tolist(), mine["volume"].tolist()
        assert row["name"] == names[symbol]
        assert row["change_pct"] == pytest.approx(100 * (closes[-1] / closes[-2] - 1))
        assert row["volume"] == pytest.approx(volumes[-1])
        assert row["rel_volume"] == pytest.approx(volumes[-1] / (sum(volumes[:-1]) / 20))
        checked += 1
    assert checked >= 10
    assert main(["top", "--date", DAY, "--top", "3"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines[0] == f"Technic top 3 for {DAY}, screen default -- SIMULATED DATA (the built-in market, not real prices)"
    assert lines[1].split()[:8] == ["rank", "symbol", "name", "sector", "close", "change_pct", "volume", "rel_volume"]


def test_every_export_of_the_built_in_market_says_simulated(warm_store, tmp_path, capsys):
    assert main(["top", "--date", DAY, "--format", "csv"]) == 0
    assert {r["source"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))} == {"simulated"}
    assert main(["top", "--date", DAY, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "simulated"
    assert main(["top", "--date", DAY, "--format", "markdown"]) == 0
    assert "SIMULATED DATA" in capsys.readouterr().out.splitlines()[0]
    out = tmp_path / "merit.csv"
    assert main(["export", "merit", "--from", PREVIOUS, "--to", DAY, "--output", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and {r["source"] for r in rows} == {"simulated"}
    parquet = tmp_path / "bars.parquet"
    assert main(["export", "price_bars", "--from", DAY, "--to", DAY, "--output", str(parquet)]) == 0
    assert pq.read_schema(parquet).metadata[b"technic.source"] == b"simulated"


def test_serve_says_how_long_a_replay_takes(warm_store, tmp_path, monkeypatch):
    """TECHNIC_LIVE=replay at the default pace: the day after the warm day (2025-06-03, a full session of
    390 minutes) at 2 a second is 195 s, said in the start-up line."""
    monkeypatch.setenv("TECHNIC_LIVE", "replay")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "technic_assets.cli", "serve", "--port", str(free_port())],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a bound for a stuck process, not a measurement
        while "Serving" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert "replaying 2025-06-03, 390 market minutes at 2 a second: 3 min 15 s" in log.read_text()
