"""A year of history in one run: 252 trading days of the whole graph through `dagster asset
materialize --partition-range`, against the bare 8-asset chain run the same way over the same dates.

Technic runs on the 6,000-symbol built-in market with TECHNIC_START_DATE=2023-01-03 (so that the
first of the 252 days has its 300-session window): first from an empty store (every bar fetched, a
model trained for each month), then again on the warm store (bars and models reused, everything else
recomputed). The bare chain runs --repeat times. Target (issue 5): 120 s.

    python -m benchmarks.backfill [--start 2024-11-20] [--end 2025-11-20] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile

from benchmarks.dagster_daily import materialize as run_cli


def materialize(module: str, span: str, env: dict) -> float:
    return run_cli(module, span, None, env, flag="--partition-range")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", default="2024-11-20")
    parser.add_argument("--end", default="2025-11-20")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("TECHNIC_START_DATE", "2023-01-03")
    from technic_assets.core.calendar import sessions

    days = len(sessions(args.start, args.end))
    span = f"{args.start}...{args.end}"
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TECHNIC_DUCKDB_PATH": f"{tmp}/store.duckdb", "DAGSTER_HOME": f"{tmp}/home"}
        os.makedirs(env["DAGSTER_HOME"])
        cold = materialize("technic_assets", span, env)
        print(f"technic, {days} trading days {span}, empty store: {cold:.1f} s", flush=True)
        warm, bare = [], []
        for _ in range(args.repeat):  # interleaved, so drift hits both alike
            warm.append(materialize("technic_assets", span, env))
            bare.append(materialize("benchmarks.bare_chain", span, env))
        print(f"technic, warm store: median {statistics.median(warm):.1f} s ({', '.join(f'{x:.1f}' for x in warm)})")
        print(f"bare chain, same range: median {statistics.median(bare):.1f} s ({', '.join(f'{x:.1f}' for x in bare)})")
        print(f"ratio cold/bare {cold / statistics.median(bare):.1f}, warm/bare "
              f"{statistics.median(warm) / statistics.median(bare):.1f}; target 120 s")


if __name__ == "__main__":
    main()
