"""Bring your own data: daily bars from a Parquet or CSV file (or a glob of them).

Columns: symbol, date, open, high, low, close, volume, and where present adjusted_close,
dividend_amount, split_coefficient (as in Alpha Vantage exports: raw prices, the split ratio and the
cash dividend per share on the ex-date). `split_coefficient` becomes our `split_ratio`; without it every
ratio is 1 and the prices are taken as already adjusted. `dividend_amount` becomes our `dividend`
(blank: 0); without it no dividend is known and the track record's returns are price returns. Sectors come from an optional CSV with Symbol and Sector columns (and
optionally Name); symbols without one are "Unknown". Security types come from a `type` column where
the file has one (case-insensitive: ETF, ETN, ETV or FUND -> ETF; STOCK, CS, ADRC or COMMON STOCK ->
stock, as Polygon names them; a symbol's latest non-blank value counts); otherwise, and for symbols
whose value is blank or not one of those, a symbol is an ETF on a day when it is on the known-fund
lists that day (known_etfs: ETF lists and the closed-end funds of the 2020 symbol directory), when
the sector map's Name names a fund (known_etfs.fund_by_name), or when its own bars up to that day
trade like a fund's (core.fund_evidence: near-cash, bond-like, index-like, inverse or leveraged); the rest are stocks.
Leveraged and inverse ETFs are those the lists name so and those whose bars show it. There are no
fundamentals, so value, quality and growth are neutral for every name. A symbol is listed from its
first bar to its last.

Prices, volumes and split coefficients must be numbers: a file whose column holds text (`close=abc`)
is read as text by DuckDB, and a bar of the requested window that is not a number is an error naming
the file, the column, the symbol, the date and the value, before anything is stored.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from technic_assets.core.fund_evidence import first_flagged, funds_as_of
from technic_assets.core.schema import BAR_COLUMNS, LISTING_COLUMNS, empty_fundamentals
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.known_etfs import etfs_on, fund_by_name, listed_etfs
from technic_assets.storage.connection import quoted

REQUIRED = ("symbol", "date", "open", "high", "low", "close", "volume")
NUMBERS = ("open", "high", "low", "close", "volume", "split_coefficient")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
TYPE_VALUES = {"etf": "ETF", "etn": "ETF", "etv": "ETF", "fund": "ETF",
               "stock": "stock", "cs": "stock", "adrc": "stock", "common stock": "stock"}


def _conversion_error(path: str, message: str) -> str:
    """One line from DuckDB's report of a CSV value its sniffed type cannot hold (a value past the rows it
    sampled): the file, the line, the column, the value and the line's text."""
    line = re.search(r"CSV Error on Line: (\d+)", message)
    column = re.search(r'converting column "([^"]+)"', message)
    value = re.search(r'Could not convert string "([^"]*)" to \'(\w+)\'', message)
    text = re.search(r"Original Line: (.*)", message)
    file = re.search(r"^\s*file = (.*)$", message, re.MULTILINE)
    if not (line and column and value):
        return f"market file {path!r} cannot be read: {message.strip().splitlines()[0]}"
    return (f"market file {(file.group(1).strip() if file else path)!r}, line {line.group(1)}, column "
            f"{column.group(1)!r}: {value.group(1)!r} is not a number"
            + (f" (the line reads {text.group(1).strip()!r})" if text else ""))


