"""The Parquet source's security types: from the file's `type` column where it has one, else the known-ETF lists."""

import pandas as pd

from technic_assets.market.parquet import ParquetMarket
from technic_assets_tests.conftest import shared_file

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


def test_dividends_are_the_files_dividend_amount_on_its_ex_dates():
    """The real file's dividend_amount rows, read here with pandas, are the source's dividends; AAPL paid
    0.73 then 0.77 three times in 2019 and AT&T 0.51 each quarter, as the file says."""
    path = shared_file("market", "us_equities_daily_2017_2020.parquet")
    some = ["AAPL", "T", "SPY", "XLU", "AMZN"]  # AMZN pays none
    raw = pd.read_parquet(path, columns=["symbol", "date", "dividend_amount"], filters=[("symbol", "in", some)])
    raw = raw[(raw["date"].astype(str) >= "2019-01-01") & (raw["date"].astype(str) <= "2019-12-31")]
    want = {(pd.Timestamp(d), s): a for s, d, a in raw[raw["dividend_amount"] != 0].itertuples(index=False)}
    bars = ParquetMarket(str(path)).daily_bars(pd.Timestamp("2019-01-01"), pd.Timestamp("2019-12-31"))
    bars = bars[bars["symbol"].isin(some)]
    paid = bars[bars["dividend"] != 0]
    assert dict(zip(zip(paid["date"], paid["symbol"]), paid["dividend"])) == want
    assert len(bars) == len(raw)  # every other bar of these symbols pays 0
    assert paid[paid["symbol"] == "AAPL"].sort_values("date")["dividend"].tolist() == [0.73, 0.77, 0.77, 0.77]
    assert paid[paid["symbol"] == "T"]["dividend"].tolist() == [0.51] * 4
    assert paid[paid["symbol"] == "AAPL"]["date"].dt.strftime("%m-%d").tolist() == ["02-08", "05-10", "08-09", "11-07"]


def test_a_file_without_dividend_amount_or_with_blanks_pays_none(tmp_path):
    path = tmp_path / "bars.csv"
    frame = pd.DataFrame({"symbol": ["AAA", "AAA", "BBB"], "date": ["2020-12-10", "2020-12-11", "2020-12-11"],
                          "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 100})
    frame.to_csv(path, index=False)
    assert ParquetMarket(str(path)).daily_bars(DAY, pd.Timestamp("2020-12-11"))["dividend"].tolist() == [0.0] * 3
    frame.assign(dividend_amount=[None, 0.25, None]).to_csv(path, index=False)
    bars = ParquetMarket(str(path)).daily_bars(DAY, pd.Timestamp("2020-12-11")).sort_values(["symbol", "date"])
    assert bars["dividend"].tolist() == [0.0, 0.25, 0.0]


def test_a_price_that_is_not_a_number_names_the_file_column_symbol_and_date(tmp_path):
    """`close=abc` read as text: the first such bar of the window asked for is named (it was "could not
    convert string to float: 'abc'", naming neither file nor column); one outside the window is not read."""
    import pytest

    path = tmp_path / "bars.csv"
    lines = ["symbol,date,open,high,low,close,volume"] + [
        f"{s},{d},10,11,9,{'abc' if (s, d) == ('BBB', '2020-05-29') else '10.5'},{'many' if d == '2020-05-27' else 1000}"
        for d in ("2020-05-27", "2020-05-28", "2020-05-29", "2020-06-01") for s in ("AAA", "BBB")]
    path.write_text("\n".join(lines) + "\n")
    market = ParquetMarket(str(path))
    with pytest.raises(ValueError, match=rf"^market file '{path}', column 'close': 'abc' is not a number "
                                         r"\(symbol 'BBB', date 2020-05-29\)$"):
        market.daily_bars(pd.Timestamp("2020-05-28"), DAY)
    with pytest.raises(ValueError, match=rf"^market file '{path}', column 'volume': 'many' is not a number "
                                         r"\(symbol 'AAA', date 2020-05-27\)$"):
        market.daily_bars(pd.Timestamp("2020-05-27"), DAY)
    bars = market.daily_bars(DAY, DAY)  # the bad values lie outside this window
    assert bars["close"].tolist() == [10.5, 10.5] and bars["volume"].tolist() == [1000.0, 1000.0]


def test_a_price_that_is_not_a_number_past_the_sampled_rows_names_the_line(tmp_path):
    """DuckDB types a CSV's columns from its first 20,480 rows; text after them is its conversion error,
    many lines long: one line instead, with the file's line number (header = line 1) and text."""
    import pytest

    path = tmp_path / "bars.csv"
    days = [f"{d:%Y-%m-%d}" for d in pd.bdate_range("2019-01-01", DAY)]
    rows = [(f"S{i:03d}", d) for i in range(100) for d in days]
    bad = len(rows) - 3
    path.write_text("symbol,date,open,high,low,close,volume\n" + "".join(
        f"{s},{d},10,11,9,{'abc' if n == bad else '10.5'},1000\n" for n, (s, d) in enumerate(rows)))
    symbol, day = rows[bad]
    with pytest.raises(ValueError, match=rf"^market file '{path}', line {bad + 2}, column 'close': 'abc' is not a "
                                         rf"number \(the line reads '{symbol},{day},10,11,9,abc,1000'\)$"):
        ParquetMarket(str(path)).daily_bars(pd.Timestamp(day), pd.Timestamp(day))
