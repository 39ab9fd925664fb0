"""How well the Parquet source tells funds from stocks in a file without a type column (issue 21).

Reads the shared real file (3,756 symbols, 2017-2020, no `type` column) through ParquetMarket, the
path the universe asset takes, and compares each day's `type` with the hand labels in
benchmarks/fund_labels.csv: `fund` (ETFs, ETNs and closed-end funds identified by name), `stock`
(common stocks checked by hand: monthly payers, quiet stocks, stocks that track the market, and the
S&P 500 members of 2018), `other` (trust certificates, preferreds, notes, royalty trusts: neither,
left out of the scores) and `unsure`. Symbols without a label are taken as stocks in the "whole file"
line (nobody checked them; a fund among them is a miss nobody counted).

For each day: precision and recall of "typed ETF" against the labelled funds, for
  old        the hand-kept list that came before (PLAIN_ETFS | LEVERAGED_ETFS)
  lists      the known-fund lists of the day (us_etfs.csv, the hand lists, reused tickers dated)
  bars       the bar rules alone (core.fund_evidence), as of the day
  source     what ParquetMarket.listings gives: a type column would win; here lists or bars
with every false positive and false negative named, and the leveraged/inverse symbols the bars add.

    python -m benchmarks.fund_types [--days 2018-07-02 2019-07-01 2020-11-02] [--data PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from technic_assets.core.fund_evidence import funds_as_of
from technic_assets.market.known_etfs import LEVERAGED_ETFS, PLAIN_ETFS, etfs_on
from technic_assets.market.parquet import ParquetMarket

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "market" / "us_equities_daily_2017_2020.parquet"
LABELS = Path(__file__).with_name("fund_labels.csv")
DAYS = ("2018-07-02", "2019-07-01", "2020-11-02")  # the start, middle and end of the picks measured in issue 21


def score(flagged: set[str], funds: set[str], stocks: set[str]) -> dict:
    tp, fp, fn = flagged & funds, flagged & stocks, funds - flagged
    precision = len(tp) / len(tp | fp) if tp | fp else float("nan")
    recall = len(tp) / len(funds) if funds else float("nan")
    return {"tp": len(tp), "fp": len(fp), "fn": len(fn), "precision": precision, "recall": recall,
            "fp_names": sorted(fp), "fn_names": sorted(fn)}


def line(name: str, s: dict) -> str:
    return (f"  {name:<7} precision {s['precision']:.3f}  recall {s['recall']:.3f}  "
            f"(TP {s['tp']}, FP {s['fp']}, FN {s['fn']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", nargs="+", default=list(DAYS))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--names", type=int, default=400, help="at most this many false names printed per list")
    args = parser.parse_args()
    labels = pd.read_csv(LABELS, keep_default_na=False).set_index("symbol")
    market = ParquetMarket(args.data)
    started = time.perf_counter()
    evidence = market._fund_evidence  # the whole file's first-flag days, as the source caches them
    print(f"bar evidence for the whole file: {time.perf_counter() - started:.1f} s "
          f"({len(evidence)} symbols, {int(evidence.notna().any(axis=1).sum())} ever flagged)")
    print(f"labels: {labels['label'].value_counts().to_dict()}")
    for day in map(pd.Timestamp, args.days):
        listings = market.listings(day).set_index("symbol")
        present = set(listings.index)
        lab = labels[labels.index.isin(present)]
        funds, stocks = set(lab.index[lab["label"] == "fund"]), set(lab.index[lab["label"] == "stock"])
        unlabelled = present - set(lab.index)
        listed, _ = etfs_on(day)
        shown = funds_as_of(evidence, day).reindex(sorted(present))
        rules = {
            "old": present & (PLAIN_ETFS | LEVERAGED_ETFS),
            "lists": present & listed,
            "bars": set(shown.index[shown["fund"].fillna(False).astype(bool)]),
            "source": set(listings.index[listings["type"] == "ETF"]),
        }
        print(f"\n{day:%Y-%m-%d}: {len(present)} symbols listed; labelled {len(funds)} funds, {len(stocks)} stocks, "
              f"{len(unlabelled)} unlabelled")
        for name, flagged in rules.items():
            print(line(name, score(flagged, funds, stocks)))
        whole = score(rules["source"], funds, stocks | unlabelled)
        print(line("whole", whole) + "  <- source, every unlabelled symbol taken as a stock")
        final = score(rules["source"], funds, stocks)
        print(f"  false positives (stocks typed ETF): {' '.join(whole['fp_names'][:args.names]) or '-'}")
        print(f"  false negatives (funds typed stock): {' '.join(final['fn_names'][:args.names]) or '-'}")
        by_kind = lab[lab.index.isin(final["fn_names"])].groupby("kind").size().to_dict()
        print(f"  false negatives by kind: {by_kind}")
        others = lab.index[lab["label"] == "other"]
        print(f"  'other' typed ETF: {sorted(set(others) & rules['source'])}")
        geared = set(listings.index[listings["is_leveraged"]])
        old_geared = present & LEVERAGED_ETFS
        print(f"  leveraged or inverse: {len(geared)} (the old list: {len(old_geared)}); added by the bars: "
              f"{sorted(geared & set(shown.index[shown['leveraged_or_inverse'].fillna(False).astype(bool)]) - etfs_on(day)[1])}")


if __name__ == "__main__":
    main()
