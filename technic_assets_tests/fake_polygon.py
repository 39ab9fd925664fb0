"""A fake Polygon server on loopback, serving the real API's JSON shapes from any of our market sources.

Shapes follow ../shared/data/polygon/mocks (grouped daily, reference tickers with next_url pagination,
ticker details, splits, dividends, financials). Dividends are the market's own (its bars' `dividend`,
as regular USD cash dividends), or `dividend_records` where a test sets them (records in the API's
shape, served filtered by ex-date and paged like the tickers). Faults can be queued: an HTTP status (with Retry-After), a slow
answer (real seconds: a hang is for a real socket timeout), a malformed body, or a pagination cursor
that never ends; or a timeline of them (`outage`), timed by the server's clock: `clock` when set, else
the HTTP client's default (`technic_assets.market.http.CLOCK`), so a test that swaps in a virtual
clock moves the client and the server together. Every request is recorded. Plans that lack a
dataset are switches: `financials` answers "empty" (results []), "null" (results null), 403 or 404
instead of filings, a ticker in `missing_details` answers 404 on its details, and every path under a
prefix in `not_entitled` answers 403 as Polygon does for a plan without the dataset. `rate_limit`
answers 429, with Retry-After, beyond that many requests in any 60 s, as the free tier does.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import pandas as pd

from technic_assets.market import http
from technic_assets.market.base import MarketDataProvider
from technic_assets.market.synthetic import SyntheticMarket, _fundamentals

SECTOR_SIC = {
    "Information Technology": "3571", "Financials": "6021", "Health Care": "2834",
    "Consumer Discretionary": "5651", "Industrials": "3560", "Communication Services": "4813",
    "Energy": "1311", "Consumer Staples": "2080", "Materials": "2810", "Real Estate": "6798",
    "Utilities": "4911",
}


class FakePolygon:
    def __init__(self, market: MarketDataProvider, *, api_key: str = "test-key-123", latency: float = 0.0,
                 page_size: int = 1000):
        self.market, self.api_key, self.latency, self.page_size = market, api_key, latency, page_size
        self.faults: deque[dict] = deque()  # one per request, in order
        self.timeline: list[tuple[float, dict]] = []  # (until, fault): every request until then
        self.requests: list[str] = []
        self.endless_cursor = False
        self.financials: str | int | None = None  # None: the filings; "empty", "null", 403 or 404
        self.missing_details: set[str] = set()  # tickers whose details answer 404
        self.not_entitled: set[str] = set()  # path prefixes that answer 403 (e.g. "/v3/reference/tickers/")
        self.rate_limit = 0  # requests in any 60 s before a 429; 0: none
        self.dividend_records: list[dict] | None = None  # None: the market's own dividends
        self.rejected = 0  # 429s answered for the rate limit
        self._served: deque[float] = deque()  # when each request inside the rate window was served
        self.clock = None  # None: technic_assets.market.http.CLOCK, read at each request
        self._lock = threading.Lock()
        self._days: dict[str, bytes] = {}
        self._bars: pd.DataFrame | None = None
        self._sector_of: dict[str, str] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "FakePolygon":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def now(self) -> float:
        return (self.clock if self.clock is not None else http.CLOCK).monotonic()

    def outage(self, *phases: tuple[float, dict]) -> None:
        """From now on, (seconds, fault) after each other: every request in a phase gets its fault."""
        until = self.now()
        self.timeline = []
        for seconds, fault in phases:
            until += seconds
            self.timeline.append((until, fault))

    def preload(self, start, end) -> None:
        """Build every session's grouped-daily body up front, so serving costs only the latency."""
        bars = self.market.daily_bars(pd.Timestamp(start), pd.Timestamp(end))
        self._bars = bars
        for day, group in bars.groupby("date"):
            self._days[day.strftime("%Y-%m-%d")] = self._grouped_body(group)

    def _over_rate(self, now: float) -> dict | None:
        """A 429 with the seconds until a place frees up, when `rate_limit` requests came in the last 60 s."""
        while self._served and now - self._served[0] >= 60.0:
            self._served.popleft()
        if len(self._served) >= self.rate_limit:
            self.rejected += 1
            return {"status": 429, "retry_after": int(60.0 - (now - self._served[0])) + 1}
        self._served.append(now)
        return None

    # -- bodies -----------------------------------------------------------------------------------
    @staticmethod
    def _grouped_body(group: pd.DataFrame) -> bytes:
        t = int(pd.Timestamp(group["date"].iloc[0]).tz_localize("America/New_York").timestamp() * 1000) if len(group) else 0
        results = [{"T": s, "v": v, "vw": c, "o": o, "c": c, "h": h, "l": l, "t": t, "n": 1}
                   for s, o, h, l, c, v in zip(group["symbol"], group["open"], group["high"], group["low"],
                                               group["close"], group["volume"])]
        return json.dumps({"queryCount": len(results), "resultsCount": len(results), "adjusted": False,
                           "results": results, "status": "OK", "request_id": "fake", "count": len(results)}).encode()

    def _bars_between(self, start: str, end: str) -> pd.DataFrame:
        if self._bars is not None and len(self._bars) and self._bars["date"].min() <= pd.Timestamp(start) \
                and self._bars["date"].max() >= pd.Timestamp(end):
            b = self._bars
            return b[(b["date"] >= start) & (b["date"] <= end)]
        try:
            return self.market.daily_bars(pd.Timestamp(start), pd.Timestamp(end))
        except ValueError:  # outside what the source has: an empty answer, as Polygon gives
            return pd.DataFrame(columns=["date", "symbol", "open", "high", "low", "close", "volume", "split_ratio",
                                         "dividend"])

    def route(self, path: str, query: dict[str, str]) -> tuple[int, bytes]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if any(path.startswith(prefix) for prefix in self.not_entitled):
            return 403, json.dumps({"status": "NOT_AUTHORIZED", "request_id": "fake",
                                    "message": "You are not entitled to this data. Please upgrade your plan."}).encode()
        if path.startswith("/v2/aggs/grouped/locale/us/market/stocks/"):
            day = parts[-1]
            if day not in self._days:
                group = self._bars_between(day, day)
                if group.empty:
                    return 200, json.dumps({"queryCount": 0, "resultsCount": 0, "adjusted": False,
                                            "status": "OK", "request_id": "fake"}).encode()
                self._days[day] = self._grouped_body(group)
            return 200, self._days[day]
        if path == "/v3/reference/splits":
            bars = self._bars_between(query["execution_date.gte"], query["execution_date.lte"])
            splits = bars[bars["split_ratio"] != 1.0]
            results = [{"execution_date": d.strftime("%Y-%m-%d"), "ticker": s,
                        "split_from": 1 if r >= 1 else round(1 / r), "split_to": r if r >= 1 else 1}
                       for d, s, r in zip(splits["date"], splits["symbol"], splits["split_ratio"])]
            return 200, json.dumps({"results": results, "status": "OK", "request_id": "fake"}).encode()
        if path == "/v3/reference/dividends":
            return 200, json.dumps(self._dividends_page(query)).encode()
        if path == "/v3/reference/tickers":
            listings = self.market.listings(pd.Timestamp(query["date"])).sort_values("symbol")
            self._sector_of.update(zip(listings["symbol"], listings["sector"]))
            offset = int(query.get("cursor", "0"))
            size = min(int(query.get("limit", self.page_size)), self.page_size)  # a server may page smaller
            page = listings.iloc[offset: offset + size]
            results = [{"ticker": r.symbol, "name": r.name, "market": "stocks", "locale": "us",
                        "primary_exchange": "XNYS", "active": True,
                        "type": r.polygon_type if isinstance(getattr(r, "polygon_type", None), str)
                        else "ETF" if r.type == "ETF" else "CS"}  # a market may say Polygon's own type
                       for r in page.itertuples()]
            body = {"results": results, "status": "OK", "request_id": "fake", "count": len(results)}
            nxt = offset + len(page)
            if self.endless_cursor:
                body["next_url"] = f"{self.base_url}/v3/reference/tickers?cursor={offset + 1}&date={query['date']}"
            elif nxt < len(listings):
                body["next_url"] = f"{self.base_url}/v3/reference/tickers?cursor={nxt}&date={query['date']}&limit={size}"
            return 200, json.dumps(body).encode()
        if path == "/vX/reference/financials" and self.financials is not None:
            return self._no_financials()
        if path == "/vX/reference/financials":
            filings = filings_filed(self.market, pd.Timestamp(query["filing_date.gte"]),
                                    pd.Timestamp(query["filing_date.lte"]))
            filings = filings.sort_values(["published", "symbol"])
            offset, size = int(query.get("cursor", "0")), int(query.get("limit", 100))
            page = filings.iloc[offset: offset + size]
            results = [{
                "tickers": [r.symbol], "start_date": "", "end_date": f"{r.period_end:%Y-%m-%d}",
                "filing_date": f"{r.published:%Y-%m-%d}", "timeframe": "quarterly",
                "financials": {
                    "income_statement": {"diluted_earnings_per_share": {"value": r.eps_diluted},
                                         "basic_earnings_per_share": {"value": r.eps_basic},
                                         "revenues": {"value": r.revenues}, "net_income_loss": {"value": r.net_income}},
                    "balance_sheet": {"equity": {"value": r.equity}, "liabilities": {"value": r.liabilities}},
                }} for r in page.itertuples()]
            body = {"results": results, "status": "OK", "request_id": "fake", "count": len(results)}
            if offset + size < len(filings):
                body["next_url"] = (f"{self.base_url}/vX/reference/financials?cursor={offset + size}&limit={size}"
                                    f"&filing_date.gte={query['filing_date.gte']}&filing_date.lte={query['filing_date.lte']}")
            return 200, json.dumps(body).encode()
        if path.startswith("/v3/reference/tickers/"):
            if parts[-1] in self.missing_details:
                return 404, json.dumps({"status": "NOT_FOUND", "request_id": "fake",
                                        "message": "Ticker not found."}).encode()
            sector = self._sector_of.get(parts[-1], "Unknown")
            return 200, json.dumps({"results": {"ticker": parts[-1], "sic_code": SECTOR_SIC.get(sector)},
                                    "status": "OK"}).encode()
        return 404, b'{"status": "NOT_FOUND"}'

    def _dividends_page(self, query: dict[str, str]) -> dict:
        """One page of the dividends with ex-dates in the asked range, next_url to the next."""
        lo, hi = query["ex_dividend_date.gte"], query["ex_dividend_date.lte"]
        if self.dividend_records is not None:
            records = [r for r in self.dividend_records if lo <= r["ex_dividend_date"] <= hi]
        else:
            bars = self._bars_between(lo, hi)
            paid = bars[bars["dividend"] > 0] if "dividend" in bars.columns else bars.iloc[:0]
            records = [{"cash_amount": a, "currency": "USD", "declaration_date": f"{d - pd.Timedelta(days=30):%Y-%m-%d}",
                        "dividend_type": "CD", "ex_dividend_date": f"{d:%Y-%m-%d}", "frequency": 4,
                        "pay_date": f"{d + pd.Timedelta(days=14):%Y-%m-%d}",
                        "record_date": f"{d + pd.Timedelta(days=1):%Y-%m-%d}", "ticker": s}
                       for d, s, a in zip(paid["date"], paid["symbol"], paid["dividend"])]
        offset = int(query.get("cursor", "0"))
        size = min(int(query.get("limit", self.page_size)), self.page_size)
        body = {"results": records[offset: offset + size], "status": "OK", "request_id": "fake"}
        if offset + size < len(records):
            body["next_url"] = (f"{self.base_url}/v3/reference/dividends?cursor={offset + size}&limit={size}"
                                f"&ex_dividend_date.gte={lo}&ex_dividend_date.lte={hi}")
        return body

    def _no_financials(self) -> tuple[int, bytes]:
        """What a plan without financials answers, as `financials` says."""
        if self.financials == 403:
            return 403, json.dumps({"status": "NOT_AUTHORIZED", "request_id": "fake",
                                    "message": "You are not entitled to this data. Please upgrade your plan."}).encode()
        if self.financials == 404:
            return 404, b'{"status": "NOT_FOUND", "request_id": "fake"}'
        results = None if self.financials == "null" else []
        return 200, json.dumps({"results": results, "status": "OK", "request_id": "fake", "count": 0}).encode()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                with fake._lock:
                    fake.requests.append(split.path)
                    fault = fake.faults.popleft() if fake.faults else None
                    now = fake.now()
                    fault = fault or next((f for until, f in fake.timeline if now < until), None)
                    if fault is None and fake.rate_limit:
                        fault = fake._over_rate(now)
                if fake.latency:
                    time.sleep(fake.latency)
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    return self._send(401, b'{"status": "ERROR", "error": "Unknown API Key"}')
                if fault:
                    if "sleep" in fault:
                        time.sleep(fault["sleep"])
                    if fault.get("malformed"):
                        return self._send(200, b'{"results": [ {"T": "AAA", ')
                    if "status" in fault:
                        headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
                        return self._send(fault["status"], b'{"status": "ERROR"}', headers)
                status, body = fake.route(split.path, query)
                self._send(status, body)

            def _send(self, status: int, body: bytes, headers: dict | None = None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler


def filings_filed(market: SyntheticMarket, start, end) -> pd.DataFrame:
    """The built-in market's quarterly reports filed start..end as raw filings
    (core.fundamentals.FILING_COLUMNS), with 100M shares each: what Polygon's financials serve."""
    f = _fundamentals(market.seed, market.n_stocks)
    table = f["table"]
    lo = np.datetime64(pd.Timestamp(start).date(), "D").astype(np.int64)
    hi = np.datetime64(pd.Timestamp(end).date(), "D").astype(np.int64)
    q, i = np.nonzero((table[:, :, 1] >= lo) & (table[:, :, 1] <= hi))
    shares = 1e8
    eps_q = table[q, i, 2] / 4
    equity = table[q, i, 3] * shares
    return pd.DataFrame({
        "symbol": f["symbols"][i],
        "period_end": pd.to_datetime(table[q, i, 0].astype("int64"), unit="D"),
        "published": pd.to_datetime(table[q, i, 1].astype("int64"), unit="D"),
        "eps_diluted": eps_q, "eps_basic": eps_q,
        "revenues": eps_q * shares * 8 * (1 + table[q, i, 6]),
        "net_income": eps_q * shares, "equity": equity, "liabilities": table[q, i, 5] * equity,
    })


@contextmanager
def serving(market: MarketDataProvider, api_key: str, end) -> Iterator[FakePolygon]:
    """A fake Polygon on loopback with every session from the first partition to `end` preloaded."""
    from technic_assets.partitions import build_partitions

    with FakePolygon(market, api_key=api_key) as fake:
        fake.preload(build_partitions().get_first_partition_key(), end)
        yield fake


def serve_in_subprocess(market_factory, start, end, **kwargs):
    """Run a preloaded FakePolygon in a child process (so it does not share the client's GIL).

    Returns (base_url, stop); `market_factory` is called in the child to build the market.
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, stop_event = ctx.Queue(), ctx.Event()

    def child():
        with FakePolygon(market_factory(), **kwargs) as fake:
            fake.preload(start, end)
            ready.put(fake.base_url)
            stop_event.wait()

    proc = ctx.Process(target=child, daemon=True)
    proc.start()
    base_url = ready.get(timeout=600)

    def stop():
        stop_event.set()
        proc.join(timeout=10)

    return base_url, stop
