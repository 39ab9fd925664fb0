"""`technic scan` and `technic top`, as a person runs them, on a copy of the warm test store."""

import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from technic_assets.cli import main
from technic_assets.cli.run import AHEAD, FOUNDATION, SETTINGS_FREE
from technic_assets_tests.snapshots import query

DAY = "2025-06-02"
SIMULATED = " -- SIMULATED DATA (the built-in market, not real prices)"  # every title of the built-in market
DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_scan_prints_the_top_n_and_top_reads_it_back(warm_store, capsys):
    assert main(["scan", "--date", DAY, "--top", "5", "--style", "swing"]) == 0
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines[0] == f"Technic top 5 for {DAY}, screen adhoc{SIMULATED}"  # one-off settings: a screen of their own
    assert lines[1].split()[:4] == ["rank", "symbol", "name", "sector"]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2", "3", "4", "5"]
    assert "done  ranked_top_n" in err  # progress lines while it works
    assert main(["top", "--date", DAY, "--screen", "adhoc"]) == 0
    again, _ = capsys.readouterr()
    assert again.strip() == out.strip()
    assert main(["top", "--date", DAY]) == 0  # the saved default screen, untouched by the one-off
    default, _ = capsys.readouterr()
    assert default.splitlines()[1] == f"Technic top 25 for {DAY}, screen default{SIMULATED}"


