import numpy as np
import pandas as pd
import pytest

from technic_assets.core.fundamentals import FILING_COLUMNS, point_in_time


def filing(symbol, period_end, published, eps, revenues, net_income=100.0, equity=1000.0, liabilities=500.0):
    return (symbol, pd.Timestamp(period_end), pd.Timestamp(published), eps, eps, revenues, net_income, equity, liabilities)


QUARTERS = [("2024-03-31", "2024-05-01", 1.0, 100.0), ("2024-06-30", "2024-08-01", 1.1, 104.0),
            ("2024-09-30", "2024-11-01", 1.2, 108.0), ("2024-12-31", "2025-02-15", 1.3, 112.0),
            ("2025-03-31", "2025-05-01", 1.5, 120.0)]


def frame(rows):
    return pd.DataFrame(rows, columns=FILING_COLUMNS)


def test_by_hand_from_five_quarters():
    rows = [filing("AAA", *q) for q in QUARTERS]
    got = point_in_time(frame(rows), pd.Timestamp("2025-06-02")).set_index("symbol").loc["AAA"]
    assert got["eps_ttm"] == pytest.approx(1.1 + 1.2 + 1.3 + 1.5)
    assert got["revenue_growth"] == pytest.approx(120.0 / 100.0 - 1)
    assert got["eps_growth"] == pytest.approx(1.5 / 1.0 - 1)
    assert got["roe"] == pytest.approx(400.0 / 1000.0)
    assert got["debt_to_equity"] == pytest.approx(0.5)
    assert got["book_value_per_share"] == pytest.approx(1000.0 / (100.0 / 1.5))  # equity / (income / EPS)
    assert got["published"] == pd.Timestamp("2025-05-01")
    assert np.isnan(got["earnings_surprise"])


def test_nothing_filed_after_the_date_is_used():
    rows = [filing("AAA", *q) for q in QUARTERS]
    before_last = point_in_time(frame(rows), pd.Timestamp("2025-04-30")).set_index("symbol").loc["AAA"]
    assert before_last["eps_ttm"] == pytest.approx(1.0 + 1.1 + 1.2 + 1.3)
    assert before_last["period_end"] == pd.Timestamp("2024-12-31")
    assert np.isnan(before_last["revenue_growth"])  # only four quarters known then


def test_an_amendment_counts_from_its_filing_date():
    rows = [filing("AAA", *q) for q in QUARTERS]
    rows.append(filing("AAA", "2025-03-31", "2025-06-10", 0.5, 120.0))  # restated later
    assert point_in_time(frame(rows), pd.Timestamp("2025-06-02")).iloc[0]["eps_ttm"] == pytest.approx(5.1)
    assert point_in_time(frame(rows), pd.Timestamp("2025-06-10")).iloc[0]["eps_ttm"] == pytest.approx(4.1)