class ParquetMarket(MarketDataProvider):
    name = "parquet"

    def __init__(self, path: str, sector_map: str | None = None):
        self.path = str(Path(path).expanduser())
        self.sector_map = sector_map
        self._reader = "read_csv_auto" if self.path.lower().endswith((".csv", ".csv.gz")) else "read_parquet"
        self._check()

    def __repr__(self) -> str:
        return f"ParquetMarket({self.path!r})"

    def _query(self, sql: str, params: list) -> pd.DataFrame:
        conn = duckdb.connect()
        try:
            sql = sql.replace("NAMED_SOURCE", f"{self._reader}(?, filename = true)")  # with each row's file
            return conn.execute(sql.replace("SOURCE", f"{self._reader}(?)"), [self.path, *params]).fetchdf()
        except duckdb.IOException as exc:
            reason = str(exc).strip().splitlines()[0]  # DuckDB adds the SQL and a caret on later lines
            raise ValueError(f"market file {self.path!r} cannot be read: {reason}") from None
        except duckdb.ConversionException as exc:  # text in a column the CSV's sample typed as numbers
            raise ValueError(_conversion_error(self.path, str(exc))) from None
        finally:
            conn.close()

    def _check(self) -> None:
        described = self._query("DESCRIBE SELECT * FROM SOURCE", [])
        self._text = {name for name, kind in zip(described["column_name"], described["column_type"])
                      if name in NUMBERS and not str(kind).upper().startswith(NUMERIC_TYPES)}
        columns = set(described["column_name"])
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ValueError(f"market file {self.path!r} lacks the columns {missing} (it has {sorted(columns)})")
        self._has_splits = "split_coefficient" in columns
        self._has_dividends = "dividend_amount" in columns
        self._has_type = "type" in columns

    def latest_session(self, now: pd.Timestamp) -> str:
        """The file's last day (a file does not grow with the calendar), or the latest closed session
        if that comes first."""
        from technic_assets.core.calendar import latest_closed_session

        last = self._spans["last"].max()
        closed = latest_closed_session(now)
        return min(f"{last:%Y-%m-%d}", closed) if pd.notna(last) else closed

    @cached_property
    def _spans(self) -> pd.DataFrame:
        spans = self._query("SELECT symbol, min(date) AS listed, max(date) AS last FROM SOURCE "
                            "WHERE trim(symbol) <> '' GROUP BY symbol", [])  # a blank symbol lists nothing
        spans["listed"] = pd.to_datetime(spans["listed"])
        spans["last"] = pd.to_datetime(spans["last"])
        return spans

    @cached_property
    def _types(self) -> pd.Series:
        """symbol -> 'ETF' or 'stock' from the file's `type` column (each symbol's latest recognised
        value); empty without one, so the known-ETF lists decide."""
        if not self._has_type:
            return pd.Series(dtype=object)
        found = self._query("SELECT symbol, arg_max(lower(trim(CAST(type AS VARCHAR))), date) AS kind FROM SOURCE "
                            "WHERE type IS NOT NULL AND list_contains(?, lower(trim(CAST(type AS VARCHAR)))) "
                            "GROUP BY symbol", [list(TYPE_VALUES)])
        return found.set_index("symbol")["kind"].map(TYPE_VALUES)

    @cached_property
    def _fund_evidence(self) -> pd.DataFrame:
        """symbol -> the first day each rule of core.fund_evidence held in the file's bars (every
        statistic a trailing window, so the day a rule first holds depends on no later bar)."""
        # text where a number belongs is NULL here (no rule holds on it); daily_bars names it as an error
        names = ", ".join(f"TRY_CAST({quoted(c)} AS DOUBLE) AS {quoted(c)}" for c in ("high", "low", "close", "volume"))
        ratio = "TRY_CAST(split_coefficient AS DOUBLE)" if self._has_splits else "1.0"
        cash = "TRY_CAST(dividend_amount AS DOUBLE)" if self._has_dividends else "0.0"
        bars = self._query(f"SELECT date, symbol, {names}, {ratio} AS split_ratio, {cash} AS dividend FROM SOURCE "
                           "WHERE trim(symbol) <> ''", [])
        bars["date"] = pd.to_datetime(bars["date"])
        return first_flagged(bars)

    @cached_property
    def _sectors(self) -> pd.DataFrame:
        if not self.sector_map:
            return pd.DataFrame(columns=["symbol", "sector", "name"])
        path = str(Path(self.sector_map).expanduser())
        try:
            frame = pd.read_csv(path)
        except OSError as exc:
            raise ValueError(f"TECHNIC_SECTOR_MAP {path!r} cannot be read: {exc}") from None
        if not {"Symbol", "Sector"} <= set(frame.columns):
            raise ValueError(f"TECHNIC_SECTOR_MAP {path!r} needs Symbol and Sector columns (has {list(frame.columns)})")
        out = frame.rename(columns={"Symbol": "symbol", "Sector": "sector", "Name": "name"})
        return out.drop_duplicates("symbol")[[c for c in ("symbol", "sector", "name") if c in out.columns]]

    def listings(self, day: dt.date, known_sectors: dict[str, str] | None = None,
                 priority: list[str] | None = None) -> pd.DataFrame:
        day = pd.Timestamp(day)
        spans = self._spans
        active = spans[(spans["listed"] <= day) & (spans["last"] >= day)].copy()
        out = active.merge(self._sectors, on="symbol", how="left")
        etfs, leveraged = etfs_on(day)
        typed = out["symbol"].map(self._types)
        untyped = typed.isna()
        if untyped.any() or (typed == "ETF").any():  # the bars are read only when they can decide
            shown = funds_as_of(self._fund_evidence, day).reindex(out["symbol"])
            behaves = shown["fund"].eq(True).to_numpy()  # no evidence (NaN): not a fund by its bars
            geared = shown["leveraged_or_inverse"].eq(True).to_numpy()
        else:
            behaves = geared = False
        named = out["name"].map(lambda n: isinstance(n, str) and fund_by_name(n)) if "name" in out.columns else False
        is_etf = (typed == "ETF") | (untyped & (out["symbol"].isin(etfs) | behaves | named))
        out["type"] = is_etf.map({True: "ETF", False: "stock"})
        out["sector"] = out["sector"].where(~is_etf, "ETF").fillna("Unknown")
        fund_names = out["symbol"].map(listed_etfs()["name"].replace("", None)).where(out["symbol"].isin(etfs))
        names = out["name"].astype(object) if "name" in out.columns else pd.Series(None, index=out.index, dtype=object)
        out["name"] = names.where(names.notna(), fund_names).where(lambda n: n.notna(), out["symbol"])
        out["exchange"] = "unknown"
        out["is_leveraged"] = is_etf & (out["symbol"].isin(leveraged) | geared)
        out["delisted"] = pd.NaT
        return out[LISTING_COLUMNS].sort_values("symbol").reset_index(drop=True)

    def _refuse_text(self, start: dt.date, end: dt.date) -> None:
        """An error naming the file, column, symbol, date and value of the first bar in start..end (by date,
        then symbol) whose price, volume or split coefficient is not a number (only a column that DuckDB
        typed as text can hold one)."""
        found = []
        for column in sorted(self._text):
            bad = self._query(f"SELECT filename, symbol, date, CAST({quoted(column)} AS VARCHAR) AS value FROM "
                              f"NAMED_SOURCE WHERE date >= ? AND date <= ? AND {quoted(column)} IS NOT NULL AND "
                              f"TRY_CAST({quoted(column)} AS DOUBLE) IS NULL ORDER BY date, symbol LIMIT 1",
                              [start, end])
            found += [(pd.Timestamp(row.date), str(row.symbol), column, row) for row in bad.itertuples()]
        if found:
            day, symbol, column, row = min(found, key=lambda f: f[:3])
            raise ValueError(f"market file {row.filename!r}, column {column!r}: {row.value!r} is not a number "
                             f"(symbol {symbol!r}, date {day:%Y-%m-%d})")

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        start, end = pd.Timestamp(start).date(), pd.Timestamp(end).date()
        self._refuse_text(start, end)
        casts = ", ".join(f"CAST({quoted(c)} AS DOUBLE) AS {quoted(c)}" if c in self._text else quoted(c)
                          for c in ("open", "high", "low", "close", "volume"))
        ratio = ("CAST(split_coefficient AS DOUBLE)" if "split_coefficient" in self._text else "split_coefficient") \
            if self._has_splits else "1.0"
        cash = "TRY_CAST(dividend_amount AS DOUBLE)" if self._has_dividends else "0.0"  # blank: none paid
        bars = self._query(
            f"SELECT date, symbol, {casts}, {ratio} AS split_ratio, {cash} AS dividend FROM SOURCE "
            "WHERE date >= ? AND date <= ?",
            [start, end],
        )
        bars["date"] = pd.to_datetime(bars["date"]).astype("datetime64[ns]")
        bars["volume"] = bars["volume"].astype(float)
        bars["split_ratio"] = bars["split_ratio"].astype(float).fillna(1.0)
        bars["dividend"] = bars["dividend"].astype(float).fillna(0.0)
        return bars[BAR_COLUMNS]

    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        return empty_fundamentals()
