"""The default screen's track record on the shared real data (issue 20), development and test periods.

Protocol (issue 21's, on the same file): signal days 2018-07-02 .. 2019-06-28 are the development
period, 2019-07-01 .. 2020-11-30 the test period. The scanner runs with its DEFAULT settings (the
default screen, the default alpha resource): nothing is tuned, no variant is tried, so the test period
is out of sample for this whole project's choices only in the sense that none were made on it here.

1. The store: the whole graph but `track_record` materialized over 2018-07-02 .. 2020-11-30 as ONE range
   run (`dagster asset materialize -m technic_assets --select <every asset but track_record>
   --partition-range A...B`) with TECHNIC_START_DATE=2017-01-03, the file's first day: the scan's
   300-session window of 2018-07-02 starts on 2017-04-10, and the alpha models learn only from bars from
   TECHNIC_START_DATE on, so the earliest start gives the first months' models the most history they can
   have. Then price_bars alone for 2020-12-01 .. 2020-12-11 (the file's last days): the test period's
   last picks are bought and held after 2020-11-30 and their returns (and the rank IC's 5-day returns)
   need those bars. No scan is stored after 2020-11-30. Skipped when --store already holds the scans of
   every day (the bars of the tail are still added when missing).
   The evening `track_record` asset is left out: in a range run it computed a record for every day of
   the range, each reading every earlier day, which took over 23 minutes without finishing on the CI
   machine (about an hour estimated); it now computes them all in one pass, but the published build
   was made without it and `technic backtest` does not need it. --track-record puts it back.
   Instead, one evening's track_record computation is timed in process (`technic_assets.track.
   stored_record` as of that evening, what the asset computes for a day) on a few days of the store.
2. `technic backtest --screen default --horizon 5 --cost-bps 10 --format json` for each period and for
   the whole span; a compact table of each and the by-year table of the whole span.

    python -m benchmarks.real_record [--store PATH] [--out DIR] [--track-record]

The build's wall time and the run's step times go to DIR/build.json (beside the store by default), the
backtests' JSON to DIR/<period>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "market"
DATA = SHARED / "us_equities_daily_2017_2020.parquet"
SECTORS = SHARED / "sp500_constituents_2018-04-02.csv"
START_DATE = "2017-01-03"
BUILD = ("2018-07-02", "2020-11-30")
TAIL = ("2020-12-01", "2020-12-11")  # bars only: the returns of the last signal days
PERIODS = {"development": ("2018-07-02", "2019-06-28"), "test": ("2019-07-01", "2020-11-30"),
           "whole": ("2018-07-02", "2020-11-30")}
BACKTEST = ["--screen", "default", "--horizon", "5", "--cost-bps", "10", "--format", "json"]
BOOKS = ("top_n", "universe", "benchmark", "momentum_12_1", "random")
MEASURES = [("ann_return", "ann. return (net)", "{:+.1%}"), ("ann_return_gross", "ann. return (gross)", "{:+.1%}"),
            ("volatility", "volatility", "{:.1%}"), ("sharpe", "Sharpe", "{:.2f}"),
            ("excess_vs_universe", "excess vs universe", "{:+.1%}"), ("excess_t_nw", "excess, Newey-West t", "{:.2f}"),
            ("information_ratio", "IR vs universe", "{:.2f}"),
            ("max_drawdown", "max drawdown", "{:.1%}"), ("turnover", "turnover/day", "{:.1%}")]

YEAR_FORMATS = {"days": "{:d}", "sharpe": "{:.2f}", "information_ratio": "{:.2f}", "volatility": "{:.1%}",
                "max_drawdown": "{:.1%}", "hit_rate": "{:.1%}"}


def environment(store: Path, home: Path) -> dict:
    return {**os.environ, "TECHNIC_DUCKDB_PATH": str(store), "TECHNIC_START_DATE": START_DATE,
            "TECHNIC_MARKET": f"parquet:{DATA}", "TECHNIC_SECTOR_MAP": str(SECTORS), "DAGSTER_HOME": str(home)}


def stored_scan_days(store: Path) -> int:
    """Days of the default screen's top N the store holds within BUILD (0 without a store)."""
    if not store.exists():
        return 0
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute("SELECT count(DISTINCT date) FROM technic.ranked_top_n WHERE coalesce(screen, 'default') "
                           "= 'default' AND date BETWEEN ? AND ?", list(BUILD)).fetchone()[0]
    except duckdb.Error:
        return 0
    finally:
        con.close()


def selection(with_track_record: bool) -> str:
    """Every asset of the graph, or all but track_record (the CLI's --select takes a comma list)."""
    if with_track_record:
        return "*"
    from technic_assets.definitions import ASSETS

    keys = [k.to_user_string() for a in ASSETS for k in a.keys]
    return ",".join(k for k in keys if k != "track_record")


