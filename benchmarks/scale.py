"""A universe four times larger: one day of the whole graph through `dagster asset materialize` on the
built-in market at 6,000 and at 24,000 stocks, each on a fresh store (cold: every bar simulated,
fetched and stored, the models trained) and then again on that store (warm: what an evening recomputes).
Memory is the run's process tree (the CLI and every executor process), sampled from /proc every 0.2 s:
the peak of its total RSS and the largest single process. Target (issue 6): time growing no faster than
linearly with the universe.

    python -m benchmarks.scale [--symbols 6000 24000] [--warm 2] [--day 2025-11-20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def tree_rss_mb(root: int) -> tuple[float, float]:
    """(total RSS, largest process RSS) in MB of `root` and all its descendants."""
    parent, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parent[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * PAGE_KB / 1024
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    sizes = [rss.get(p, 0.0) for p in tree]
    return sum(sizes), max(sizes)


def measured_run(env: dict, day: str) -> tuple[float, float, float]:
    """(seconds, peak total MB, peak single-process MB) of one materialization of the whole graph."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "asset", "materialize", "-m", "technic_assets", "--select", "*", "--partition", day]
    peaks = [0.0, 0.0]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample():
        while not done.is_set():
            total, single = tree_rss_mb(proc.pid)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], single)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return elapsed, peaks[0], peaks[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, nargs="+", default=[6000, 24000])
    parser.add_argument("--warm", type=int, default=2)
    parser.add_argument("--day", default="2025-11-20")
    args = parser.parse_args()
    results = {}
    for n in args.symbols:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "TECHNIC_DUCKDB_PATH": f"{tmp}/store.duckdb", "DAGSTER_HOME": f"{tmp}/home",
                   "TECHNIC_SYNTHETIC_STOCKS": str(n)}
            os.makedirs(env["DAGSTER_HOME"])
            cold = measured_run(env, args.day)
            warm = [measured_run(env, args.day) for _ in range(args.warm)]
            store_mb = Path(env["TECHNIC_DUCKDB_PATH"]).stat().st_size / 1e6
        results[n] = (cold, warm)
        w = [x[0] for x in warm]
        print(f"{n:>6} stocks: cold {cold[0]:6.1f} s, peak RSS {cold[1]:,.0f} MB total ({cold[2]:,.0f} MB largest "
              f"process); warm median {statistics.median(w):6.1f} s ({', '.join(f'{x:.1f}' for x in w)}), peak RSS "
              f"{max(x[1] for x in warm):,.0f} MB total ({max(x[2] for x in warm):,.0f} MB largest); store {store_mb:,.0f} MB",
              flush=True)
    if len(results) > 1:
        (n0, (c0, w0)), (n1, (c1, w1)) = list(results.items())[0], list(results.items())[-1]
        scale = n1 / n0
        warm_ratio = statistics.median(x[0] for x in w1) / statistics.median(x[0] for x in w0)
        print(f"{n1 / n0:.0f}x the stocks: cold time x{c1[0] / c0[0]:.2f}, warm time x{warm_ratio:.2f}, "
              f"peak memory x{c1[1] / c0[1]:.2f} (linear would be x{scale:.0f})")


if __name__ == "__main__":
    main()
