"""The Parquet source's security types: from the file's `type` column where it has one, else the known-ETF lists."""

import pandas as pd

from technic_assets.market.parquet import ParquetMarket

DAY = pd.Timestamp("2020-06-01")


def write(tmp_path, types=None):
    rows = [{"symbol": s, "date": d, "open": 10.0, "high": 11.0, "low": 9.0, "close": 10.5, "volume": 1e6}
            for s in ("AAPL", "TAN", "NEWETF", "SQQQ", "ODD") for d in (pd.Timestamp("2020-05-29"), DAY)]
    frame = pd.DataFrame(rows)
    if types is not None:
        frame["type"] = frame["symbol"].map(types)
    path = tmp_path / "bars.parquet"
    frame.to_parquet(path)
    return str(path)


def kinds(path):
    listings = ParquetMarket(path).listings(DAY).set_index("symbol")
    return listings["type"].to_dict(), listings


def test_without_a_type_column_the_known_list_decides(tmp_path):
    types, listings = kinds(write(tmp_path))
    assert types == {"AAPL": "stock", "TAN": "ETF", "NEWETF": "stock", "SQQQ": "ETF", "ODD": "stock"}
    assert listings.loc["SQQQ", "is_leveraged"] and not listings.loc["TAN", "is_leveraged"]
    assert listings.loc["TAN", "sector"] == "ETF"


def test_a_type_column_decides_case_insensitively_and_the_list_fills_the_rest(tmp_path):
    path = write(tmp_path, {"AAPL": "CS", "TAN": "etf", "NEWETF": " ETF ", "SQQQ": None, "ODD": "warrant"})
    types, listings = kinds(path)
    assert types == {"AAPL": "stock", "TAN": "ETF", "NEWETF": "ETF", "SQQQ": "ETF", "ODD": "stock"}
    assert listings.loc["NEWETF", "sector"] == "ETF" and listings.loc["SQQQ", "is_leveraged"]


def test_a_type_column_can_say_a_listed_etf_is_a_stock(tmp_path):
    types, listings = kinds(write(tmp_path, {"AAPL": "Stock", "TAN": "stock", "NEWETF": "ETN", "SQQQ": "stock",
                                             "ODD": "ADRC"}))
    assert types == {"AAPL": "stock", "TAN": "stock", "NEWETF": "ETF", "SQQQ": "stock", "ODD": "stock"}
    assert not listings.loc["SQQQ", "is_leveraged"]


def test_the_latest_session_of_a_file_is_its_last_day_not_the_calendars(tmp_path):
    path = tmp_path / "bars.csv"
    pd.DataFrame({"symbol": ["AAA", "AAA", "BBB"], "date": ["2020-12-10", "2020-12-11", "2020-12-09"],
                  "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 100}).to_csv(path, index=False)
    market = ParquetMarket(str(path))
    assert market.latest_session(pd.Timestamp("2026-12-05 12:00", tz="UTC")) == "2020-12-11"
    # a clock inside the file's span: the latest closed session then (Thursday 10 December before the close)
    assert market.latest_session(pd.Timestamp("2020-12-10 15:00", tz="America/New_York")) == "2020-12-09"
