"""Bring your own data: daily bars from a Parquet or CSV file (or a glob of them).

Columns: symbol, date, open, high, low, close, volume, and where present adjusted_close,
dividend_amount, split_coefficient (as in Alpha Vantage exports: raw prices, the split ratio on the
ex-date). `split_coefficient` becomes our `split_ratio`; without it every ratio is 1 and the prices
are taken as already adjusted. Sectors come from an optional CSV with Symbol and Sector columns (and
optionally Name); symbols without one are "Unknown". Security types come from a `type` column where
the file has one (case-insensitive: ETF, ETN, ETV or FUND -> ETF; STOCK, CS, ADRC or COMMON STOCK ->
stock, as Polygon names them; a symbol's latest non-blank value counts); otherwise, and for symbols
whose value is blank or not one of those, a symbol is an ETF on a day when it is on the known-fund
lists that day (known_etfs), or when its own bars up to that day trade like a fund's
(core.fund_evidence: near-cash, bond-like, index-like, inverse or leveraged); the rest are stocks.
Leveraged and inverse ETFs are those the lists name so and those whose bars show it. There are no
fundamentals, so value, quality and growth are neutral for every name. A symbol is listed from its
first bar to its last.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from technic_assets.core.fund_evidence import first_flagged, funds_as_of
from technic_assets.core.schema import BAR_COLUMNS, LISTING_COLUMNS, empty_fundamentals
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.known_etfs import etfs_on, listed_etfs

REQUIRED = ("symbol", "date", "open", "high", "low", "close", "volume")
TYPE_VALUES = {"etf": "ETF", "etn": "ETF", "etv": "ETF", "fund": "ETF",
               "stock": "stock", "cs": "stock", "adrc": "stock", "common stock": "stock"}


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
            return conn.execute(sql.replace("SOURCE", f"{self._reader}(?)"), [self.path, *params]).fetchdf()
        except duckdb.IOException as exc:
            reason = str(exc).strip().splitlines()[0]  # DuckDB adds the SQL and a caret on later lines
            raise ValueError(f"market file {self.path!r} cannot be read: {reason}") from None
        finally:
            conn.close()

    def _check(self) -> None:
        columns = set(self._query("SELECT * FROM SOURCE LIMIT 0", []).columns)
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
        ratio = "split_coefficient" if self._has_splits else "1.0"
        dividend = "dividend_amount" if self._has_dividends else "0.0"
        bars = self._query(f"SELECT date, symbol, high, low, close, volume, {ratio} AS split_ratio, "
                           f"{dividend} AS dividend FROM SOURCE WHERE trim(symbol) <> ''", [])
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
            behaves = shown["fund"].fillna(False).astype(bool).to_numpy()
            geared = shown["leveraged_or_inverse"].fillna(False).astype(bool).to_numpy()
        else:
            behaves = geared = False
        is_etf = (typed == "ETF") | (untyped & (out["symbol"].isin(etfs) | behaves))
        out["type"] = is_etf.map({True: "ETF", False: "stock"})
        out["sector"] = out["sector"].where(~is_etf, "ETF").fillna("Unknown")
        fund_names = out["symbol"].map(listed_etfs()["name"].replace("", None)).where(out["symbol"].isin(etfs))
        if "name" not in out.columns:
            out["name"] = None
        out["name"] = out["name"].fillna(fund_names).fillna(out["symbol"])
        out["exchange"] = "unknown"
        out["is_leveraged"] = is_etf & (out["symbol"].isin(leveraged) | geared)
        out["delisted"] = pd.NaT
        return out[LISTING_COLUMNS].sort_values("symbol").reset_index(drop=True)

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        ratio = "split_coefficient" if self._has_splits else "1.0"
        bars = self._query(
            f"SELECT date, symbol, open, high, low, close, volume, {ratio} AS split_ratio "
            "FROM SOURCE WHERE date >= ? AND date <= ?",
            [pd.Timestamp(start).date(), pd.Timestamp(end).date()],
        )
        bars["date"] = pd.to_datetime(bars["date"]).astype("datetime64[ns]")
        bars["volume"] = bars["volume"].astype(float)
        bars["split_ratio"] = bars["split_ratio"].astype(float).fillna(1.0)
        return bars[BAR_COLUMNS]

    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        return empty_fundamentals()
