"""SIC industry codes (what Polygon's ticker details give) to GICS sectors, by code range.

An approximation: SIC predates GICS and a few industries straddle sectors (retailers of staples sit in
Consumer Discretionary here). Codes outside every range map to "Unknown".
"""

from __future__ import annotations

# (first code, last code, sector); the first matching range wins, so narrow ranges come first
RANGES = [
    (1300, 1399, "Energy"), (2830, 2836, "Health Care"), (2840, 2844, "Consumer Staples"),
    (2600, 2699, "Materials"), (2900, 2999, "Energy"), (3300, 3399, "Materials"),
    (3570, 3579, "Information Technology"), (3630, 3639, "Consumer Discretionary"),
    (3710, 3716, "Consumer Discretionary"), (3840, 3851, "Health Care"), (5120, 5129, "Health Care"),
    (5400, 5499, "Consumer Staples"), (5910, 5912, "Consumer Staples"), (6770, 6770, "Financials"),
    (7370, 7379, "Information Technology"), (7800, 7899, "Communication Services"),
    (100, 999, "Consumer Staples"), (1000, 1499, "Materials"), (1500, 1799, "Industrials"),
    (2000, 2199, "Consumer Staples"), (2200, 2799, "Consumer Discretionary"), (2800, 2899, "Materials"),
    (3000, 3599, "Industrials"), (3600, 3699, "Information Technology"), (3700, 3799, "Industrials"),
    (3800, 3899, "Information Technology"), (3900, 3999, "Consumer Discretionary"),
    (4000, 4799, "Industrials"), (4800, 4899, "Communication Services"), (4900, 4999, "Utilities"),
    (5000, 5199, "Industrials"), (5200, 5999, "Consumer Discretionary"), (6000, 6499, "Financials"),
    (6500, 6799, "Real Estate"), (7000, 7299, "Consumer Discretionary"), (7300, 7999, "Industrials"),
    (8000, 8099, "Health Care"), (8100, 8999, "Industrials"),
]


def sector_for_sic(code: object) -> str:
    try:
        sic = int(str(code).strip())
    except (TypeError, ValueError):
        return "Unknown"
    for first, last, sector in RANGES:
        if first <= sic <= last:
            return sector
    return "Unknown"
