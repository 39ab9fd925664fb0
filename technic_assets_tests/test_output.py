"""What the CLI writes for other tools: CSV that a spreadsheet opens as data, never as formulas."""

import csv
import io

import pandas as pd
import pyarrow.parquet as pq

from technic_assets.output import render, titled, write_table

HOSTILE = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "Plain Co."]


def frame() -> pd.DataFrame:
    return pd.DataFrame({"rank": range(1, 7), "symbol": ["AAA", "BBB", "CCC", "DDD", "EEE", "FFF"],
                         "name": HOSTILE, "merit_score": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0]})


def cells(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_text_a_spreadsheet_would_run_is_quoted_with_an_apostrophe_and_numbers_stay_numbers(tmp_path):
    """OWASP's advice for CSV injection: a cell starting = + - @ or a tab is prefixed with ' (by hand: each
    hostile name above starts with one of them; "Plain Co." does not; -1.5 is a number)."""
    want = ["'" + n for n in HOSTILE[:5]] + ["Plain Co."]
    top = cells(render(frame(), "csv", title="t", day="2025-06-02", source="simulated"))
    assert [r["name"] for r in top] == want and top[0]["merit_score"] == "-1.5"
    write_table(frame(), "csv", str(tmp_path / "x.csv"))
    exported = cells((tmp_path / "x.csv").read_text())
    assert [r["name"] for r in exported] == want and exported[0]["merit_score"] == "-1.5"
    write_table(frame(), "parquet", str(tmp_path / "x.parquet"))  # Parquet is typed data: left exactly as stored
    assert pd.read_parquet(tmp_path / "x.parquet")["name"].tolist() == HOSTILE


def test_an_export_says_where_its_rows_came_from(tmp_path):
    """CSV: a `source` column by each row's date (a date the store has no source for: "unknown");
    Parquet: the file's metadata `technic.source`, the rows left as stored; a human title says SIMULATED."""
    rows = pd.DataFrame({"date": pd.to_datetime(["2025-06-02", "2025-06-03", "2025-06-04"]), "symbol": ["A", "B", "C"]})
    sources = {pd.Timestamp("2025-06-02"): "simulated", pd.Timestamp("2025-06-03"): "simulated"}
    write_table(rows, "csv", str(tmp_path / "x.csv"), sources)
    assert [r["source"] for r in cells((tmp_path / "x.csv").read_text())] == ["simulated", "simulated", "unknown"]
    write_table(rows.iloc[:2], "parquet", str(tmp_path / "x.parquet"), sources)
    assert pq.read_schema(tmp_path / "x.parquet").metadata[b"technic.source"] == b"simulated"
    assert list(pd.read_parquet(tmp_path / "x.parquet").columns) == ["date", "symbol"]
    assert titled("Top", "simulated") == "Top -- SIMULATED DATA (the built-in market, not real prices)"
    assert titled("Top", "polygon") == "Top"
