"""The store as a cache in front of a data source, with the source's own interface.

Like qlib's DatasetCache over its provider: the assets ask a `StoredMarket` for listings, bars and
point-in-time fundamentals, and it answers from the store where it can and falls through to the source
where it cannot, keeping what it fetched:
- bars: the sessions the store lacks are fetched in one request set, cleaned, and stored atomically
  (`fill`); the caller records each as a materialization of its own price_bars partition;
- sectors: the latest stored universe's, so a source that looks sectors up one symbol at a time
  asks once per symbol, ever, and the most liquid first (a free plan's budget goes to the symbols
  that can rank);
- fundamentals: a source that serves raw filings (Polygon) has them kept in the store, each filing
  day fetched once, and point-in-time reports built from them; other sources give reports directly.
  A plan without filings (the source raises DatasetUnavailable) or a span without any gives no
  reports: value, quality and growth then score neutral, and the step's metadata and log say why,
  once per endpoint; days the plan refused are not recorded as fetched, so an upgrade fills them.
This is the one place that writes a table outside the I/O manager.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

from technic_assets.core.cleaning import RULES, clean_bars
from technic_assets.core.fundamentals import FILING_COLUMNS, FILINGS_DAYS, point_in_time, report_history
from technic_assets.core.schema import BAR_COLUMNS, empty_fundamentals, empty_reports
from technic_assets.core.universe_filter import FilterSettings
from technic_assets.market.base import DatasetUnavailable, Degradations, MarketDataProvider, no_fundamentals
from technic_assets.storage.history import History

FILINGS_SETTLE_DAYS = 3  # late filings for the last few days may still arrive: asked again each run
LIQUIDITY_SESSIONS = 20  # as the filter's average dollar volume
LIQUIDITY_DAYS = 45  # calendar days that hold them


@dataclass
class Fill:
    """What `StoredMarket.fill` did: the sessions fetched from the source, those it stored (with
    their rows), the cleaning counts, and the bars of the `returned` sessions."""

    fetched: list[pd.Timestamp] = field(default_factory=list)
    stored: list[pd.Timestamp] = field(default_factory=list)
    rows: dict[pd.Timestamp, int] = field(default_factory=dict)
    cleaning: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RULES, 0))
    returned: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BAR_COLUMNS))


class StoredMarket(MarketDataProvider):
    """`source` with the store `history` in front of it."""

    def __init__(self, source: MarketDataProvider, history: History):
        self.source, self.history = source, history
        self.name = source.name
        self._sectors: dict[str, str] | None = None
        self.filing_days_fetched = 0
        self._degraded = Degradations()

    def __repr__(self) -> str:
        return f"StoredMarket({self.source!r}, {self.history.path!r})"

    # -- bars ------------------------------------------------------------------------------------
    def fill(self, sessions: list[pd.Timestamp], *, returned: list[pd.Timestamp] = (),
             reread: list[pd.Timestamp] = ()) -> Fill:
        """Fetch every session of `sessions` the store lacks, clean them, and store them, except the
        `returned` ones, which come back in `Fill.returned` for the caller to store (through the I/O
        manager: its own partitions) whether stored before or not. The `reread` ones (some of `returned`)
        are fetched from the source even where the store has them (`technic scan --replace-bars`)."""
        if not set(reread) <= set(returned):  # the caller checks what comes back before it replaces a day
            raise ValueError("fill: the sessions to read again must be among those returned")
        sessions = sorted(set(sessions) | set(returned))
        if not sessions:
            return Fill()
        present = self.history.dates_present("price_bars", sessions[0], sessions[-1]) - set(reread)
        missing = [d for d in sessions if d not in present]
        out = Fill(fetched=missing)
        if missing:
            fetched, out.cleaning = clean_bars(self.source.bars_for_sessions(missing))
            returned_set = set(returned)
            out.stored = [d for d in missing if d not in returned_set]
            if out.stored:
                stored = fetched[fetched["date"].isin(out.stored)]
                self.history.replace_dates("price_bars", stored, out.stored)
                counts = stored.groupby("date").size()
                out.rows = {d: int(counts.get(d, 0)) for d in out.stored}
            new = fetched[fetched["date"].isin(returned)]
        else:
            new = pd.DataFrame(columns=BAR_COLUMNS)
        kept = [d for d in returned if d in present]
        frames = [f for f in (new, self.history.read_dates("price_bars", kept) if kept else None)
                  if f is not None and len(f)]
        if frames:
            out.returned = pd.concat(frames, ignore_index=True)[BAR_COLUMNS]
        return out

    def bars_for_sessions(self, days: list[pd.Timestamp]) -> pd.DataFrame:
        self.fill(days)
        return self.history.read_dates("price_bars", list(days))[BAR_COLUMNS]

    def daily_bars(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        from technic_assets.core.calendar import sessions

        return self.bars_for_sessions(list(sessions(start, end)))

    # -- listings --------------------------------------------------------------------------------
    def listings(self, day: dt.date, known_sectors: dict[str, str] | None = None,
                 priority: list[str] | None = None) -> pd.DataFrame:
        """The source's listings; sectors it looks up symbol by symbol come from the store's latest
        universe (and from earlier days of this run) when known, and are asked for the most liquid
        symbols first (`liquid_first`)."""
        day = pd.Timestamp(day)
        if self._sectors is None:
            self._sectors = self.history.latest_sectors(day)
        if priority is None and self.source.rations_sector_lookups:
            priority = self.liquid_first(day)
        ranked = {"priority": priority} if priority is not None else {}  # only sources that ration take it
        listings = self.source.listings(day, known_sectors={**self._sectors, **(known_sectors or {})}, **ranked)
        self._sectors.update(listings.loc[listings["sector"] != "Unknown"].set_index("symbol")["sector"].to_dict())
        return listings

    def liquid_first(self, day: pd.Timestamp, settings: FilterSettings = FilterSettings()) -> list[str]:
        """Symbols by their dollar volume over the last LIQUIDITY_SESSIONS stored sessions up to `day`
        (the day's own bars from the source when the store has none yet), those that pass the price
        and liquidity rules first: the ones a scan can rank, so the ones whose sector matters."""
        bars = self.history.read_span("price_bars", day - pd.Timedelta(days=LIQUIDITY_DAYS), day,
                                      ["date", "symbol", "close", "volume"])
        if bars.empty:
            bars = self.source.bars_for_sessions([day])
        bars = bars.sort_values("date")
        recent = bars.groupby("symbol").tail(LIQUIDITY_SESSIONS)
        dollars = (recent["close"] * recent["volume"]).groupby(recent["symbol"]).mean()
        last = recent.groupby("symbol")["close"].last().reindex(dollars.index)
        passes = (last >= settings.min_price) & (dollars >= settings.min_dollar_volume)
        order = pd.DataFrame({"passes": passes, "dollars": dollars}).sort_values(["passes", "dollars"],
                                                                                 ascending=False)
        return order.index.tolist()

    # -- fundamentals ----------------------------------------------------------------------------
    def fundamentals(self, as_of: dt.date) -> pd.DataFrame:
        day = pd.Timestamp(as_of)
        return self.fundamentals_for_days([day]).drop(columns="date")

    def fundamentals_for_days(self, days: list[pd.Timestamp]) -> pd.DataFrame:
        """Each symbol's latest report known on each of `days`, with a `date` column."""
        if self.source.provides_filings:
            filings = self.filings(days[0] - pd.Timedelta(days=FILINGS_DAYS), days[-1])
            # each day reads the same FILINGS_DAYS a one-day run reads
            frames = [point_in_time(filings[filings["published"] >= day - pd.Timedelta(days=FILINGS_DAYS)], day)
                      for day in days]
        else:
            frames = [self.source.fundamentals(day) for day in days]
        # an empty report keeps the typed columns, so the store and the factors read it as any other
        frames = [f if len(f) else empty_fundamentals() for f in frames]
        return pd.concat([f.assign(date=day) for f, day in zip(frames, days)], ignore_index=True)

    def report_history(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        if self.source.provides_filings:
            return report_history(self.filings(start - pd.Timedelta(days=FILINGS_DAYS), end), start, end)
        return self.source.report_history(start, end)

    def filings(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Filings published start..end, fetched only for days the store has not covered yet."""
        start, end = pd.Timestamp(start), pd.Timestamp(end)
        settled = end - pd.Timedelta(days=FILINGS_SETTLE_DAYS)
        for first, last in self.history.filing_gaps(start, end):
            try:
                fetched = self.source.filings(first, last)
            except DatasetUnavailable as exc:  # the plan lacks it: nothing stored, nothing marked fetched
                self._degraded.note("financials", no_fundamentals(str(exc)))
                break
            self.history.replace_filings(fetched, first, last, covered_through=settled)
            self.filing_days_fetched += (last - first).days + 1
        filings = self.history.read_filings(start, end)
        if filings is None or filings.empty:
            self._degraded.note("financials", no_fundamentals(f"financials: no filings published {start:%Y-%m-%d}.."
                                                     f"{end:%Y-%m-%d} (the plan may not include them)"))
            return empty_reports(FILING_COLUMNS)
        return filings

    # -- passed through --------------------------------------------------------------------------
    @property
    def provides_filings(self) -> bool:
        return self.source.provides_filings

    def latest_session(self, now: pd.Timestamp) -> str:
        return self.source.latest_session(now)

    def cache_stats(self) -> dict[str, int]:
        return self.source.cache_stats()

    def new_warnings(self) -> list[str]:
        return self.source.new_warnings() + self._degraded.report()
