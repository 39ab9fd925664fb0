"""Any settings over the stored history, without re-running the graph: each stored day re-screened from
what the evening stored (listings, indicators, point-in-time reports, the window's splits, the regime,
the forecasts) through core.screen's chain, the one the live engine runs: all days at once, each table
read in one query and the chain run once over the stacked day x name panel (core.screen_days), each
day its own cross-section, as screen_day would screen it alone.

Nothing dated after a day reaches its screen: each day reads its own rows, the splits up to it, and
forecasts made by that day's models. A name that the new settings keep but no stored screen kept has
no stored forecast; it is forecast here by the day's own stored models (as the live engine forecasts
every listing), so a looser filter is scored exactly as the graph would have scored it; the names of
all days that one stored model served are forecast in one predict.

With `peer_groups` on, each month's peer groups (core.peers) are fitted from the stored bars before the
month's first session. With `ranking: learned`, every kept row's blend terms come first (the days'
and the `lead` days' before them, stored days that only serve as training rows; no ranking needs
them); then each month's weights are fitted from the terms and the tradable returns of the days
before it (core.blend.monthly_weights: purged, embargoed) and each day is ranked once, with its
month's weights. A month with too little history keeps the hand weights.

Everything above that no setting changes (the reads, the stacked listings with every table beside
them, prepare's raw components, the forecasts of names no stored screen forecast, the Market, the
peer groups) belongs to the span of days (Span) and is kept while the store file is unchanged
(storage.kept): the live page's "try settings" asks the same span under one setting after another,
and each then costs only the filter and core.screen_days' chain on the rows the settings keep.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import numpy as np
import pandas as pd

from technic_assets.core.alpha_features import HORIZONS, feature_matrix
from technic_assets.core.alpha_model import load_booster, predict
from technic_assets.core.blend import forward_returns, monthly_weights
from technic_assets.core.calendar import nyse
from technic_assets.core.indicators import LOOKBACK
from technic_assets.core.peers import WINDOW as PEER_WINDOW
from technic_assets.core.peers import daily_returns, month_start, monthly_peer_groups
from technic_assets.core.schema import empty_fundamentals
from technic_assets.core.screen import Prepared, columns_of, prepare, side_by_side
from technic_assets.core.screen_days import kept_rows, neutral_rows, ranked
from technic_assets.core.track_record import market_from_bars
from technic_assets.core.universe_filter import FILTER_FACTS, drop_reasons
from technic_assets.storage.connection import SCHEMA, table
from technic_assets.storage.kept import kept as while_unchanged
from technic_assets.storage.kept_files import Shelf


@dataclasses.dataclass
class Rescreened:
    scores: pd.DataFrame    # date, symbol, score (MERIT) of every name the settings keep
    picks: pd.DataFrame     # date, symbol, rank: each day's top N
    seconds: dict           # read, screen, forecast
    terms: pd.DataFrame | None = None    # date, symbol, BLEND_TERMS, realized_vol_63, adv_20, alpha_z, label (keep_terms)
    weights: dict | None = None          # month's first session -> learned weights (None: hand weights)


def stored_market(history, start, end):
    """core.track_record's Market of the stored bars and dividends dated start..end."""
    bars = history.read_span("price_bars", start, end, ["date", "symbol", "close", "split_ratio", "dividend"])
    paid = bars[bars["dividend"] != 0.0]
    return market_from_bars(bars.drop(columns="dividend"), pd.DataFrame(
        {"ex_date": paid["date"], "symbol": paid["symbol"], "amount": paid["dividend"]}))


def peers_for(history, days, sessions) -> dict:
    """Each of `days` -> its month's peer groups (core.peers), fitted from the stored bars before the month."""
    start = sessions[max(0, sessions.searchsorted(month_start(days[0], sessions)) - PEER_WINDOW - 5)]
    return monthly_peer_groups(daily_returns(stored_market(history, start, days[-1])), days, sessions)


