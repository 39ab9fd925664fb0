"""`technic scan` and `technic top`, as a person runs them, on the default built-in market."""

import pytest

from technic_assets.cli import main

DAY = "2025-06-02"


def test_scan_prints_the_top_n_and_top_reads_it_back(store_path, capsys):
    assert main(["scan", "--date", DAY, "--top", "5", "--style", "swing"]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0] == f"Technic top 5 for {DAY}"
    assert lines[1].split()[:3] == ["rank", "symbol", "sector"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3", "4", "5"]
    assert "done  ranked_top_n" in err  # progress lines while it works
    assert main(["top", "--date", DAY]) == 0
    again, _ = capsys.readouterr()
    assert again.strip() == out.strip()


def test_scan_refuses_bad_settings_before_running(store_path):
    with pytest.raises(SystemExit, match="top_n=0"):
        main(["scan", "--date", DAY, "--top", "0"])
    with pytest.raises(SystemExit, match="Crypto"):
        main(["scan", "--date", DAY, "--sector", "Crypto"])
    assert not store_path.exists()


def test_an_unknown_market_is_named(store_path, monkeypatch):
    monkeypatch.setenv("TECHNIC_MARKET", "nasdaq-ftp")
    with pytest.raises(SystemExit, match="nasdaq-ftp"):
        main(["scan", "--date", DAY, "--quiet"])


def test_top_without_a_store_says_what_to_do(store_path):
    with pytest.raises(SystemExit, match="run `technic scan` first"):
        main(["top"])
