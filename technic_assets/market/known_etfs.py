"""Exchange-traded funds a bring-your-own data file cannot label itself: plain and leveraged/inverse.

Used to type the symbols of a Parquet or CSV source that carries no security type (no `type` column,
or a value there it does not recognise); the source adds what the bars themselves show
(core.fund_evidence) and takes the rest as common stocks.

Four sources, joined:
  us_etfs.csv      3,261 US-listed ETFs and ETNs with their asset class and name, as bundled (offline)
                   in the PyPI package etfpy 1.0.20 (etfpy/data/etfs/etfs_list.json, MIT licence,
                   Copyright (c) Jakub Pluta; scraped from etfdb.com in 2024). The package itself is not
                   a dependency: it pins numpy < 2 and scrapes the web for everything else; only the list
                   is kept, with the prices and returns it also carried dropped.
  us_funds_2020.csv  the funds of NASDAQ Trader's symbol directory of 2020-11-30 (otherlisted.txt: NYSE,
                   NYSE American, Arca, Cboe) and 2021-02-01 (nasdaqlisted.txt): every symbol it flags ETF
                   (ETFs and ETNs) and every other one whose security name says fund (`fund_by_name`:
                   closed-end funds, which no ETF list carries), plus CLOSED_END_FUNDS; written by
                   benchmarks/fund_directory.py (issue 21: KYN, an equity closed-end fund, was picked).
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

# Closed-end funds whose directory name reads like a company's (no "Fund", no sponsor): hand-kept,
# found among the shared file's symbols by reading the 2020 directory's names (a rule on "Investors"
# would take Omega Healthcare Investors, Gamco Investors, Investors Title ...).
CLOSED_END_FUNDS = {
    "CET": "Central Securities Corporation",       # closed-end equity fund since 1929
    "GAM": "General American Investors, Inc.",     # closed-end equity fund
    "SOR": "Source Capital, Inc.",                 # closed-end balanced fund
    "TY": "Tri-Continental Corporation",           # closed-end equity fund (Columbia)
    "HQH": "Tekla Healthcare Investors",           # closed-end health-care equity fund
    "HQL": "Tekla Life Sciences Investors",        # closed-end life-sciences equity fund
    "MCI": "Barings Corporate Investors",          # closed-end private-credit fund
    "MPV": "Barings Participation Investors",      # closed-end private-credit fund
}

# What a fund's security name says (issue 21). A business development company calls itself a closed-end
# fund on Nasdaq ("Ares Capital Corporation - Closed End Fund") but is an operating lender, ranked as a
# stock; a REIT or a company named "... Trust" (Blackstone Mortgage Trust, Office Properties Income
# Trust) needs more than the word.
_CEF_SUFFIX = re.compile(r"\s*-\s*closed\s+end\s+fund\s*$", re.I)
_BDC = re.compile(r"\b(capital|investment|lending|finance|financial)\s+(corp(oration)?|inc)\b", re.I)
_FUND_WORDS = re.compile(r"""(?ix)
    \bfunds?\b | etns?\b | \bexchange\s+traded\s+notes?\b | \belements\b\s+linked
  | \bmunicipals?\b | \btax[-\s](free|exempt|advantaged?)\b
  | \bterm\s+trust\b | \bincome\s+(portfolio|securities\s+trust)\b
""")
_SPONSOR = re.compile(r"""(?ix)^(the\s+)?(
    blackrock | nuveen | eaton\s+vance | invesco | mfs | putnam | pioneer | gabelli | gamco | western\s+asset
  | john\s+hancock | franklin | templeton | dws | voya | aberdeen | abrdn | cohen\s+&\s+steers | calamos | pimco
  | allianzgi | virtus | duff\s+&\s+phelps | bny\s+mellon | dreyfus | delaware | royce | tortoise | kayne\s+anderson
  | clearbridge | neuberger\s+berman | guggenheim | macquarie | morgan\s+stanley | liberty\s+all-star | adams
  | first\s+trust | wells\s+fargo | brookfield | lmp | nexpoint | flaherty | doubleline | saba | highland)\b""")
_FUND_NOUNS = re.compile(
    r"\b(trust|portfolio|income|dividend|opportunit(y|ies)|equity|bond|credit|strategic|premium|global)\b", re.I)
_REIT_WORDS = re.compile(r"\b(mortgage|realty|properties|property|hospitality|residential|reit)\b", re.I)


def fund_by_name(name: str) -> bool:
    """Whether a security name (as NASDAQ Trader's directory or Polygon writes it) names a pooled
    vehicle: "Fund", "ETN" (or "Exchange Traded Notes"), "Municipal", "Tax-Free", "Term Trust"
    anywhere; or a fund sponsor's name (BlackRock, Nuveen, Eaton Vance, Gabelli, ...) followed by a fund
    noun ("Trust", "Income", ...) and no property or mortgage word; or Nasdaq's "- Closed End Fund"
    suffix unless the rest names a lender ("... Capital Corporation": a BDC). Measured by
    benchmarks/fund_types.py."""
    bare = _CEF_SUFFIX.sub("", name)
    if bare != name:
        return not _BDC.search(bare)
    if _FUND_WORDS.search(bare):
        return True
    return bool(_SPONSOR.search(bare) and _FUND_NOUNS.search(bare) and not _REIT_WORDS.search(bare))


ETF_LIST = Path(__file__).with_name("us_etfs.csv")
FUND_LIST = Path(__file__).with_name("us_funds_2020.csv")


@lru_cache(maxsize=1)
def listed_etfs() -> pd.DataFrame:
    """Every fund the lists know: symbol (index), asset_class, name, leveraged (bool) and since (the
    first day the ticker is a fund: NaT for always, a day for REUSED_TICKERS)."""
    with ETF_LIST.open(newline="", encoding="utf-8") as f:
        rows = {r["symbol"]: r for r in csv.DictReader(f)}
    with FUND_LIST.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["symbol"], {"symbol": r["symbol"], "asset_class": r["kind"], "name": r["name"]})
    for symbol, name in CLOSED_END_FUNDS.items():
        rows.setdefault(symbol, {"symbol": symbol, "asset_class": "closed-end fund", "name": name})
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
