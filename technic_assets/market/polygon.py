"""Polygon.io (also called Massive): the whole market a day at a time.

  bars        grouped daily aggregates, unadjusted (/v2/aggs/grouped/locale/us/market/stocks/{date}):
              one request per session for every symbol, several in flight
  splits      /v3/reference/splits over the range, giving each ex-date's ratio (split_to/split_from),
              so stored bars stay as traded and are adjusted as of the scan date when read
  dividends   /v3/reference/dividends over the range (paginated), each regular cash dividend (type CD,
              in USD) on its ex-date's bar; specials (SC) and capital-gain distributions (LT, ST) are
              left out. A plan without them (HTTP 403, or 404) stores the bars as paying none, said
              once as a warning: the track record's returns over those days are then price returns
  listings    /v3/reference/tickers as of the day (paginated), CS/ADRC as stocks, ETF/ETN/ETV and FUND
              (closed-end funds) as ETFs, and a CS/ADRC whose name names a fund (known_etfs.fund_by_name);
              sectors from TECHNIC_SECTOR_MAP when given, else from each ticker's SIC code
              (/v3/reference/tickers/{ticker}), asked only for symbols the store does not know yet,
              the most liquid first and at most `sector_lookups` a run (the rest stay "Unknown" and
              are asked on later runs): on a 5-a-minute plan a first scan is its bar requests, not
              5,000 lookups. A plan without ticker details (403) leaves every new stock "Unknown"
  filings     /vX/reference/financials by filing date (paginated), turned into point-in-time
              fundamentals by core.fundamentals; the fundamentals asset keeps them in the store so
              each filing day is fetched once. A plan without financials (HTTP 403, or 404) gives
              `DatasetUnavailable`: no fundamentals, said once as a warning, never a failed scan
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import numpy as np
import pandas as pd

from technic_assets.core.calendar import sessions
from technic_assets.core.fundamentals import FILING_COLUMNS, FILINGS_DAYS, point_in_time
from technic_assets.core.schema import BAR_COLUMNS, LISTING_COLUMNS, empty_fundamentals
from technic_assets.market.base import (
    DatasetUnavailable,
    Degradations,
    MarketDataProvider,
    ProviderError,
    no_fundamentals,
)
from technic_assets.market.http import HttpClient
from technic_assets.market.known_etfs import LEVERAGED_ETFS, fund_by_name
from technic_assets.market.sic import sector_for_sic

DEFAULT_BASE_URL = "https://api.polygon.io"
STOCK_TYPES = {"CS", "ADRC"}
ETF_TYPES = {"ETF", "ETN", "ETV", "FUND"}
LEVERAGE_WORDS = ("2X", "3X", "ULTRA", "BEAR", "INVERSE", "SHORT", "-1X", "LEVERAGED")
# HttpClient's ProviderError carries the status only in its message ("...: HTTP 403: ..."); 401 is the
# key itself refused, which fails the run, while 403 (not entitled) and 404 (no such dataset) are the plan
UNAVAILABLE = re.compile(r": HTTP (403|404)\b")


class PolygonMarket(MarketDataProvider):
    name = "polygon"
    provides_filings = True

    def __init__(self, client: HttpClient, *, workers: int = 8, sector_map: str | None = None,
                 sector_lookups: int | None = None):
        self.client = client
        self.workers = workers
        self.sector_map = sector_map
        self.sector_lookups = sector_lookups  # most ticker-detail requests a run; None: no cap
        self._reported = 0
        self._degraded = Degradations()  # of this source itself, reported after the cache's
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PolygonMarket({self.client.base_url!r})"

    # -- bars -------------------------------------------------------------------------------------
    def cache_stats(self) -> dict[str, int]:
        return self.client.stats.as_dict()

    def new_warnings(self) -> list[str]:
        with self._lock:
            fresh = self.client.cache.warnings[self._reported:] if self.client.cache else []
            self._reported += len(fresh)
        return fresh + self._degraded.report()

    def latest_session(self, now: pd.Timestamp) -> str:
        """The latest closed session whose grouped bars are published (one request), else the one before."""
        from technic_assets.core.calendar import latest_closed_session, nyse

        candidate = pd.Timestamp(latest_closed_session(now))
        try:
            self.grouped_daily(candidate)
        except ProviderError as exc:
            if "no data" not in str(exc):
                raise
            candidate = nyse().previous_session(candidate)
        return candidate.strftime("%Y-%m-%d")

    def grouped_daily(self, day: pd.Timestamp) -> pd.DataFrame:
        key = day.strftime("%Y-%m-%d")
        body = self.client.get(f"/v2/aggs/grouped/locale/us/market/stocks/{key}", {"adjusted": "false"},
                               what=f"grouped daily bars for {key}")
        results = body.get("results") if isinstance(body, dict) else None
        if not results:
            raise ProviderError(
                f"grouped daily bars for {key}: no data (resultsCount {body.get('resultsCount', 0) if isinstance(body, dict) else '?'}); "
                "the session may not be published yet")
        try:  # columns straight from the records into numpy: much faster than a DataFrame of dicts
            symbol = np.array([r["T"] for r in results], dtype=object)
            prices = {f: np.array([r[f] for r in results], dtype=float) for f in ("o", "h", "l", "c")}
            volume = np.array([r.get("v", 0.0) for r in results], dtype=float)
        except (KeyError, TypeError, ValueError):
            raise ProviderError(f"grouped daily bars for {key}: malformed results (each needs T, o, h, l, c)") from None
        return pd.DataFrame({"date": np.full(len(symbol), day.to_datetime64()), "symbol": symbol,
                             "open": prices["o"], "high": prices["h"], "low": prices["l"], "close": prices["c"],
                             "volume": volume, "split_ratio": np.ones(len(symbol)), "dividend": np.zeros(len(symbol))},
                            copy=False)

    def splits(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Each ex-date's ratio. Not degradable: without ex-dates a split would be scanned as a crash,
        so a plan that refuses them fails the run, saying so."""
        what = f"splits {start:%Y-%m-%d}..{end:%Y-%m-%d}"
        try:
            rows = list(self.client.paginate(
                "/v3/reference/splits",
                {"execution_date.gte": start.strftime("%Y-%m-%d"), "execution_date.lte": end.strftime("%Y-%m-%d"),
                 "limit": 1000},
                what=what))
        except ProviderError as exc:
            if UNAVAILABLE.search(str(exc)):
                raise ProviderError(f"{exc}. Technic does not scan without split ex-dates (a split would be ranked "
                                    "as a crash): use a key whose plan includes reference data") from None
            raise
        out = pd.DataFrame([{"date": pd.Timestamp(r["execution_date"]), "symbol": r["ticker"],
                             "ratio": float(r["split_to"]) / float(r["split_from"])} for r in rows
                            if r.get("split_from") and r.get("split_to")])
        return out if not out.empty else pd.DataFrame(columns=["date", "symbol", "ratio"])

    def dividends(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Each ex-date's regular cash dividends in USD (date, symbol, amount per share, summed where a
        symbol has two), one listing over the range; DatasetUnavailable when the plan lacks them."""
        try:
            rows = list(self.client.paginate(
                "/v3/reference/dividends",
                {"ex_dividend_date.gte": f"{start:%Y-%m-%d}", "ex_dividend_date.lte": f"{end:%Y-%m-%d}",
                 "limit": 1000},
                what=f"dividends {start:%Y-%m-%d}..{end:%Y-%m-%d}"))
        except ProviderError as exc:
            if UNAVAILABLE.search(str(exc)):
                raise DatasetUnavailable(str(exc)) from None
            raise
        paid = [(pd.Timestamp(r["ex_dividend_date"]), r["ticker"], float(r["cash_amount"])) for r in rows
                if r.get("dividend_type") == "CD" and (r.get("currency") or "USD") == "USD"
                and r.get("ex_dividend_date") and r.get("ticker") and r.get("cash_amount")]
        out = pd.DataFrame(paid, columns=["date", "symbol", "amount"])
        return out.groupby(["date", "symbol"], as_index=False)["amount"].sum()

    def _dividends_or_none(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        try:
            return self.dividends(start, end)
        except DatasetUnavailable as exc:
            self._degraded.note("dividends", f"{exc}: the bars fetched now are stored as paying no dividends, "
                                "so the track record's returns over them are price returns")
            return pd.DataFrame(columns=["date", "symbol", "amount"])

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        return self.bars_for_sessions(list(sessions(start, end)))

    def bars_for_sessions(self, days: list[pd.Timestamp]) -> pd.DataFrame:
        """One grouped-daily request per session (several in flight), one for the splits and one for
        the dividends (and their further pages)."""
        days = sorted(pd.Timestamp(d) for d in days)
        if not days:
            return pd.DataFrame(columns=BAR_COLUMNS)
        splits = self.splits(days[0], days[-1])
        by_day = {day: group.set_index("symbol")["ratio"] for day, group in splits.groupby("date")}
        dividends = self._dividends_or_none(days[0], days[-1])
        cash_by_day = {day: group.set_index("symbol")["amount"] for day, group in dividends.groupby("date")}

        def one_day(day: pd.Timestamp) -> pd.DataFrame:
            frame = self.grouped_daily(day)
            if day in by_day:  # the few ex-dates: put each ratio on its symbol's bar
                ratios = by_day[day].reindex(frame["symbol"]).to_numpy()
                frame["split_ratio"] = np.where(np.isnan(ratios), 1.0, ratios)
            if day in cash_by_day:
                cash = cash_by_day[day].reindex(frame["symbol"]).to_numpy(float)
                frame["dividend"] = np.where(np.isnan(cash), 0.0, cash)
            return frame

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            frames = list(pool.map(one_day, days))
        return pd.concat(frames, ignore_index=True)[BAR_COLUMNS]

    # -- listings ---------------------------------------------------------------------------------
    @property
    def rations_sector_lookups(self) -> bool:
        return not self.sector_map and self.sector_lookups is not None

    def listings(self, day: dt.date, known_sectors: dict[str, str] | None = None,
                 priority: list[str] | None = None) -> pd.DataFrame:
        day = pd.Timestamp(day)
        rows = list(self.client.paginate(
            "/v3/reference/tickers", {"market": "stocks", "date": day.strftime("%Y-%m-%d"), "active": "true",
                                      "limit": 1000, "sort": "ticker", "order": "asc"},
            what=f"tickers as of {day:%Y-%m-%d}"))
        frame = pd.DataFrame(rows)
        if frame.empty:
            raise ProviderError(f"tickers as of {day:%Y-%m-%d}: no listings returned")
        frame = frame[frame["type"].isin(STOCK_TYPES | ETF_TYPES)]
        names = frame.get("name", frame["ticker"]).fillna(frame["ticker"]).astype(str)
        is_etf = frame["type"].isin(ETF_TYPES) | names.map(fund_by_name)
        leveraged = is_etf & (frame["ticker"].isin(LEVERAGED_ETFS)
                              | names.str.upper().str.contains("|".join(LEVERAGE_WORDS), regex=True))
        out = pd.DataFrame({
            "symbol": frame["ticker"], "name": names, "type": is_etf.map({True: "ETF", False: "stock"}),
            "exchange": frame.get("primary_exchange", "unknown"), "is_leveraged": leveraged,
            "listed": pd.NaT, "delisted": pd.NaT,
        })
        out["sector"] = self._sectors(out, known_sectors or {}, priority or [])
        return out[LISTING_COLUMNS].reset_index(drop=True)

    def _sectors(self, listings: pd.DataFrame, known: dict[str, str], priority: list[str]) -> pd.Series:
        sectors = pd.Series("Unknown", index=listings.index, dtype=object)
        sectors[listings["type"] == "ETF"] = "ETF"
        stocks = listings.index[listings["type"] == "stock"]
        if self.sector_map:
            table = pd.read_csv(self.sector_map).set_index("Symbol")["Sector"]
            sectors[stocks] = listings.loc[stocks, "symbol"].map(table).fillna("Unknown")
            return sectors

        refused = threading.Event()  # the plan lacks ticker details: stop asking

        def one(symbol: str) -> str:
            if refused.is_set():
                return "Unknown"
            try:
                body = self.client.get(f"/v3/reference/tickers/{quote(symbol, safe='')}", {},
                                       what=f"ticker details {symbol}")
            except ProviderError as exc:
                if ": HTTP 403" in str(exc):
                    refused.set()
                    self._degraded.note("ticker details", "ticker details: the plan is not entitled to them (HTTP 403): stocks without a "
                               "stored sector stay 'Unknown' (set TECHNIC_SECTOR_MAP to a CSV of Symbol,Sector)")
                return "Unknown"  # 404: a ticker Polygon has no details for
            return sector_for_sic(((body.get("results") if isinstance(body, dict) else None) or {}).get("sic_code"))

        symbols = listings.loc[stocks, "symbol"]
        sectors[stocks] = symbols.map(known).fillna("Unknown")
        unknown = symbols[~symbols.isin(known)]
        rank = {s: i for i, s in enumerate(priority)}  # the most liquid first, then the rest by ticker
        ask = unknown.iloc[np.lexsort((unknown.to_numpy(), unknown.map(rank).fillna(len(rank)).to_numpy()))]
        if self.sector_lookups is not None and len(ask) > self.sector_lookups:
            self._degraded.note("sector lookups", f"sectors: {len(ask) - self.sector_lookups:,} of {len(ask):,} stocks without a stored sector "
                       f"are 'Unknown' until a later run (at most {self.sector_lookups:,} ticker-detail requests a "
                       "run, the most liquid first; TECHNIC_POLYGON_SECTOR_LOOKUPS, or TECHNIC_SECTOR_MAP to skip them)")
            ask = ask.iloc[: self.sector_lookups]
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            sectors[ask.index] = list(pool.map(one, ask))
        return sectors

    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        """From filings, as the fundamentals asset does with the store in between (that path
        fetches each filing day once); this one asks for the whole year and a quarter each call."""
        day = pd.Timestamp(as_of)
        try:
            filings = self.filings(day - pd.Timedelta(days=FILINGS_DAYS), day)
        except DatasetUnavailable as exc:
            self._degraded.note("financials", no_fundamentals(str(exc)))
            return empty_fundamentals()
        return point_in_time(filings, day) if len(filings) else empty_fundamentals()

    def filings(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Quarterly financials filed from start to end inclusive, one row per ticker (FILING_COLUMNS);
        none when the answer is empty (`results` missing, null or []), DatasetUnavailable when the
        plan lacks the endpoint (HTTP 403 or 404)."""
        s, e = pd.Timestamp(start), pd.Timestamp(end)
        try:
            results = list(self.client.paginate(
                "/vX/reference/financials",
                {"filing_date.gte": f"{s:%Y-%m-%d}", "filing_date.lte": f"{e:%Y-%m-%d}", "timeframe": "quarterly",
                 "limit": 100, "sort": "filing_date", "order": "asc"},
                what=f"financials filed {s:%Y-%m-%d}..{e:%Y-%m-%d}"))
        except ProviderError as exc:
            if UNAVAILABLE.search(str(exc)):
                raise DatasetUnavailable(str(exc)) from None
            raise
        rows = []
        for r in results:
            statements = r.get("financials") or {}
            income, balance = statements.get("income_statement") or {}, statements.get("balance_sheet") or {}

            def value(section: dict, name: str) -> float:
                item = section.get(name) or {}
                return float(item["value"]) if item.get("value") is not None else np.nan

            values = (value(income, "diluted_earnings_per_share"), value(income, "basic_earnings_per_share"),
                      value(income, "revenues"), value(income, "net_income_loss"), value(balance, "equity"),
                      value(balance, "liabilities"))
            for ticker in r.get("tickers") or []:  # a filing without tickers cannot be placed
                rows.append((ticker, pd.Timestamp(r["end_date"]), pd.Timestamp(r["filing_date"]), *values))
        return pd.DataFrame(rows, columns=FILING_COLUMNS)

