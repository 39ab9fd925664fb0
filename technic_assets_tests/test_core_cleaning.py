import numpy as np
import pandas as pd

from technic_assets.core.cleaning import clean_bars
from technic_assets.core.quality_checks import bars_sane
from technic_assets_tests.conftest import shared_file

COLS = ["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio", "dividend"]


def test_each_rule_by_hand():
    d = pd.Timestamp("2020-03-02")
    raw = pd.DataFrame([
        (d, "OK", 10, 11, 9, 10.5, 100, 1.0, 0.0),
        (d, "NEG", 10, 11, -1, 10.5, 100, 1.0, 0.0),          # bad_price
        (d, "NAN", np.nan, 11, 9, 10.5, 100, 1.0, 0.0),       # bad_price
        (d, "DUP", 10, 11, 9, 10, 100, 1.0, 0.0),
        (d, "DUP", 20, 21, 19, 20, 200, 1.0, 0.0),            # duplicate: this one is kept
        (d, "FILL", 7, 7, 7, 7, 0, 1.0, 0.0),                 # filler
        (d, "ZEROV", 7, 8, 6, 7, 0, 1.0, 0.0),                # zero volume but a real range: kept
        (d, "HILO", 10, 9.5, 9.8, 10.2, 100, 1.0, 0.0),       # high below open and close: repaired
        (d, "SPL", 10, 11, 9, 10, 100, np.nan, 0.0),          # bad split ratio
        (d, "DIV", 10, 11, 9, 10, 100, 1.0, 0.25),            # a dividend: kept as paid
        (d, "NDIV", 10, 11, 9, 10, 100, 1.0, -0.25),          # bad dividend
        (d, "IDIV", 10, 11, 9, 10, 100, 1.0, np.inf),         # bad dividend
        (d, "", 10, 11, 9, 10, 100, 1.0, 0.0),                # bad_key: blank symbol
        (d, None, 10, 11, 9, 10, 100, 1.0, 0.0),              # bad_key: no symbol
        (pd.NaT, "NODAY", 10, 11, 9, 10, 100, 1.0, 0.0),      # bad_key: no date
    ], columns=COLS)
    out, counts = clean_bars(raw)
    assert counts == {"bad_key": 3, "bad_price": 2, "duplicate": 1, "filler": 1, "range_repaired": 1, "bad_split": 1,
                      "bad_dividend": 2}
    assert sorted(out["symbol"]) == ["DIV", "DUP", "HILO", "IDIV", "NDIV", "OK", "SPL", "ZEROV"]
    by = out.set_index("symbol")
    assert by.loc["DUP", "close"] == 20
    hilo = by.loc["HILO"]
    assert (hilo["high"], hilo["low"], hilo["open"], hilo["close"]) == (10.2, 9.5, 10, 10.2)
    assert by.loc["SPL", "split_ratio"] == 1.0
    assert by["dividend"].to_dict() == {"DIV": 0.25, "DUP": 0.0, "HILO": 0.0, "IDIV": 0.0, "NDIV": 0.0, "OK": 0.0,
                                        "SPL": 0.0, "ZEROV": 0.0}
    assert bars_sane(out)[0]


def test_bars_without_a_dividend_column_pay_none():
    """A source from before dividends gives no `dividend` column: every bar pays 0, and no rule counts it."""
    d = pd.Timestamp("2020-03-02")
    raw = pd.DataFrame([(d, "OK", 10, 11, 9, 10.5, 100, 1.0)], columns=COLS[:-1])
    out, counts = clean_bars(raw)
    assert out["dividend"].tolist() == [0.0] and counts["bad_dividend"] == 0


def test_the_real_files_dirty_rows_are_all_caught():
    """The shared data has 8 bars with low > min(open, close), 5 with high < max(open, close), and
    21,550 zero-volume rows of which all but 6 are flat filler (its README)."""
    raw = pd.read_parquet(shared_file("market", "us_equities_daily_2017_2020.parquet"),
                          columns=["date", "symbol", "open", "high", "low", "close", "volume", "split_coefficient"])
    raw = raw.rename(columns={"split_coefficient": "split_ratio"})
    out, counts = clean_bars(raw)
    assert counts["filler"] == 21_550 - 6
    assert counts["range_repaired"] == 13
    assert counts["duplicate"] == 0
    assert len(out) == len(raw) - counts["filler"] - counts["bad_price"]
    assert bars_sane(out)[0]
