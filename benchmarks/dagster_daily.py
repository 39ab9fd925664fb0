"""The daily partition through `dagster asset materialize`, against a bare chain of 8 trivial assets.

Both run the same way, in the same benchmark: the Dagster CLI in a fresh process, a persistent
DAGSTER_HOME, for each executor setting. Technic runs on a warm store (the history is already there, as
on any evening after the first). Target (issue 2): at most 1.25x the bare chain with the default executor.

    python -m benchmarks.dagster_daily [--repeat 3] [--day 2025-11-20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXECUTORS = {
    "each one's default executor (technic: forkserver + preload; bare chain: Dagster's spawn)": None,
    "multiprocess, spawn": "spawn",
    "multiprocess, forkserver + preload": "forkserver",
}


def run_config(executor: str | None, module: str) -> list[str]:
    """The same executor setting in each project's config shape (technic's executor takes a start method)."""
    if executor is None:
        return []
    if module == "technic_assets":
        config = {"execution": {"config": {"start_method": executor}}}
    elif executor == "spawn":
        config = {"execution": {"config": {"multiprocess": {"start_method": {"spawn": {}}}}}}
    else:
        config = {"execution": {"config": {"multiprocess": {
            "start_method": {"forkserver": {"preload_modules": [module]}}}}}}
    return ["--config-json", json.dumps(config)]


def materialize(module: str, day: str, executor: str | None, env: dict, flag: str = "--partition") -> float:
    """Seconds `dagster asset materialize` takes for the whole graph of `module` (`flag` may be
    --partition-range, with `day` then A...B)."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    cmd = [dagster, "asset", "materialize", "-m", module, "--select", "*", flag, day,
           *run_config(executor, module)]
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return elapsed


def fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs):6.2f} s (min {min(xs):.2f}, max {max(xs):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--day", default="2025-11-20")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TECHNIC_DUCKDB_PATH": f"{tmp}/store.duckdb", "DAGSTER_HOME": f"{tmp}/home"}
        os.makedirs(env["DAGSTER_HOME"])
        cold = materialize("technic_assets", args.day, None, env)
        print(f"cold (empty store, default executor): {cold:.2f} s", flush=True)
        for label, executor in EXECUTORS.items():
            ours, bare = [], []
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                ours.append(materialize("technic_assets", args.day, executor, env))
                bare.append(materialize("benchmarks.bare_chain", args.day, executor, env))
            ratio = statistics.median(ours) / statistics.median(bare)
            print(f"{label}\n  technic (13 assets, warm store) {fmt(ours)}\n"
                  f"  bare chain (8 trivial assets)   {fmt(bare)}\n  ratio {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