def rescreen(history, days: pd.DatetimeIndex, settings, *, alpha_weight: float, lead: pd.DatetimeIndex | None = None,
             keep_terms: bool = False, progress=None) -> Rescreened:
    """Each of `days` (stored sessions) screened under `settings` (a config.ScanSettings) from its stored
    inputs; `lead`: stored days before them that a learned blend may learn from (not returned). An
    error names a day whose inputs the store lacks. All days are screened at once (core.screen_days,
    each day its own cross-section, as core.screen.screen_day would screen it); `progress(done, of)`,
    if given, is called for each day once they are screened (the live page shows how far a re-screen
    has come, and an exception from it stops the re-screen there). What no setting changes is the span's
    (Span: lead and days), kept while the store is unchanged: other settings over the same days run
    only the settings' chain."""
    started = time.perf_counter()
    learned = getattr(settings, "ranking", "hand") == "learned"
    wanted = days
    every = wanted if lead is None else pd.DatetimeIndex(lead).append(wanted)
    days = every if learned or keep_terms else wanted  # the span's last days: its rows from `at` on
    span = _span(history, every)
    _check(days, span.have)
    at = int(np.searchsorted(span.when, days[0].to_datetime64()))
    market = None
    if learned or keep_terms or getattr(settings, "peer_groups", False):
        market = span.market(history, days[0])
    groups = span.groups(history, days, getattr(settings, "peer_groups", False))
    read = time.perf_counter() - started

    # the filter first, on the few facts it reads; everything after it on the names it keeps alone
    facts, when = span.prep.merged.iloc[at:], span.when[at:]
    _, reason, _ = drop_reasons(facts, None, settings.filter_settings(), days=when)
    mask = reason.isna().to_numpy()
    tick = time.perf_counter()
    fc = span.prep.forecasts
    if alpha_weight > 0 and len(span.models):
        fc = span.forecasts(history, at + np.flatnonzero(mask))
    forecast_seconds = time.perf_counter() - tick
    prep = Prepared(facts, span.prep.panel.iloc[at:], span.prep.raw.iloc[at:], fc.iloc[at:], span.prep.shown)
    kept = kept_rows(prep, when, settings, span.symbol_rank[at:], reason=reason, groups=groups)
    weights = terms = None
    if learned or keep_terms:  # the blend's inputs: every kept row's terms, whatever its rank
        terms = _terms(kept)
        terms["label"] = forward_returns(market.growth, market.symbols, market.sessions, terms)
    blend = {}
    if learned:
        sessions = nyse().sessions
        months = {day: month_start(day, sessions) for day in wanted}
        weights = monthly_weights(terms, terms["label"], sorted(set(months.values())), sessions)
        blend = {day: weights[months[day]] for day in wanted if weights[months[day]] is not None}
    # each wanted day ranked once: by its month's learned weights where it has them, else the hand ones
    learned_day = kept.days.isin(list(blend)).to_numpy()
    hand_day = kept.days.isin(wanted).to_numpy() & ~learned_day
    parts = [ranked(kept if rows.all() else kept.take(rows), span.regime, settings, alpha_weight, blend=given)
             for rows, given in ((hand_day, None), (learned_day, blend)) if rows.any()] or [
        ranked(kept.take(hand_day), span.regime, settings, alpha_weight)]  # no kept row: the empty ranking
    done = parts[0] if len(parts) == 1 else pd.concat(parts)
    if len(parts) > 1 and not done["date"].is_monotonic_increasing:  # hand-weighted days are the first, mostly
        done = done.sort_values("date", kind="stable")
    for step in range(1, len(days) + 1) if progress is not None else ():  # every day is screened now
        progress(step, len(days))
    done = _renumbered(done)  # in place: reset_index would copy every column
    total = time.perf_counter() - started
    picks = done.loc[done["rank"] <= settings.top_n, ["date", "symbol", "rank"]].reset_index(drop=True)
    return Rescreened(done[["date", "symbol"]].assign(score=done["merit_score"].to_numpy(dtype=float)),
                      picks.astype({"symbol": object}),
                      {"read": read, "screen": total - read - forecast_seconds, "forecast": forecast_seconds},
                      terms.astype({"symbol": object}) if keep_terms else None, weights)


def ready(history, days: pd.DatetimeIndex, *, peer_groups: bool = True) -> "Span":
    """The span of `days` made now, as a re-screen of them would make it (with the Market and the
    neutral groups, with or without `peer_groups`, that rescreen asks of it) and kept beside the store:
    the evening makes it once its writes are done, so the first settings tried after it take seconds."""
    span = _span(history, days)
    span.market(history, days[0])
    span.groups(history, days, peer_groups)
    return span


