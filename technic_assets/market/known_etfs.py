"""Exchange-traded funds a bring-your-own data file cannot label itself: plain and leveraged/inverse.

Used to type the symbols of a Parquet or CSV source that carries no security type (no `type` column,
or a value there it does not recognise); the source adds what the bars themselves show
(core.fund_evidence) and takes the rest as common stocks.

Three sources, joined:
  us_etfs.csv      3,261 US-listed ETFs and ETNs with their asset class and name, as bundled (offline)
                   in the PyPI package etfpy 1.0.20 (etfpy/data/etfs/etfs_list.json, MIT licence,
                   Copyright (c) Jakub Pluta; scraped from etfdb.com in 2024). The package itself is not
                   a dependency: it pins numpy < 2 and scrapes the web for everything else; only the list
                   is kept, with the prices and returns it also carried dropped.
  PLAIN_ETFS, LEVERAGED_ETFS   the hand-kept lists that came before it (a few are missing there).
  REUSED_TICKERS   tickers of that 2024 list that belonged to a company before the fund took them over,
                   with the day the fund began trading: before it, the ticker is not a fund here.
Leveraged and inverse funds are those on LEVERAGED_ETFS and those whose name in us_etfs.csv says so
(LEVERAGED_NAME: "2X", "-3x", "UltraShort", "UltraPro", "Bear", "Inverse", "ProShares Short ...",
"Direxion Daily ..."), not the bond funds whose names say "Ultra-Short" or "Short-Term".
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

PLAIN_ETFS = frozenset("""
SPY QQQ IWM DIA VOO VTI IVV HYG LQD SHY TLT IEF VIXY VXX GLD SLV AGG TIP EEM EFA VEA VWO BND BNDX
XLK XLF XLE XLV XLY XLP XLI XLB XLU XLC XLRE MDY IJH IJR IWF IWD IWB IWN IWO RSP SCHD VIG VYM DVY
SMH SOXX XBI IBB KRE KBE XOP XME GDX GDXJ USO UNG EMB JNK MUB SHV BIL VNQ IYR ITB XHB ARKK
TAN ICLN QCLN PBW FAN ACWI ACWX AAXJ IAU SGOL SIVR BIV BLV BSV VB VBK VBR VCIT VCLT VCSH VEU VGK VGT
VHT VIS VNM VO VOE VOT VOX VPL VPU VTV VUG VV VT VXF VDC VDE VFH VCR VAW VGIT VGLT VGSH VMBS EWA EWC
EWD EWG EWH EWI EWJ EWK EWL EWM EWN EWO EWP EWQ EWS EWT EWU EWW EWY EWZ EZA EZU FXI FEZ ILF INDY EPI
IEV IJJ IJK IJS IJT IVE IVW IWC IWP IWR IWS IWV IWX IWY IYC IYE IYF IYG IYH IYJ IYK IYM IYT IYW IYZ
IXC IXG IXJ IXN IGV IHI ITA ITOT IEI IEO IEZ IGIB IGSB IGLB IGOV MBB SHM SUB TLH SCHA SCHB SCHF SCHG
SCHV SCHX SPDW SPEM SPLG SPYG SPYV SPTM SPAB SPIB SPSB SPTI SPTL MDYG MDYV SLY SLYG SLYV XRT XES XSD
XPH OIH KIE DBA DBC DBB DBE DBO DBP DBS UUP FXA FXB FXC FXE FXF FXY PFF PGX FDN PNQI QTEC ONEQ SDY
FVD DLN MGC MGK MGV GSG USL UGA CWB LTPZ EDV ZROZ
""".split())

LEVERAGED_ETFS = frozenset("""
TQQQ SQQQ QLD QID PSQ SPXL SPXS UPRO SPXU SSO SDS SH TNA TZA RWM DOG DXD SDOW UDOW UVXY SVXY TVIX
TMF TMV TBT UBT SOXL SOXS FAS FAZ ERX ERY LABU LABD NUGT DUST JNUG JDST UCO SCO BOIL KOLD TECL TECS
YINN YANG FNGU FNGD DDM TWM UWM SKF UYG UYM SMN SIJ DUG DIG EUO YCS ROM REW SSG USD URE SRS RXD RXL
UXI SDD SDP MVV MZZ DRN DRV BZQ FXP EFU EEV EFZ EUM EPV EDC EDZ UGL GLL AGQ ZSL MIDU
""".split())

# A fund on us_etfs.csv whose ticker a company used before (seen in the 2017-2020 sample file, where
# these trade as the companies): the first day the fund traded under it.
REUSED_TICKERS = {
    "EV": "2023-01-01",    # Eaton Vance Corp. until its sale in 2021; Mast Global Battery Recycling ETF
    "IRET": "2022-01-01",  # Investors Real Estate Trust (a REIT, now Centerspace); iREIT MarketVector ETF
    "MAGS": "2023-04-01",  # Magal Security Systems; Roundhill Magnificent Seven ETF
    "SHLD": "2023-09-01",  # Sears Holdings; Global X Defense Tech ETF
}

LEVERAGED_NAME = re.compile(r"""(?ix)
    (?<![\w.])-?\d(\.\d+)?\s?x\b                    # 2x, 3X, -1x, 1.5x
  | \bultra\s?pro\b | \bultra\s?short\b(?!\s*-?\s*(term|duration|maturity|income|bond|treasury|muni))
  | ^proshares\s+ultra\b(?!\s*-?\s*short\s*-?\s*(term|duration|maturity|income|bond))
  | ^proshares\s+short\b | ^direxion\s+daily\b
  | \binverse\b | \bbear\b | \bleveraged\b | \bdouble\s+(long|short)\b
""")

ETF_LIST = Path(__file__).with_name("us_etfs.csv")


@lru_cache(maxsize=1)
def listed_etfs() -> pd.DataFrame:
    """Every fund the lists know: symbol (index), asset_class, name, leveraged (bool) and since (the
    first day the ticker is a fund: NaT for always, a day for REUSED_TICKERS)."""
    with ETF_LIST.open(newline="", encoding="utf-8") as f:
        rows = {r["symbol"]: r for r in csv.DictReader(f)}
    for symbol in PLAIN_ETFS | LEVERAGED_ETFS:
        rows.setdefault(symbol, {"symbol": symbol, "asset_class": "", "name": ""})
    out = pd.DataFrame(list(rows.values())).set_index("symbol").sort_index()
    out["leveraged"] = out.index.isin(LEVERAGED_ETFS) | out["name"].map(lambda n: bool(LEVERAGED_NAME.search(n)))
    out["since"] = pd.to_datetime(out.index.map(REUSED_TICKERS.get))
    return out


def etfs_on(day) -> tuple[frozenset[str], frozenset[str]]:
    """(the symbols that are funds on `day`, those of them leveraged or inverse), by the lists alone."""
    listed = listed_etfs()
    live = listed[listed["since"].isna() | (listed["since"] <= pd.Timestamp(day))]
    return frozenset(live.index), frozenset(live.index[live["leveraged"]])
