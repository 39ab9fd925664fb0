"""The README's main command, `technic scan` (what `./dev scan` runs), timed as a person sees it.

Cold: an empty store and a new persistent Dagster instance (the deploy/dagster.yaml SQLite one, as under
./dev), so the run simulates the market, fills the history window and the alpha models' training
history, trains the month's models and scans the day. Warm: the same command again on that store, and
the same day with other settings (another sector focus), each in a fresh process. Targets (issue 11):
cold 30 s or less, warm 5 s or less, on the 6,000-stock built-in market.

    python -m benchmarks.main_command [--repeat 3] [--day 2025-11-20] [--stocks 6000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scan(env: dict, day: str, *extra: str) -> float:
    technic = str(Path(sys.executable).with_name("technic"))
    start = time.perf_counter()
    done = subprocess.run([technic, "scan", "--date", day, "--quiet", *extra], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"technic scan failed: {done.stderr[-2000:]}")
    return seconds


def summary(name: str, values: list[float], target: float) -> str:
    return (f"{name}: median {statistics.median(values):.1f} s (min {min(values):.1f}, max {max(values):.1f}, "
            f"{len(values)} runs), target {target:.0f} s: {'met' if statistics.median(values) <= target else 'not met'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--day", default="2025-11-20")
    parser.add_argument("--stocks", type=int, default=6000)
    args = parser.parse_args()
    cold, warm, other = [], [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "dagster_home"
            home.mkdir()
            shutil.copy(ROOT / "deploy" / "dagster.yaml", home / "dagster.yaml")
            env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNIC_")}
            env.update(DAGSTER_HOME=str(home), TECHNIC_DUCKDB_PATH=str(Path(tmp) / "store.duckdb"),
                       TECHNIC_SYNTHETIC_STOCKS=str(args.stocks))
            cold.append(scan(env, args.day))
            warm.append(scan(env, args.day))
            other.append(scan(env, args.day, "--sector", "Energy", "--style", "swing"))
    print(f"technic scan --date {args.day}, {args.stocks} stocks, {os.cpu_count()} cores, wall time of the process:")
    print(summary("cold (empty store, new instance)", cold, 30))
    print(summary("warm (the same command again)", warm, 5))
    print(summary("warm, other settings (--sector Energy --style swing)", other, 5))


if __name__ == "__main__":
    main()