def _span(history, days: pd.DatetimeIndex) -> "Span":
    """The Span of `days`, kept in this process while the store is unchanged (and in files: Span.kept)."""
    return while_unchanged("rescreen", history, (tuple(days.asi8),), lambda: Span.kept(history, days))


class Span:
    """What no setting changes of a span of stored days, read and prepared once: every listing of
    every day (in day order, each day's rows in their stored order) with the filter's facts, prepare's
    panel and raw components, the stored forecasts, the regime; the stored models and, for the
    listings no stored screen forecast, their features, and the forecasts any call has made of them
    (a row's forecast never depends on the other rows); the stored bars' Market, each month's peer
    groups and each listing's neutral group (coded) once a setting asks for them. A re-screen takes the
    rows its settings keep.

    Kept by rescreen while the store is unchanged (storage.kept: any write drops it). On the
    benchmark store (600 days x 5,788 listings: 3.5M rows, 1.1M of them without a stored forecast)
    it holds about 1.2 GB (measured: the process's resident memory with and without it): the raw
    components 0.53 (19 float columns), the filter's facts 0.25 (11 columns, the strings shared),
    the panel 0.17, the features of the unforecast rows 0.11, the stored forecasts 0.08, the Market
    0.07 (sessions x symbols, once asked), row positions and forecasts made 0.1. Nothing else of the
    reads (names, exchanges, the other indicators and report columns) is kept."""

    def __init__(self, days, have, when, prep, symbol_rank, regime, models, lacking, features):
        self.days, self.have, self.when, self.prep = days, have, when, prep
        self.symbol_rank, self.regime, self.models = symbol_rank, regime, models
        self.lacking, self.features = lacking, features   # rows no stored screen forecast; their features
        self.made = np.full((len(lacking), len(HORIZONS)), np.nan)  # their forecasts where asked
        self.asked = np.zeros(len(lacking), dtype=bool)
        self.shelf = Shelf(None)  # where its lazy parts are kept beside the store (Span.kept)
        self._lazy: dict = {}
        self._lock = threading.RLock()  # a server's threads share the span: one fills what is lazy at a time

    def __getstate__(self) -> dict:  # kept in a file: what was read and prepared, not what was asked since
        state = {k: v for k, v in self.__dict__.items() if k not in ("shelf", "made", "asked", "_lazy", "_lock")}
        # text columns as categories: a few thousand strings and their codes, not 3.5M objects, to pickle
        text = {part: [c for c in frame.columns if frame[c].dtype == object]
                for part, frame in (("merged", self.prep.merged), ("panel", self.prep.panel))}
        state["prep"] = dataclasses.replace(self.prep, merged=_retyped(self.prep.merged, text["merged"], "category"),
                                            panel=_retyped(self.prep.panel, text["panel"], "category"))
        state["text"] = text
        return state

    def __setstate__(self, state: dict) -> None:
        text = state.pop("text")
        self.__dict__.update(state)
        self.prep = dataclasses.replace(self.prep, merged=_retyped(self.prep.merged, text["merged"], object),
                                        panel=_retyped(self.prep.panel, text["panel"], object))
        self.made = np.full((len(self.lacking), len(HORIZONS)), np.nan)
        self.asked = np.zeros(len(self.lacking), dtype=bool)
        self.shelf, self._lazy, self._lock = Shelf(None), {}, threading.RLock()

    @classmethod
    def kept(cls, history, days: pd.DatetimeIndex) -> "Span":
        """The span of `days`, read back from the files beside the store (storage.kept_files) when an
        earlier process of this code made it from this store version, else read, prepared and kept there;
        its Market and neutral groups are kept there too once asked for."""
        shelf = Shelf.of(history, "rescreen", (tuple(days.asi8),))
        span = shelf.get_or_make("span", lambda: cls.of(history, days))
        span.shelf = shelf
        return span

    @classmethod
    def of(cls, history, days: pd.DatetimeIndex) -> "Span":
        """The span of `days` (stored sessions, in order) read from the store."""
        first, last = days[0], days[-1]
        sessions = nyse().sessions
        window_start = sessions[max(0, sessions.searchsorted(first) - (LOOKBACK - 1))]
        # in the store's order: every row is placed by its date and symbol, and sorting millions costs
        # DuckDB as much as reading them
        universe = history.read_span("universe", first, last, coded=("symbol",), ordered=False)
        indicators = history.read_span("indicators", first, last, coded=("symbol",), ordered=False)
        reports = history.read_span("fundamentals", first, last, coded=("symbol",), ordered=False)
        regime = history.read_span("market_regime", first, last, ["date", "risk"]).set_index("date")["risk"]
        have = {name: set(pd.DatetimeIndex(dates)) for name, dates in
                (("universe", universe["date"].unique()), ("indicators", indicators["date"].unique()),
                 ("market_regime", regime.index))}
        stored = history.read_span("alpha_forecasts", first, last, ["date", "symbol", "alpha_5d", "alpha_10d"],
                                   coded=("symbol",))
        models = history.read_span("alpha_model", first, last)
        splits = _splits(history, window_start, last)

        # every day's listings stacked, in day order (each day's rows in their stored order); the other
        # tables' rows put beside them by (date, symbol), as one day's merges on the symbol would
        inside = universe["date"].isin(days).to_numpy()
        listed = universe
        if not inside.all() or not universe["date"].is_monotonic_increasing:  # days written out of order
            listed = universe[inside].sort_values("date", kind="stable").reset_index(drop=True)
        del universe
        listed["date"] = listed["date"].astype("datetime64[ns]")
        symbols = pd.Index(listed["symbol"].cat.categories)
        keys = _keys(listed, symbols)
        listed["symbol"] = np.asarray(listed["symbol"], dtype=object)
        fc = _aligned(keys, stored, symbols, "alpha_forecasts", first=True)[["alpha_5d", "alpha_10d"]].astype(float)
        fund = _reports(listed, keys, symbols, reports, splits, sessions)
        merged = side_by_side(listed, _aligned(keys, indicators, symbols, "indicators"))
        del indicators
        lacking = np.zeros(0, dtype=np.int64)
        if len(models):
            lacking = np.flatnonzero(fc["alpha_5d"].isna().to_numpy() & listed["date"].isin(models["date"]).to_numpy())
        features = feature_matrix(pd.DataFrame({c: frame[c].array.take(lacking) for frame in (merged, fund)
                                                for c in frame.columns}, copy=False))
        prep = prepare(merged, None, fund, fc)
        # the filter reads only its facts, the chain only the panel, raw and forecasts: the rest is dropped
        facts = columns_of(merged, [c for c in merged.columns if c in FILTER_FACTS])
        # the filter's text facts coded: its tests (an ETF, a sector) compare codes, not 3.5M strings
        facts = _retyped(facts, [c for c in ("type", "sector") if c in facts], "category")
        # each row's symbol's place in sorted order (the ranking's last tie-break); a re-screen shows no
        # listing, and its symbols are coded by that place (categories in text order, so that a sort by
        # symbol is the text's): the rows it keeps are taken as codes, and the record finds each name's
        # bars through the few thousand categories
        order = np.argsort(symbols.to_numpy().astype(str), kind="stable")
        symbol_rank = np.argsort(order)[(keys % (len(symbols) + 1)) - 1]
        coded = pd.Categorical.from_codes(symbol_rank, symbols[order])
        panel = pd.DataFrame({c: coded if c == "symbol" else prep.panel[c] for c in prep.panel.columns},
                             index=prep.panel.index, copy=False)
        prep = dataclasses.replace(prep, merged=facts, shown=facts[[]], panel=panel)
        return cls(days, have, listed["date"].to_numpy(), prep, symbol_rank, regime, models, lacking,
                   features.assign(date=listed["date"].to_numpy()[lacking]))

    def forecasts(self, history, rows: np.ndarray) -> pd.DataFrame:
        """The stored forecasts (alpha_5d, alpha_10d, every row), with those of `rows` (positions)
        that no stored screen forecast made by their day's stored models: each made once, then kept."""
        want = np.zeros(len(self.when), dtype=bool)
        want[rows] = True
        need = want[self.lacking]
        with self._lock:
            todo = need & ~self.asked
            if todo.any():
                made = self.made.copy()
                made[todo] = _forecast(history, self.features[todo], self.models)
                self.made, self.asked = made, self.asked | todo  # read by other threads only under the lock
            made = self.made
        values = self.prep.forecasts[["alpha_5d", "alpha_10d"]].to_numpy(dtype=float, copy=True)
        values[self.lacking[need]] = made[need]
        return pd.DataFrame(values, columns=["alpha_5d", "alpha_10d"], index=self.prep.forecasts.index)

    def market(self, history, first: pd.Timestamp):
        """The stored bars' Market from PEER_WINDOW sessions (and a few) before `first`'s month to the
        span's last day: each month's peer groups and the blend's labels come from it."""
        sessions = nyse().sessions
        start = sessions[max(0, sessions.searchsorted(month_start(first, sessions)) - PEER_WINDOW - 5)]
        return self._once(f"market-{start:%Y%m%d}", lambda: stored_market(history, start, self.days[-1]))

    def peers(self, history, days: pd.DatetimeIndex) -> dict:
        """Each of `days` (the span's last days) -> its month's peer groups, from market(days[0])."""
        market = self.market(history, days[0])
        return self._once(f"peers-{days[0]:%Y%m%d}",
                          lambda: monthly_peer_groups(daily_returns(market), days, nyse().sessions), shelved=False)

    def groups(self, history, days: pd.DatetimeIndex, peers: bool) -> pd.Categorical:
        """core.screen_days.neutral_rows of the listings of `days` (the span's last days), with or
        without each month's peer groups (peers(days))."""
        at = int(np.searchsorted(self.when, days[0].to_datetime64()))
        panel = self.prep.panel.iloc[at:]
        return self._once(f"groups-{days[0]:%Y%m%d}-{'peers' if peers else 'sectors'}", lambda: neutral_rows(
            panel["sector"], panel["symbol"], self.when[at:], self.peers(history, days) if peers else None))

    def _once(self, item: str, make, shelved: bool = True):
        """make()'s value, made once per span (kept beside the store too where `shelved`: the peer
        groups only serve the neutral groups, which are)."""
        with self._lock:
            if item not in self._lazy:
                self._lazy[item] = self.shelf.get_or_make(item, make) if shelved else make()
            return self._lazy[item]