def test_a_warm_scan_redoes_only_what_its_settings_change_and_equals_a_full_run(warm_store, tmp_path, monkeypatch,
                                                                               capsys):
    """Once the day's foundation is stored (universe, bars, indicators, regime), a scan with other
    settings materializes what they change, and the settings-free assets that are legitimately empty
    (alpha_evaluation's partition is, here) again, but not what the evening makes ahead (AHEAD), and
    its top N equals a run that recomputes everything (every asset)."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["scan", "--date", DAY, "--quiet"]) == 0
    assert query(warm_store, "SELECT count(*) n FROM technic.alpha_evaluation WHERE date = ?", [DAY])["n"][0] == 0
    capsys.readouterr()
    other = ["scan", "--date", DAY, "--sector", "Energy", "--sector", "Utilities", "--top", "10"]
    assert main(other) == 0
    _, err = capsys.readouterr()
    for name in (*FOUNDATION, *AHEAD):
        assert f"done  {name}\n" not in err
    assert "done  alpha_evaluation\n" in err  # empty for the day: nothing says it was computed but a recomputation
    assert "done  filtered_universe" in err and "done  ranked_top_n" in err
    warm = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? AND screen = 'adhoc' ORDER BY rank",
                 [DAY])
    assert set(warm["sector"]) <= {"Energy", "Utilities"} and len(warm) == 10
    assert main([*other, "--refresh"]) == 0
    _, err = capsys.readouterr()
    assert all(f"done  {name}" in err for name in (*SETTINGS_FREE, *AHEAD))
    full = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? AND screen = 'adhoc' ORDER BY rank",
                 [DAY])
    pd.testing.assert_frame_equal(warm, full)


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


def test_plan_counts_the_sessions_the_store_lacks(warm_store, tmp_path, monkeypatch, capsys):
    """A local source makes no requests; the plan still says what a fill would store: nothing on the
    warm store for its scanned day, the whole 300-session window on an empty one, with the models off."""
    monkeypatch.setenv("TECHNIC_ALPHA_WEIGHT", "0")
    assert main(["plan", "--date", DAY]) == 0
    assert "no requests (0 sessions of bars to store)" in capsys.readouterr().out
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(tmp_path / "empty.duckdb"))
    assert main(["plan", "--date", DAY]) == 0
    assert "(300 sessions of bars to store)" in capsys.readouterr().out


NEXT = "2025-06-03"

# NYSE's closures of 2024-2026 as the exchange publishes them (2025-01-09: the national day of mourning)
NYSE_HOLIDAYS = ["2024-01-01", "2024-01-15", "2024-02-19", "2024-03-29", "2024-05-27", "2024-06-19", "2024-07-04",
                 "2024-09-02", "2024-11-28", "2024-12-25", "2025-01-01", "2025-01-09", "2025-01-20", "2025-02-17",
                 "2025-04-18", "2025-05-26", "2025-06-19", "2025-07-04", "2025-09-01", "2025-11-27", "2025-12-25",
                 "2026-01-01", "2026-01-19", "2026-02-16", "2026-04-03", "2026-05-25", "2026-06-19", "2026-07-03",
                 "2026-09-07", "2026-11-26", "2026-12-25"]


def test_top_for_other_tools_csv_json_markdown_columns_and_a_file(warm_store, tmp_path, capsys):
    import csv
    import io
    import json

    stored = query(warm_store, "SELECT * FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    assert set(stored["screen"]) == {"default"}
    assert main(["top", "--date", DAY, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["symbol"] for r in rows] == stored["symbol"].tolist()
    assert [r["sector"] for r in rows] == stored["sector"].tolist()  # spaces and all
    assert [r["reasons"] for r in rows] == stored["reasons"].tolist()  # commas and all
    assert {r["source"] for r in rows} == {"simulated"} and {r["date"] for r in rows} == {DAY}
    assert {r["screen"] for r in rows} == {"default"}
    assert main(["top", "--date", DAY, "--format", "json", "--columns", "rank,symbol,merit_score", "--top", "5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["source"] == "simulated" and doc["date"] == DAY and doc["screen"] == "default"
    assert [r["symbol"] for r in doc["rows"]] == stored["symbol"].tolist()[:5]
    assert [r["merit_score"] for r in doc["rows"]] == pytest.approx(stored["merit_score"].tolist()[:5], rel=1e-9)
    assert set(doc["rows"][0]) == {"rank", "symbol", "merit_score"}
    out = tmp_path / "top.md"
    assert main(["top", "--date", DAY, "--format", "markdown", "--output", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == f"## Technic top {len(stored)} for {DAY}, screen default{SIMULATED}"
    assert lines[2].startswith("| rank | symbol |")
    assert len([line for line in lines if line.startswith("| ")]) == len(stored) + 1
    with pytest.raises(SystemExit, match="no column 'nope'"):
        main(["top", "--date", DAY, "--columns", "symbol,nope"])
    with pytest.raises(SystemExit, match="folder .* does not exist"):
        main(["top", "--date", DAY, "--format", "csv", "--output", str(tmp_path / "missing" / "top.csv")])


def test_changes_since_the_previous_session_match_the_two_stored_lists(warm_store, capsys):
    import json

    assert main(["scan", "--date", NEXT, "--quiet"]) == 0
    capsys.readouterr()
    before = query(warm_store, "SELECT symbol, rank FROM technic.ranked_top_n WHERE date = ?", [DAY])
    after = query(warm_store, "SELECT symbol, rank FROM technic.ranked_top_n WHERE date = ?", [NEXT])
    was, now = dict(zip(before["symbol"], before["rank"])), dict(zip(after["symbol"], after["rank"]))
    assert main(["top", "--changes", "--format", "json", "--columns", "symbol,change,rank_move"]) == 0
    rows = {r["symbol"]: r for r in json.loads(capsys.readouterr().out)["rows"]}
    assert set(rows) == set(was) | set(now)
    assert {s for s, r in rows.items() if r["change"] == "entry"} == set(now) - set(was)
    assert {s for s, r in rows.items() if r["change"] == "exit"} == set(was) - set(now)
    for symbol in set(was) & set(now):
        assert rows[symbol]["rank_move"] == was[symbol] - now[symbol]
    assert main(["top", "--changes"]) == 0
    listed = capsys.readouterr().out
    assert f"changes for {NEXT}, screen default, since the previous session" in listed
    # both days stored but NEXT's changes gone (a store from before they were kept): the way out is to
    # scan NEXT again, not the previous session, which is there
    with duckdb.connect(str(warm_store)) as con:
        con.execute("DELETE FROM technic.changes WHERE date = ?", [NEXT])
    with pytest.raises(SystemExit, match=f"the previous session, {DAY}, is stored but {NEXT} was not compared with "
                                         f"it; scan {NEXT} again \\(`technic scan --date {NEXT}`\\)$"):
        main(["top", "--changes"])
    assert main(["scan", "--date", NEXT, "--quiet"]) == 0 and main(["top", "--changes"]) == 0
    assert capsys.readouterr().out.endswith(listed)


def test_the_one_off_screens_missing_changes_say_to_scan_with_its_flags(warm_store, capsys):
    """The one-off screen's previous day is filled by a one-off scan with the same flags, not by the
    saved screens' scan: the error says so, and doing it gives the changes."""
    import json

    one_off = ["--top", "5", "--style", "swing"]
    assert main(["scan", "--date", NEXT, *one_off, "--quiet"]) == 0
    with pytest.raises(SystemExit, match=f"the previous session, {DAY}, has no top N of that screen to compare with; "
                                         f"scan it \\(`technic scan --date {DAY}` with the --style, --top and --sector "
                                         "the one-off screen had\\)"):
        main(["top", "--changes", "--date", NEXT, "--screen", "adhoc"])
    assert main(["scan", "--date", DAY, *one_off, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["top", "--changes", "--date", NEXT, "--screen", "adhoc", "--format", "json"]) == 0
    listed = {r["symbol"] for r in json.loads(capsys.readouterr().out)["rows"]}
    both = query(warm_store, "SELECT symbol FROM technic.ranked_top_n WHERE screen = 'adhoc' AND date IN (?, ?)",
                 [DAY, NEXT])
    assert listed == set(both["symbol"])  # every name of either day's one-off top 5


def test_the_first_scannable_days_changes_say_there_is_nothing_before_it(warm_store, monkeypatch):
    """With partitions starting 300 sessions before DAY, DAY is the first day that can be scanned: its
    previous session cannot be, so the error says there is nothing to compare with, not what to scan."""
    import numpy as np

    start = str(np.busday_offset(DAY, -299, holidays=NYSE_HOLIDAYS))  # DAY the 300th session from it
    monkeypatch.setenv("TECHNIC_START_DATE", start)
    with pytest.raises(SystemExit) as err:
        main(["top", "--changes", "--date", DAY])
    assert str(err.value).endswith(f": {DAY} is the first day that can be scanned from TECHNIC_START_DATE ({start}), "
                                   "so there is no earlier top N to compare it with")


def test_export_writes_a_tables_rows_between_two_dates(warm_store, tmp_path, capsys):
    out = tmp_path / "merit.parquet"
    assert main(["export", "merit", "--from", "2025-05-01", "--to", DAY, "--output", str(out)]) == 0
    want = query(warm_store, "SELECT * FROM technic.merit WHERE date BETWEEN ? AND ? ORDER BY date, symbol",
                 ["2025-05-01", DAY])
    got = pd.read_parquet(out).sort_values(["date", "symbol"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    csv_out = tmp_path / "bars.csv"
    assert main(["export", "price_bars", "--from", DAY, "--to", DAY, "--format", "csv", "--output", str(csv_out)]) == 0
    assert len(pd.read_csv(csv_out)) == query(warm_store, "SELECT count(*) n FROM technic.price_bars WHERE date = ?",
                                              [DAY])["n"][0]
    with pytest.raises(SystemExit, match="no table 'prices'; the tables are"):
        main(["export", "prices", "--from", DAY, "--to", DAY])
    with pytest.raises(SystemExit, match="after --to"):
        main(["export", "merit", "--from", DAY, "--to", "2025-05-01"])


WEDNESDAY = pd.Timestamp("2025-06-04 12:00", tz="America/New_York")  # the session of 06-04 is still open


@pytest.mark.parametrize("argv, message", [
    (["scan", "--date", "2025-06-04"], "scan date 2025-06-04 has not closed yet"),
    (["scan", "--date", "2025-07-01"], "scan date 2025-07-01 has not closed yet"),
    (["plan", "--date", "2025-06-10"], "scan date 2025-06-10 has not closed yet"),
    (["scan", "--date", "2024-06-03"], "scan date 2024-06-03 needs 300 sessions of history"),
    (["backfill", "--from", "2025-06-02", "--to", "2025-06-20"], "--to 2025-06-20 has not closed yet"),
    (["backfill", "--from", "2024-12-01", "--to", "2025-06-02"], "--from 2024-12-01 needs 300 sessions"),
    # past the exchange calendar's years, or before them: the same line, not the calendar's own bounds
    (["scan", "--date", "2031-06-02"], "scan date 2031-06-02 has not closed yet"),
    (["plan", "--date", "2009-06-01"], "scan date 2009-06-01 needs 300 sessions of history"),
])
def test_a_day_outside_the_scannable_range_is_one_line_naming_it_and_the_range(store_path, tmp_path, monkeypatch,
                                                                               argv, message):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    with pytest.raises(SystemExit) as err:
        main(argv, now=WEDNESDAY)
    text = str(err.value)
    assert text.startswith(f"error: {message}") and "\n" not in text
    assert text.endswith("days that can be scanned: 2025-03-13 .. 2025-06-03")  # by the exchange's calendar
    assert not store_path.exists() and not (tmp_path / "storage").exists()  # nothing run, nothing submitted


def test_a_start_date_that_leaves_no_day_to_scan_is_one_line(store_path, tmp_path, monkeypatch):
    """Partitions from 2025-01-02 have their first 300-session window in 2026, after the clock's latest
    closed session: one line saying so, not a range that ends before it starts; nothing run or submitted."""
    import numpy as np

    first = str(np.busday_offset("2025-01-02", 299, holidays=NYSE_HOLIDAYS))  # the 300th session, 2025-01-02 the 1st
    monkeypatch.setenv("TECHNIC_START_DATE", "2025-01-02")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    for argv in (["scan"], ["plan", "--date", DAY], ["backfill", "--from", DAY, "--to", NEXT]):
        with pytest.raises(SystemExit) as err:
            main(argv, now=WEDNESDAY)
        assert str(err.value) == ("error: TECHNIC_START_DATE=2025-01-02 leaves no day to scan yet: partitions start on "
                                  f"2025-01-02 and the first day with 300 sessions of history is {first}, after the "
                                  "latest closed session (2025-06-03)")
    assert not store_path.exists() and not (tmp_path / "storage").exists()


@pytest.mark.parametrize("env, argv, message", [
    ({"TECHNIC_START_DATE": "1990-01-01"}, ["scan"], "TECHNIC_START_DATE='1990-01-01' is outside the NYSE calendar"),
    ({"TECHNIC_START_DATE": "soon"}, ["plan"], "TECHNIC_START_DATE='soon' is not a date"),
    ({"TECHNIC_LIVE": "polygon", "POLYGON_API_KEY": "", "MASSIVE_API_KEY": ""}, ["serve"],
     "TECHNIC_LIVE=polygon needs an API key: set POLYGON_API_KEY"),
])
def test_a_bad_setting_is_one_line_not_a_traceback(warm_store, monkeypatch, env, argv, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match=f"^error: {message}"):
        main(argv, now=WEDNESDAY)


def test_changes_say_how_to_get_them_and_follow_top(warm_store, capfd):
    """06-04's previous session, 06-03, is not scanned: the error names it and what to run; run that and
    06-04's changes are there, whatever the order; --top N keeps the first N ranks and those that left
    them. A quiet scan prints the table and nothing else."""
    import json

    assert main(["scan", "--date", "2025-06-04", "--quiet"]) == 0
    out, err = capfd.readouterr()
    assert err == "" and out.lstrip().startswith("Technic top 25 for 2025-06-04")
    with pytest.raises(SystemExit, match="the previous session, 2025-06-03, has no top N .*`technic scan --date 2025-06-03`"):
        main(["top", "--changes", "--date", "2025-06-04"])
    assert main(["scan", "--date", "2025-06-03", "--quiet"]) == 0
    capfd.readouterr()
    ranks = query(warm_store, "SELECT date, symbol, rank FROM technic.ranked_top_n WHERE date IN (?, ?)",
                  ["2025-06-03", "2025-06-04"])
    was = set(ranks[(ranks["date"] == "2025-06-03") & (ranks["rank"] <= 5)]["symbol"])
    now = set(ranks[(ranks["date"] == "2025-06-04") & (ranks["rank"] <= 5)]["symbol"])
    assert main(["top", "--changes", "--date", "2025-06-04", "--top", "5", "--format", "json"]) == 0
    rows = json.loads(capfd.readouterr().out)["rows"]
    assert {r["symbol"] for r in rows} == was | now
    with pytest.raises(SystemExit, match="^error: --top 0: want at least 1 rank$"):
        main(["top", "--top", "0"])


def test_written_files_follow_the_umask_and_their_extension(warm_store, tmp_path):
    """As `> file` would: a new file 0666 less the umask (not mkstemp's 0600), an existing one keeps its
    mode; `--output top.csv` writes CSV and `merit.csv` from export CSV, without --format."""
    import csv
    import os
    import stat

    old = os.umask(0o022)
    try:
        new = tmp_path / "top.csv"
        assert main(["top", "--date", DAY, "--output", str(new)]) == 0
        assert stat.S_IMODE(new.stat().st_mode) == 0o644
        assert next(csv.reader(new.open()))[:2] == ["rank", "symbol"]
        shared = tmp_path / "top.json"
        shared.write_text("")
        shared.chmod(0o664)
        assert main(["top", "--date", DAY, "--output", str(shared)]) == 0
        assert stat.S_IMODE(shared.stat().st_mode) == 0o664 and shared.read_text().startswith("{")
        exported = tmp_path / "merit.csv"
        assert main(["export", "merit", "--from", DAY, "--to", DAY, "--output", str(exported)]) == 0
        assert stat.S_IMODE(exported.stat().st_mode) == 0o644
        assert next(csv.reader(exported.open()))[:2] == ["date", "screen"]
    finally:
        os.umask(old)


def test_an_output_named_for_another_format_or_that_is_no_file_is_one_line(warm_store, tmp_path):
    """`merit.json` from export (Parquet or CSV) and `top.parquet` from top would hold another format
    than their names say, a folder or a path under a file is no file to write: one line each, nothing
    written. A --format given keeps its say over the name."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes").write_text("kept")
    refused = {
        ("export", "merit", "--from", DAY, "--to", DAY, "--output", str(out / "merit.json")):
            f"--output {out}/merit.json: a .json name says json, but this command writes parquet, csv; name the "
            "file .parquet, .csv, or give --format",
        ("top", "--date", DAY, "--output", str(out / "top.parquet")):
            f"--output {out}/top.parquet: a .parquet name says parquet, but this command writes table, csv, json, "
            "markdown; name the file .txt, .csv, .json, .md, .markdown, or give --format",
        ("top", "--date", DAY, "--output", str(out)): f"--output {out} is a folder; give the path of a file",
        ("export", "merit", "--from", DAY, "--to", DAY, "--output", str(out / "notes" / "merit.csv")):
            f"--output {out}/notes/merit.csv: {out}/notes is not a folder",
    }
    for argv, message in refused.items():
        with pytest.raises(SystemExit) as err:
            main(list(argv))
        assert str(err.value) == f"error: {message}"
    assert sorted(p.name for p in out.iterdir()) == ["notes"] and (out / "notes").read_text() == "kept"
    assert main(["export", "merit", "--from", DAY, "--to", DAY, "--format", "csv", "--output", str(out / "m.json")]) == 0
    assert len(pd.read_csv(out / "m.json")) == query(warm_store, "SELECT count(*) n FROM technic.merit WHERE date = ?",
                                                     [DAY])["n"][0]


def test_an_output_through_a_link_or_with_an_impossible_name_keeps_the_link_or_is_one_line(warm_store, tmp_path):
    """A symbolic link is written through (its target replaced, keeping its mode 0640; the link stays a link,
    where the rename used to put a plain 0644 file in its place); a name longer than the system allows, or
    a loop of links, is one line naming it (they were tracebacks), and nothing is written."""
    import os
    import stat

    target = tmp_path / "shared" / "top.md"
    target.parent.mkdir()
    target.write_text("yesterday's\n")
    target.chmod(0o640)
    link = tmp_path / "top.md"
    link.symlink_to(target)
    old = os.umask(0o022)
    try:
        assert main(["top", "--date", DAY, "--output", str(link)]) == 0
    finally:
        os.umask(old)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640 and target.read_text().startswith("## Technic top")
    long_name = tmp_path / ("a" * (os.pathconf(tmp_path, "PC_NAME_MAX") + 1))
    (tmp_path / "loop1").symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(tmp_path / "loop1")
    refused = {
        ("top", "--date", DAY, "--output", str(long_name)): f"--output {long_name}: cannot be written (File name too long)",
        ("top", "--date", DAY, "--output", str(tmp_path / "loop1")):
            f"--output {tmp_path / 'loop1'}: cannot be written (a loop of symbolic links)",
        ("export", "merit", "--from", DAY, "--to", DAY, "--format", "csv", "--output", str(long_name)):
            f"--output {long_name}: cannot be written (File name too long)",
    }
    for argv, message in refused.items():
        with pytest.raises(SystemExit) as err:
            main(list(argv))
        assert str(err.value) == f"error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_a_write_that_fails_midway_is_one_error_and_leaves_nothing(tmp_path, monkeypatch):
    """A disk that fills up as the file is renamed into place: a ValueError naming the file (the CLI's
    one line), the file as it was, and no temporary left beside it."""
    import errno
    import os

    from technic_assets.output import write_text

    target = tmp_path / "top.csv"
    target.write_text("yesterday's\n")

    def full(*_):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(ValueError, match=f"^--output {target}: cannot be written \\(No space left on device\\)$"):
        write_text("rank,symbol\n", str(target))
    assert [p.name for p in tmp_path.iterdir()] == ["top.csv"] and target.read_text() == "yesterday's\n"


def test_the_alpha_forecasts_are_labelled_z_scores_never_percent(warm_store, capsys):
    """The models learn the day's excess return over its cross-sectional deviation (alpha_model's
    training_target): a forecast of 0.2207 is +0.22 deviations, not "+22.07%"."""
    import json

    stored = query(warm_store, "SELECT symbol, alpha_5d FROM technic.ranked_top_n WHERE date = ? ORDER BY rank", [DAY])
    assert stored["alpha_5d"].notna().all()
    assert main(["top", "--date", DAY]) == 0
    table = capsys.readouterr().out
    assert "alpha_5d_z" in table and "%" not in table
    assert f"{stored['alpha_5d'].iloc[0]:+.2f}" in table.splitlines()[4]
    assert main(["top", "--date", DAY, "--format", "markdown", "--columns", "symbol,alpha_5d,alpha_10d"]) == 0
    markdown = capsys.readouterr().out
    assert "| symbol | alpha_5d_z | alpha_10d_z |" in markdown and "%" not in markdown
    assert main(["top", "--date", DAY, "--format", "json", "--columns", "symbol,alpha_5d"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["units"]["alpha_5d_z"].startswith("z-score") and set(doc["rows"][0]) == {"symbol", "alpha_5d_z"}
    assert doc["rows"][0]["alpha_5d_z"] == pytest.approx(stored["alpha_5d"].iloc[0], rel=1e-9)


def test_the_store_not_the_run_records_says_what_is_stored_and_from_where(warm_store, tmp_path, monkeypatch, capsys):
    """The instance remembers runs on a store since deleted, or on another store: a scan that trusted it
    skipped the day's foundation and failed (`schema technic does not exist`). And a day's source is the
    one its rows were read from, whatever the settings say now; one store never mixes two sources."""
    import csv
    import io

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    assert main(["scan", "--date", DAY, "--quiet", "--top", "5"]) == 0  # recorded by the instance
    other = tmp_path / "other.duckdb"
    monkeypatch.setenv("TECHNIC_DUCKDB_PATH", str(other))
    assert main(["scan", "--date", DAY, "--quiet", "--top", "5"]) == 0  # a new store: the whole graph
    assert query(other, "SELECT count(*) n FROM technic.ranked_top_n WHERE date = ?", [DAY])["n"][0] == 5
    capsys.readouterr()
    # the file source named now does not relabel the simulated day
    data = tmp_path / "bars.csv"
    pd.DataFrame({"symbol": ["AAA"], "date": [DAY], "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0,
                  "volume": 100}).to_csv(data, index=False)
    monkeypatch.setenv("TECHNIC_MARKET", f"parquet:{data}")
    assert main(["top", "--date", DAY, "--format", "csv"]) == 0
    assert {r["source"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))} == {"simulated"}
    # and scanning the file into this store is refused before anything is written
    before = query(other, "SELECT count(*) n FROM technic.universe", [])["n"][0]
    with pytest.raises(SystemExit, match=f"the store {other} holds days read from simulated, and this scan reads "
                                         "file bars.csv: keep each source in a store of its own"):
        main(["scan", "--date", "2025-06-03", "--quiet"])
    assert query(other, "SELECT count(*) n FROM technic.universe", [])["n"][0] == before
