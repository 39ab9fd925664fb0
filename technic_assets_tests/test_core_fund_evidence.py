"""Funds told from stocks in a file without a type column: the bar rules (core.fund_evidence) on real
symbols of the shared file, the known-fund lists, and the Parquet source that joins them, point in time.

The expected labels are hand labels (benchmarks/fund_labels.csv): MINT, SHV, BIL, GSY are near-cash
funds, LQD, TLT, USIG, TFI bond funds, NAD a closed-end muni fund, JKD an iShares equity ETF since
renamed (on no ETF list of today; the 2020 symbol directory has it), SH and TBF short the S&P 500 and long Treasuries; AAPL, MSFT, JPM, KO are common
stocks, and O and MAIN stocks that pay every month.
"""

import duckdb
import pandas as pd
import pytest

from technic_assets.core.fund_evidence import first_flagged, funds_as_of
from technic_assets.market.known_etfs import LEVERAGED_NAME, etfs_on
from technic_assets.market.parquet import ParquetMarket
from technic_assets_tests.conftest import shared_file

FUNDS = ["MINT", "SHV", "BIL", "GSY", "LQD", "TLT", "USIG", "TFI", "NAD", "JKD", "SH", "TBF"]
STOCKS = ["AAPL", "MSFT", "JPM", "KO", "O", "MAIN"]
DAY = pd.Timestamp("2019-06-28")


@pytest.fixture(scope="module")
def raw():
    """The real rows of these symbols and SPY (the rules' benchmark), 2017-01 .. 2020-12."""
    path = shared_file("market", "us_equities_daily_2017_2020.parquet")
    return duckdb.connect().execute("SELECT * FROM read_parquet(?) WHERE list_contains(?, symbol)",
                                    [str(path), [*FUNDS, *STOCKS, "SPY"]]).fetchdf()


def evidence_bars(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.rename(columns={"split_coefficient": "split_ratio", "dividend_amount": "dividend"})


def test_the_bar_rules_alone_find_the_funds_and_spare_the_stocks(raw):
    shown = funds_as_of(first_flagged(evidence_bars(raw)), DAY)
    assert shown.loc[FUNDS, "fund"].all(), shown.loc[FUNDS]
    assert not shown.loc[STOCKS, "fund"].any(), shown.loc[STOCKS]
    assert set(shown.index[shown["leveraged_or_inverse"]]) == {"SH", "TBF"}
    assert shown.loc["MINT", "evidence"] == "near_cash,bond_like" and shown.loc["NAD", "evidence"] == "bond_like"


def test_no_rule_speaks_before_half_a_year_of_bars(raw):
    first = first_flagged(evidence_bars(raw))
    assert not funds_as_of(first, pd.Timestamp("2017-06-30"))["fund"].any()  # 124 sessions of returns
    assert funds_as_of(first, pd.Timestamp("2017-12-29")).loc[["MINT", "SHV", "SH"], "fund"].all()


def test_the_source_types_funds_as_etfs_and_stocks_as_stocks(raw, tmp_path):
    path = tmp_path / "bars.parquet"
    raw.to_parquet(path)
    listings = ParquetMarket(str(path)).listings(DAY).set_index("symbol")
    assert (listings.loc[FUNDS, "type"] == "ETF").all() and (listings.loc[FUNDS, "sector"] == "ETF").all()
    assert (listings.loc[STOCKS, "type"] == "stock").all()
    assert set(listings.index[listings["is_leveraged"]]) == {"SH", "TBF"}
    assert listings.loc["MINT", "name"].startswith("PIMCO Enhanced Short Maturity")  # the list names funds


def test_unlisted_funds_are_found_by_their_bars_through_the_source(raw, tmp_path):
    """Renamed as tickers no list could know (NAD and JKD are on the 2020 symbol directory's list now)."""
    renamed = raw.assign(symbol=raw["symbol"].replace({"MINT": "QQMNT", "LQD": "QQLQD", "SH": "QQSH",
                                                       "NAD": "QQNAD", "JKD": "QQJKD"}))
    path = tmp_path / "bars.parquet"
    renamed.to_parquet(path)
    listings = ParquetMarket(str(path)).listings(DAY).set_index("symbol")
    assert (listings.loc[["QQNAD", "QQJKD", "QQMNT", "QQLQD", "QQSH"], "type"] == "ETF").all()
    assert listings.loc["QQSH", "is_leveraged"] and not listings.loc["QQLQD", "is_leveraged"]
    assert (listings.loc[STOCKS, "type"] == "stock").all()


def test_bars_after_the_day_change_no_type(raw, tmp_path):
    """Everything after DAY rewritten (stocks made flat and monthly-paying, funds made wild, SPY reversed):
    the day's listings are the same, and a day after the change sees it."""
    later = raw["date"] > DAY
    changed = raw.copy()
    for symbol in STOCKS:  # after DAY the stocks look like a T-bill fund
        rows = later & (changed["symbol"] == symbol)
        changed.loc[rows, ["open", "high", "low", "close", "adjusted_close"]] = 50.0
        changed.loc[rows, "dividend_amount"] = 0.1
    for symbol in ["NAD", "JKD"]:  # and the unlisted funds like a meme stock
        rows = later & (changed["symbol"] == symbol)
        noise = pd.Series(range(int(rows.sum()))).mod(7).to_numpy() - 3.0
        changed.loc[rows, "close"] = changed.loc[rows, "close"] * (1 + 0.08 * noise)
        changed.loc[rows, "high"] = changed.loc[rows, "close"] * 1.1
        changed.loc[rows, "low"] = changed.loc[rows, "close"] * 0.9
        changed.loc[rows, "dividend_amount"] = 0.0
    spy = later & (changed["symbol"] == "SPY")
    changed.loc[spy, "close"] = changed.loc[spy, "close"].to_numpy()[::-1]
    before, after = tmp_path / "before.parquet", tmp_path / "after.parquet"
    raw.to_parquet(before)
    changed.to_parquet(after)
    seen = ParquetMarket(str(before)).listings(DAY)
    pd.testing.assert_frame_equal(seen, ParquetMarket(str(after)).listings(DAY))
    late = ParquetMarket(str(after)).listings(pd.Timestamp("2020-11-02")).set_index("symbol")
    assert (late.loc[["AAPL", "KO"], "type"] == "ETF").all()  # the rewritten months were seen, once in the past


def test_a_reused_ticker_is_a_fund_only_from_the_day_the_fund_took_it():
    funds_2020, _ = etfs_on("2020-06-01")
    funds_2024, _ = etfs_on("2024-06-03")
    assert "MAGS" not in funds_2020 and "EV" not in funds_2020 and "MAGS" in funds_2024
    assert {"MINT", "USIG", "TFI", "GSY", "TBF"} <= funds_2020


@pytest.mark.parametrize("name, geared", [
    ("ProShares UltraShort 20+ Year Treasury", True), ("ProShares Short 20+ Year Treasury", True),
    ("Direxion Daily S&P 500 Bear 3X Shares", True), ("GraniteShares 1.25x Long Tesla Daily ETF", True),
    ("ProShares Ultra S&P 500", True), ("iShares Short Treasury Bond ETF", False),
    ("Invesco Ultra Short Duration ETF", False), ("JPMorgan Ultra-Short Income ETF", False),
    ("Vanguard Short-Term Corporate Bond ETF", False), ("ProShares Ultra-Short Term Bond", False),
    ("iShares Russell 2000 ETF", False), ("SPDR S&P 500 ETF Trust", False),
])
def test_leveraged_and_inverse_funds_by_name(name, geared):
    assert bool(LEVERAGED_NAME.search(name)) is geared