def _splits(history, start, end) -> pd.DataFrame:
    """The stored bars' splits (date, symbol, split_ratio != 1) dated start..end: a few rows, filtered
    in the store rather than read with every bar."""
    name = "price_bars"
    found = history.query(name, f"SELECT date, symbol, split_ratio FROM {SCHEMA}.{table(name)} "
                          "WHERE date >= ? AND date <= ? AND split_ratio != 1.0", [pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()])
    if found is None:
        return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "symbol": pd.Series(dtype=object),
                             "split_ratio": pd.Series(dtype=float)})
    return found


def _retyped(frame: pd.DataFrame, names: list[str], dtype) -> pd.DataFrame:
    """`frame` with the columns `names` as `dtype`, the others shared."""
    return pd.DataFrame({c: frame[c].astype(dtype) if c in names else frame[c] for c in frame.columns},
                        index=frame.index, copy=False)


def _check(days, have: dict) -> None:
    """An error naming the first of `days` whose inputs the store lacks (`have`: table -> its dates)."""
    for day in days:
        missing = [name for name, stored in have.items() if day not in stored]
        if missing:
            raise ValueError(f"{day:%Y-%m-%d}: the store holds no {' or '.join(missing)} for it; scan it first")


def _renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (a fresh selection) labelled 0..n-1 in place: reset_index would copy every column."""
    frame.index = pd.RangeIndex(len(frame))
    return frame


def _keys(frame: pd.DataFrame, symbols: pd.Index) -> np.ndarray:
    """Each row's (date, symbol) as one integer: the day, then 1 + the symbol's place in `symbols` (0:
    not among them). `frame`'s symbol is categorical (read coded): only its categories are looked up."""
    code = symbols.get_indexer(frame["symbol"].cat.categories)[frame["symbol"].cat.codes.to_numpy()]
    day = pd.DatetimeIndex(frame["date"]).as_unit("ns").asi8 // 86_400_000_000_000
    return day * (len(symbols) + 1) + code + 1