def materialize(select: str, span: tuple[str, str], env: dict, log: Path) -> float:
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "asset", "materialize", "-m", "technic_assets", "--select", select,
           "--partition-range", f"{span[0]}...{span[1]}"]
    started = time.perf_counter()
    with open(log, "a") as out:
        done = subprocess.run(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... {span[0]}...{span[1]} failed after {elapsed:.0f} s: see {log}")
    return elapsed


def run_stats(home: Path) -> dict:
    """The steps' times of the instance's runs, and the track_record step's own `seconds`."""
    os.environ["DAGSTER_HOME"] = str(home)
    from dagster import AssetKey, DagsterInstance

    instance = DagsterInstance.get()
    runs = {}
    for run in reversed(instance.get_runs()):
        stats = [s for s in instance.get_run_step_stats(run.run_id) if s.end_time and s.start_time]
        record = instance.get_run_record_by_id(run.run_id)
        start = record.start_time if record else None
        steps = {s.step_key: round(s.end_time - s.start_time, 1) for s in stats}
        graph = [s.end_time for s in stats if s.step_key != "track_record" and s.status and s.status.value == "SUCCESS"]
        runs[run.run_id] = {"status": run.status.value, "tags": {k: v for k, v in run.tags.items() if "partition" in k},
                            "run_seconds": round(record.end_time - start, 1) if record and record.end_time and start else None,
                            "graph_but_track_record_seconds": round(max(graph) - start, 1) if graph and start else None,
                            "steps_s": steps}
    event = instance.get_latest_materialization_event(AssetKey("track_record"))
    seconds = None
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get("seconds")
        seconds = None if value is None else value.value
    return {"runs": runs, "track_record_seconds": seconds}


def build(store: Path, out: Path, with_track_record: bool) -> dict:
    home = out / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = environment(store, home)
    log = out / "build.log"
    print(f"building {store}: the whole graph{'' if with_track_record else ' but track_record'} over "
          f"{BUILD[0]}...{BUILD[1]} in one run (log {log}) ...", flush=True)
    seconds = materialize(selection(with_track_record), BUILD, env, log)
    print(f"  {seconds:.0f} s", flush=True)
    info = {"store": str(store), "span": list(BUILD), "start_date": START_DATE, "track_record": with_track_record,
            "build_seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            **run_stats(home)}
    (out / "build.json").write_text(json.dumps(info, indent=1) + "\n")
    return info


def last_bar(store: Path) -> str:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return str(con.execute("SELECT max(date) FROM technic.price_bars").fetchone()[0])[:10]
    finally:
        con.close()


def add_tail(store: Path, out: Path) -> None:
    """price_bars of TAIL, so that the last signal days' holdings have their returns."""
    if last_bar(store) >= TAIL[1]:
        return
    home = out / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
    seconds = materialize("price_bars", TAIL, environment(store, home), out / "build.log")
    print(f"price_bars of {TAIL[0]}..{TAIL[1]} added (the last holdings' returns): {seconds:.0f} s", flush=True)


def evening_records(store: Path, days=("2018-09-04", "2019-06-28", "2020-11-30")) -> dict[str, tuple[int, float]]:
    """Seconds of one evening's track_record computation (the default screen's record as of that evening,
    what the asset computes for a day), for a few evenings: (days in the record, seconds)."""
    import pandas as pd

    from technic_assets.storage.history import History
    from technic_assets.track import stored_record

    history, out = History(str(store)), {}
    for day in days:
        started = time.perf_counter()
        record = stored_record(history, "default", None, day, horizon=5, cost_bps=10.0, benchmark="SPY",
                               as_of=pd.Timestamp(day))
        out[day] = (int(record.summary["days"]), round(time.perf_counter() - started, 2))
    return out


def backtest(store: Path, span: tuple[str, str]) -> dict:
    technic = str(Path(sys.executable).with_name("technic"))
    env = {**os.environ, "TECHNIC_DUCKDB_PATH": str(store)}
    done = subprocess.run([technic, "backtest", *BACKTEST, "--from", span[0], "--to", span[1]], env=env, cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"technic backtest --from {span[0]} --to {span[1]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def fmt(value, pattern: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else pattern.format(value)


def table(records: dict[str, dict]) -> str:
    """The periods side by side: the signal, then each book's measures."""
    names = list(records)
    rows = [["", *names]]
    first = records[names[0]]
    rows.append(["signal days", *(f"{r['pick_days']['from']}..{r['pick_days']['to']} ({r['pick_days']['count']})"
                                  for r in records.values())])
    rows.append(["evaluated sessions", *(f"{r['from']}..{r['to']} ({r['days']})" for r in records.values())])
    rows.append(["rank IC mean (NW t)", *(f"{fmt(r['rank_ic'].get('mean'), '{:+.4f}')} "
                                          f"({fmt(r['rank_ic'].get('t_nw'), '{:.2f}')})" for r in records.values())])
    rows.append(["top N vs random books", *(f"beats {fmt(r['portfolios']['random'].get('top_n_percentile'), '{:.0%}')}"
                                            f" of {r['portfolios']['random'].get('draws')}" for r in records.values())])
    for book in BOOKS:
        if not all(book in r["portfolios"] for r in records.values()):
            continue
        label = {"benchmark": f"benchmark {first['portfolios']['benchmark'].get('symbol', '')}".strip(),
                 "random": "random (mean)"}.get(book, book)
        rows.append([f"[{label}]", *[""] * len(names)])
        for key, text, pattern in MEASURES:
            rows.append([f"  {text}", *(fmt(r["portfolios"][book].get(key), pattern) for r in records.values())])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in rows)


def years(record: dict) -> str:
    """The by-year table: each book's return, gross and net, vol, Sharpe, excess and drawdown per year."""
    by = record.get("by_year", [])
    if not by:
        return "(no by-year table)"
    keys = [k for k in by[0] if k not in ("year", "portfolio")]
    rows = [["year", "book", *keys]]
    for row in by:
        rows.append([str(row["year"]), row["portfolio"],
                     *(fmt(row.get(k), YEAR_FORMATS.get(k, "{:+.1%}")) for k in keys)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
                     for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="the store to read, built there first unless it holds the scans "
                                                   "(default: a temporary one, removed at the end)")
    parser.add_argument("--out", type=Path, help="where build.json, build.log and the backtests' JSON go "
                                                 "(default: <store>.record/, or the temporary directory)")
    parser.add_argument("--track-record", action="store_true",
                        help="put the track_record asset in the build (every day's record, in one pass)")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA} is missing: the shared data lives in ../shared/data beside the checkout")
    tmp = None if args.store else Path(tempfile.mkdtemp(prefix="real_record_"))
    store = (args.store or tmp / "store.duckdb").expanduser().resolve()
    out = (args.out or (tmp if tmp else store.with_name(store.name + ".record"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        from technic_assets.core.calendar import sessions

        expected = len(sessions(*BUILD))
        held = stored_scan_days(store)
        if held >= expected:
            print(f"{store} holds the default screen's {held} scan days of {BUILD[0]}..{BUILD[1]}: not rebuilt")
            info = json.loads((out / "build.json").read_text()) if (out / "build.json").exists() else {}
            if not info and (out / "dagster_home").exists():
                info = run_stats(out / "dagster_home")
        else:
            if held:
                print(f"{store} holds {held} of {expected} scan days: the range run fills the rest", flush=True)
            info = build(store, out, args.track_record)
        for run_id, run in info.get("runs", {}).items():
            steps = run.get("steps_s", {})
            print(f"run {run_id[:8]} {run['tags']} {run['status']}: {run['run_seconds']} s; the graph but track_record "
                  f"done after {run['graph_but_track_record_seconds']} s; track_record step "
                  f"{steps.get('track_record', 'not run')}" + (" s" if "track_record" in steps else ""))
            print("  steps (s): " + ", ".join(f"{k} {v:g}" for k, v in steps.items()))
        if "build_seconds" in info:
            print(f"build: {info['build_seconds']:.0f} s wall for {expected} sessions, the CLI's start included "
                  f"(TECHNIC_START_DATE {info['start_date']}, track_record {'in' if info['track_record'] else 'left out'}"
                  f"{'; its metadata seconds: %s' % info['track_record_seconds'] if info['track_record'] else ''})")
        add_tail(store, out)
        timed = evening_records(store)
        print("one evening's track_record computation: " + ", ".join(
            f"{day} ({n} days in the record) {sec:.1f} s" for day, (n, sec) in timed.items()), flush=True)
        records = {}
        for name, span in PERIODS.items():
            started = time.perf_counter()
            records[name] = backtest(store, span)
            (out / f"{name}.json").write_text(json.dumps(records[name], indent=1) + "\n")
            print(f"backtest {name} {span[0]}..{span[1]}: {time.perf_counter() - started:.1f} s", flush=True)
        whole = records["whole"]
        print(f"\nScreen {whole['screen']}, bought at the next close, held {whole['horizon']} sessions, "
              f"{whole['cost_bps']:g} bps a side; {whole['returns']}; source {whole['source']}\n")
        print(table(records))
        print(f"\nBy year (whole span; total returns not annualized, excess vs universe annualized):\n{years(whole)}")
        if not tmp:
            print(f"\nJSON in {out}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
