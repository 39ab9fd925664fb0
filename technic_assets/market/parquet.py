"""Bring your own data: daily bars from a Parquet or CSV file (or a glob of them).

Columns: symbol, date, open, high, low, close, volume, and where present adjusted_close,
dividend_amount, split_coefficient (as in Alpha Vantage exports: raw prices, the split ratio and the
cash dividend per share on the ex-date). `split_coefficient` becomes our `split_ratio`; without it every
ratio is 1 and the prices are taken as already adjusted. `dividend_amount` becomes our `dividend`
(blank: 0); without it no dividend is known and the track record's returns are price returns. Sectors come from an optional CSV with Symbol and Sector columns (and
optionally Name); symbols without one are "Unknown". Security types come from a `type` column where
the file has one (case-insensitive: ETF, ETN, ETV or FUND -> ETF; STOCK, CS, ADRC or COMMON STOCK ->
stock, as Polygon names them; a symbol's latest non-blank value counts); otherwise, and for symbols
whose value is blank or not one of those, symbols on the known-ETF lists (known_etfs) are ETFs and
the rest stocks. Leveraged and inverse ETFs are those on the known list. There are no fundamentals, so value, quality and growth
are neutral for every name. A symbol is listed from its first bar to its last.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path

import duckdb
import pandas as pd

from technic_assets.core.schema import BAR_COLUMNS, LISTING_COLUMNS, empty_fundamentals
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.known_etfs import LEVERAGED_ETFS, PLAIN_ETFS

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
        listed_etf = out["symbol"].isin(PLAIN_ETFS | LEVERAGED_ETFS)
        typed = out["symbol"].map(self._types)
        is_etf = (typed == "ETF") | (typed.isna() & listed_etf)
        out["type"] = is_etf.map({True: "ETF", False: "stock"})
        out["sector"] = out["sector"].where(~is_etf, "ETF").fillna("Unknown")
        out["name"] = out["name"].fillna(out["symbol"]) if "name" in out.columns else out["symbol"]
        out["exchange"] = "unknown"
        out["is_leveraged"] = is_etf & out["symbol"].isin(LEVERAGED_ETFS)
        out["delisted"] = pd.NaT
        return out[LISTING_COLUMNS].sort_values("symbol").reset_index(drop=True)

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        ratio = "split_coefficient" if self._has_splits else "1.0"
        cash = "dividend_amount" if self._has_dividends else "0.0"
        bars = self._query(
            f"SELECT date, symbol, open, high, low, close, volume, {ratio} AS split_ratio, {cash} AS dividend "
            "FROM SOURCE WHERE date >= ? AND date <= ?",
            [pd.Timestamp(start).date(), pd.Timestamp(end).date()],
        )
        bars["date"] = pd.to_datetime(bars["date"]).astype("datetime64[ns]")
        bars["volume"] = bars["volume"].astype(float)
        bars["split_ratio"] = bars["split_ratio"].astype(float).fillna(1.0)
        bars["dividend"] = bars["dividend"].astype(float).fillna(0.0)
        return bars[BAR_COLUMNS]

    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        return empty_fundamentals()