def _aligned(keys: np.ndarray, frame: pd.DataFrame, symbols: pd.Index, name: str, first: bool = False
             ) -> pd.DataFrame:
    """`frame`'s rows (without date and symbol) at each of `keys` (the listings' _keys), in their order;
    NaN rows where it has none. A (date, symbol) twice is an error, or with `first` its first row counts."""
    own = _keys(frame, symbols) if len(frame) else np.zeros(0, dtype=np.int64)
    known = own % (len(symbols) + 1) != 0  # names not listed never match
    twice = pd.Index(own).duplicated(keep="first") & known
    if twice.any() and not first:
        raise ValueError(f"rescreen: the {name} hold a symbol twice on a day; give one row per symbol")
    use = np.flatnonzero(known & ~twice)
    at = pd.Index(own[use]).get_indexer(keys)
    rows = np.where(at >= 0, use[at], -1)  # positions in `frame`; -1: none (NaN, NaT, or None)
    # column by column: a frame's reindex takes whole blocks at once and costs several times more
    return pd.DataFrame({c: frame[c].array.take(rows, allow_fill=True) for c in frame.columns
                         if c not in ("date", "symbol")}, index=pd.RangeIndex(len(keys)), copy=False)


def _reports(listed: pd.DataFrame, keys: np.ndarray, symbols: pd.Index, reports: pd.DataFrame,
             splits: pd.DataFrame, sessions) -> pd.DataFrame:
    """Each listing's point-in-time report (core.factors.factor_panel's columns, in the listings'
    order) and split_factor_since_report: the product of the splits of its lookback window (the
    LOOKBACK sessions to its day) dated after the report's publication (core.factors.splits_since)."""
    if reports.empty or "symbol" not in reports:  # a source without fundamentals stores none
        out = empty_fundamentals().drop(columns="symbol").reindex(np.full(len(listed), -1)).reset_index(drop=True)
    else:
        out = _aligned(keys, reports, symbols, "fundamentals")
    factor = np.ones(len(out))
    hit = listed["symbol"].isin(splits["symbol"]).to_numpy()
    if hit.any():
        rows = listed.loc[hit, ["date", "symbol"]].assign(published=out.loc[hit, "published"].to_numpy())
        rows = rows.rename(columns={"date": "day"})
        rows["row"] = np.flatnonzero(hit)
        pos = sessions.searchsorted(pd.DatetimeIndex(rows["day"])) - (LOOKBACK - 1)
        rows["day_start"] = sessions[np.maximum(pos, 0)]
        events = rows.merge(splits.astype({"date": "datetime64[ns]"}), on="symbol")
        events = events[(events["date"] >= events["day_start"]) & (events["date"] <= events["day"])
                        & (events["date"] > events["published"])]
        product = events.groupby("row")["split_ratio"].prod()
        factor[product.index.to_numpy()] = product.to_numpy()
    return out.assign(split_factor_since_report=factor)


