"""Closed-end funds told from companies named like them (issue 21: KYN, an equity closed-end fund, was
picked as a stock), on the shared real file and on security names.

Hand labels (benchmarks/fund_labels.csv, each from the security name in NASDAQ Trader's directory of
2020-11-30 and checked by hand): KYN (Kayne Anderson Energy Infrastructure Fund), ADX (Adams
Diversified Equity Fund), GAB (Gabelli Equity Trust), FUND (Sprott Focus Trust), CUBA (Herzfeld
Caribbean Basin Fund), CET, GAM, SOR, TY, HQH (equity closed-end funds named like companies) are funds whose
bars move like stocks'. O, ABR, LXP, UHT, BXMT, RWT, EQC, OPI (REITs, several named "... Trust" or
"Income Trust"), ARCC, AINV, BKCC, MAIN (business development companies, two of which Nasdaq marks
"Closed End Fund"), WASH (a bank named Trust), BIP (a partnership), GBL (Gamco Investors, a fund
sponsor), OHI and NHI (REITs named "... Investors") are operating companies.
"""

import duckdb
import pandas as pd
import pytest

from technic_assets.market.known_etfs import fund_by_name
from technic_assets.market.parquet import ParquetMarket
from technic_assets_tests.conftest import shared_file

CLOSED_END = ["KYN", "ADX", "GAB", "FUND", "CUBA", "CET", "GAM", "SOR", "TY", "HQH"]
COMPANIES = ["O", "ABR", "LXP", "UHT", "BXMT", "RWT", "EQC", "OPI", "ARCC", "AINV", "BKCC", "MAIN", "WASH", "BIP",
             "GBL", "OHI", "NHI"]
DAYS = ["2018-07-02", "2020-11-02"]


@pytest.fixture(scope="module")
def listings(tmp_path_factory):
    """The Parquet source's listings on DAYS over the real rows of these symbols and SPY, TLT."""
    path = shared_file("market", "us_equities_daily_2017_2020.parquet")
    raw = duckdb.connect().execute("SELECT * FROM read_parquet(?) WHERE list_contains(?, symbol)",
                                   [str(path), [*CLOSED_END, *COMPANIES, "SPY", "TLT"]]).fetchdf()
    out = tmp_path_factory.mktemp("funds") / "bars.parquet"
    raw.to_parquet(out)
    market = ParquetMarket(str(out))
    return {day: market.listings(pd.Timestamp(day)).set_index("symbol") for day in DAYS}


@pytest.mark.parametrize("day", DAYS)
def test_closed_end_funds_are_funds_and_companies_named_trust_are_stocks(listings, day):
    seen = listings[day]
    assert set(CLOSED_END) | set(COMPANIES) <= set(seen.index)
    assert list(seen.loc[CLOSED_END, "type"]) == ["ETF"] * len(CLOSED_END), seen.loc[CLOSED_END, "type"]
    assert list(seen.loc[COMPANIES, "type"]) == ["stock"] * len(COMPANIES), seen.loc[COMPANIES, "type"]
    assert not seen.loc[CLOSED_END, "is_leveraged"].any()
    assert seen.loc["KYN", "name"] == "Kayne Anderson Energy Infrastructure Fund, Inc."


@pytest.mark.parametrize("name, fund", [
    ("Kayne Anderson Energy Infrastructure Fund, Inc.", True),
    ("Gabelli Equity Trust, Inc. (The) Common Stock", True),
    ("BlackRock Municipal Income Trust", True),
    ("Blackrock Health Sciences Trust", True),
    ("Sprott Focus Trust, Inc. - Closed End Fund", True),
    ("Eaton Vance Tax-Advantage Global Dividend Opp Common Stock", True),
    ("iPath Bloomberg Lead Subindex Total Return SM Index ETN", True),
    ("Barclays Bank PLC iPath Exchange Traded Notes due June 12, 2036 Linked to GSCI Total Return Index", True),
    ("Gamco Investors, Inc. Common Stock", False),
    ("Nuveen Select Tax Free Income Portfolio Common Stock", True),
    ("Ares Capital Corporation - Closed End Fund", False),
    ("Apollo Investment Corporation - Closed End Fund", False),
    ("BlackRock Capital Investment Corporation - Common Stock", False),
    ("Blackstone Mortgage Trust, Inc. Common Stock", False),
    ("Office Properties Income Trust - Common Shares of Beneficial Interest", False),
    ("Universal Health Realty Income Trust Common Stock", False),
    ("Washington Trust Bancorp, Inc. - Common Stock", False),
    ("Eaton Vance Corporation Common Stock", False),
    ("BlackRock, Inc. Common Stock", False),
    ("Invesco Ltd Common Stock", False),
    ("Cohen & Steers Inc Common Stock", False),
    ("Franklin Resources, Inc. Common Stock", False),
    ("Aegon Funding Company LLC 5.10% Subordinated Notes due 2049", False),
])
def test_a_security_name_says_fund(name, fund):
    assert fund_by_name(name) is fund
