"""Write technic_assets/market/us_funds_2020.csv from NASDAQ Trader's symbol directory (issue 21).

The directory (nasdaqtrader.com/dynamic/SymDir/otherlisted.txt and nasdaqlisted.txt, published each
day) names every US-listed security and flags ETFs and ETNs, but not closed-end funds; those are found
by their security names (`known_etfs.fund_by_name`). Kept: every symbol flagged ETF, and every other one
whose name says fund, with test issues dropped. The copies used, as close to the shared file's end
(2020-12-11) as stored public repositories hold them:
  otherlisted.txt   "File Creation Time: 1130202011:02", GoogleBot4/WSBScraper @ 9ba83c01
  nasdaqlisted.txt  "File Creation Time: 0201202121:33", FontenotZach/Reddit_Stock_Scraper @ 4ad46e44
Columns written: symbol, name, kind (etf: flagged ETF by the directory; fund: named so), source.

    python -m benchmarks.fund_directory OTHERLISTED NASDAQLISTED
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

from technic_assets.market.known_etfs import FUND_LIST, fund_by_name


def read_directory(path: Path) -> list[dict]:
    """Rows of one directory file: symbol, name, etf (bool), test (bool), created (its footer's stamp)."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    footer = next((line for line in lines if line.startswith("File Creation Time")), "")
    created = re.sub(r"\D", "", footer.split("|")[0])
    rows = []
    for r in csv.DictReader(lines, delimiter="|"):
        symbol = r.get("ACT Symbol") or r.get("Symbol") or ""
        if not symbol or symbol.startswith("File Creation"):
            continue
        rows.append({"symbol": symbol, "name": " ".join(r["Security Name"].split()), "etf": r["ETF"] == "Y",
                     "test": r.get("Test Issue") == "Y", "created": created})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="otherlisted.txt, nasdaqlisted.txt (the first wins)")
    parser.add_argument("--out", type=Path, default=FUND_LIST)
    args = parser.parse_args()
    kept: dict[str, dict] = {}
    for path in args.files:
        for r in read_directory(path):
            if r["test"] or r["symbol"] in kept or not (r["etf"] or fund_by_name(r["name"])):
                continue
            stamp = r["created"]  # MMDDYYYYHH:MM -> YYYY-MM-DD
            kept[r["symbol"]] = {"symbol": r["symbol"], "name": r["name"], "kind": "etf" if r["etf"] else "fund",
                                 "source": f"NASDAQ Trader {path.name} {stamp[4:8]}-{stamp[:2]}-{stamp[2:4]}"}
    with args.out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["symbol", "name", "kind", "source"])
        writer.writeheader()
        writer.writerows(kept[s] for s in sorted(kept))
    kinds = [r["kind"] for r in kept.values()]
    print(f"{args.out}: {len(kept)} funds ({kinds.count('etf')} flagged ETF, {kinds.count('fund')} named fund)")


if __name__ == "__main__":
    main()