def _terms(kept) -> pd.DataFrame:
    """The blend terms of every kept row (date, symbol, BLEND_TERMS, realized_vol_63, adv_20, alpha_z),
    in day order: what core.blend learns from."""
    # one frame from its columns' arrays: a take, a set, an insert and an assign copied 2M rows four times
    return pd.DataFrame({
        "symbol": kept.symbols, **{c: kept.terms[c].to_numpy() for c in kept.terms.columns},
        **{c: kept.factors[c].to_numpy(dtype=float) for c in ("realized_vol_63", "adv_20")},
        "alpha_z": np.full(len(kept.symbols), np.nan) if kept.alpha is None else kept.alpha.to_numpy(dtype=float),
        "date": kept.days.to_numpy()}, copy=False)


def _forecast(history, features: pd.DataFrame, models: pd.DataFrame) -> np.ndarray:
    """alpha_5d, alpha_10d of rows by their day's stored models, from `features` (core.alpha_features'
    feature_matrix of names that no stored screen forecast, and each row's date): one predict per model,
    for every day it served (core.alpha_model.predict; a row's forecast does not depend on the others
    in its batch)."""
    day = pd.DatetimeIndex(features["date"])
    features = features.drop(columns="date")
    out = np.full((len(features), len(HORIZONS)), np.nan)
    for k, h in enumerate(HORIZONS):
        # each day's model of this horizon (the last listed, as one day's loop over its models leaves it)
        of_day = models[models["horizon"] == h].drop_duplicates("date", keep="last")
        model_of = pd.Series(of_day["model_id"].to_numpy(), index=pd.DatetimeIndex(of_day["date"]))
        ids = model_of.reindex(day).to_numpy()
        for model_id in pd.unique(ids[pd.notna(ids)]):
            serve = ids == model_id
            booster = load_booster(history.model_bytes(model_id))
            out[serve, k] = predict(booster, features[serve]).astype(np.float64)
    return out
