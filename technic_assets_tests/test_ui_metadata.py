"""What the Dagster UI shows of the materializations (issue 23): table cells rounded for reading, and the
charts drawn in text under the length the UI renders in place (1,000 characters: ui-core's
MetadataEntry.tsx; longer Markdown hides behind "[Show Markdown]")."""

import numpy as np
import pandas as pd
import pytest

from technic_assets.assets.common import readable, table_metadata
from technic_assets.charts import BLOCKS, INLINE_LIMIT, inline_markdown, sector_bars, sparklines
from technic_assets.core.schema import GICS_SECTORS


def test_table_floats_are_rounded_for_reading_and_the_rest_kept():
    frame = pd.DataFrame({"book": ["top_n", "universe"], "sharpe": [1.2345678901234567, np.nan],
                          "mean_return": [0.0012345678901234, -0.0456789], "close": [12345.678912, 0.5],
                          "days": [40, 41]})
    records = [r.data for r in table_metadata(frame).value.records]
    assert records[0] == {"book": "top_n", "sharpe": 1.235, "mean_return": 0.001235, "close": 12345.68, "days": 40}
    assert records[1] == {"book": "universe", "sharpe": None, "mean_return": -0.04568, "close": 0.5, "days": 41}


@pytest.mark.parametrize("value, shown", [(0.3 + 0.6, 0.9), (2 / 3, 0.6667), (-123.4567, -123.46), (1e-7, 1e-7),
                                          (98765.4321, 98765.43), (0.0, 0.0)])
def test_readable_keeps_four_significant_digits_and_two_decimals(value, shown):
    assert readable(value) == shown


def test_the_sector_mix_in_text_is_seen_in_place():
    sectors = list(GICS_SECTORS) + ["Unknown"]
    passed = pd.Series({s: 100 - 5 * i for i, s in enumerate(sectors)})  # the largest 100: a 20-cell bar
    picked = pd.Series({sectors[0]: 10, sectors[3]: 1})
    text = sector_bars(passed, picked).value
    assert len(text) < INLINE_LIMIT
    rows = {line.split("|")[1].strip(): line.split("|")[2:4] for line in text.splitlines()[2:]}
    assert list(rows) == sectors  # largest first, every sector
    count, bar = rows[sectors[0]][0].strip(), rows[sectors[0]][1].strip()
    assert count == "10 of 100" and bar == "█" * 2 + "░" * 18  # 10 of the 100 on a 20-cell scale: 2 cells
    assert rows[sectors[3]][1].strip() == "█" + "░" * 16  # 85 -> 17 cells; one pick is never an empty bar
    assert rows[sectors[1]][1].strip() == "░" * 19


def test_a_track_record_in_text_is_seen_in_place():
    days = pd.bdate_range("2025-01-02", periods=9)
    daily = pd.DataFrame({"top_n": [1.0, 1.0, 1.1, 1.2, 1.2, 1.3, 1.3, 1.4, 1.4],
                          "flat": [1.0] * 9, "benchmark": [1.0, 0.9, 0.8, 0.7, 0.6, 0.7, 0.8, 0.9, 1.0]}, index=days)
    text = sparklines(daily, ("top_n", "flat", "benchmark")).value
    assert len(text) < INLINE_LIMIT and "2025-01-02 to 2025-01-14 (0.60 to 1.40)" in text
    lines = {line.split("|")[1].strip(): line.split("|")[2:4] for line in text.splitlines()[2:]}
    # one scale, 0.60 to 1.40 over the 8 blocks: (v - 0.6) / 0.8 * 7, rounded
    assert lines["top_n"][0].strip() == "`" + "".join(BLOCKS[i] for i in (4, 4, 4, 5, 5, 6, 6, 7, 7)) + "`"
    assert lines["flat"][0].strip() == "`" + BLOCKS[4] * 9 + "`"
    assert lines["benchmark"][0].strip() == "`" + "".join(BLOCKS[i] for i in (4, 3, 2, 1, 0, 1, 2, 3, 4)) + "`"
    assert [g.strip() for g in (lines["top_n"][1], lines["flat"][1], lines["benchmark"][1])] == \
        ["+40.0%", "+0.0%", "+0.0%"]


def test_a_table_too_long_for_the_page_is_cut_and_says_so():
    lines = ["| a | b | c |", "|---|---|---|"] + [f"| row {i:03d} | {'x' * 30} | |" for i in range(60)]
    text = inline_markdown(lines).value
    assert len(text) < INLINE_LIMIT and text.splitlines()[:3] == lines[:3]
    kept = len(text.splitlines()) - 3
    assert text.splitlines()[-1] == f"| ... {60 - kept} more | | |"
