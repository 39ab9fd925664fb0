"""Many days' screens at once: core.screen's chain over the stacked day x name panel.

The backtest re-screens hundreds of stored days under new settings. screen_day does one day with a
dozen pandas calls, each costing more in overhead than in arithmetic on a few thousand names; here
each stage is the same core function called once on every day's rows, with `days` (each row's date,
coded once as core.days.Days) making every cross-sectional step (the filter's bar-day and liquid
sectors, winsorizing, sector z-scores, ICS and MERIT's scaling, the alpha z-score, the blend terms,
the ranking) per day, in numpy over the day-sorted rows. Each day's scores equal screen_day's on that
day (test_screen_days: to 1e-9, same ranks).

  1. filter         universe_filter.drop_reasons(..., days=)
  2. factors        factors.compute_factors(by_day=True) on the kept rows (peer groups per month)
  3. ICS, alpha     scoring.ics_score(days=), scoring.alpha_signal(days=)
  4. blend terms    blend.blend_terms(days=) (the learned blend's inputs)
  5. MERIT, rank    scoring.merit_score(days=) with each row's regime (and learned weights), then each
                    day's rows by MERIT, ICS, symbol (rank_top_n's order)
Where the rows are stacked day by day (a re-screen's always are), the heavy stages (the factors,
MERIT and ICS, the order) run as core.kernels' compiled passes, a day at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from technic_assets.core.blend import BLEND_TERMS, blend_terms
from technic_assets.core.days import Days, as_days
from technic_assets.core.factors import FACTORS, compute_factors
from technic_assets.core.peers import neutral_groups
from technic_assets.core.scoring import alpha_signal, ics_score, merit_score
from technic_assets.core.screen import Prepared
from technic_assets.core.universe_filter import drop_reasons


@dataclass
class Kept:
    """The kept rows of many days, scored up to MERIT (what no blend weight changes)."""

    days: pd.Series            # each kept row's date
    symbols: np.ndarray        # or a Categorical (a re-screen's coded symbols)
    symbol_rank: np.ndarray    # each row's place in symbol order (the ranking's last tie-break)
    factors: pd.DataFrame      # FACTORS, realized_vol_63, adv_20
    ics: pd.Series
    alpha: pd.Series | None    # alpha z-score (NaN on a day without forecasts); None: no forecast at all
    terms: pd.DataFrame        # BLEND_TERMS (core.blend), from the factors, the alpha, roc_21 and rsi_14

    def take(self, rows: np.ndarray) -> "Kept":
        """These rows only (a boolean mask); one run of rows (some days in a row: a re-screen's days
        with and without learned weights) is taken as views, not copied."""
        at = np.flatnonzero(rows)
        if len(at) and at[-1] - at[0] + 1 == len(at):
            rows = slice(int(at[0]), int(at[-1]) + 1)
            pick = lambda x: x.iloc[rows]  # noqa: E731
        else:
            pick = lambda x: x[rows]  # noqa: E731
        return Kept(pick(self.days), self.symbols[rows], self.symbol_rank[rows], pick(self.factors), pick(self.ics),
                    None if self.alpha is None else pick(self.alpha), pick(self.terms))


def kept_rows(prep: Prepared, days: np.ndarray, settings, symbol_rank: np.ndarray, *,
              reason: pd.Series | None = None, peers: dict | None = None,
              groups: pd.Categorical | None = None) -> Kept:
    """Steps 1-4 on `prep` (core.screen.prepare of many days' listings, `on=("date", "symbol")`);
    `days`: each listing row's date; `reason`: drop_reasons' of these rows if the caller has them;
    `peers`: day -> that month's peer groups (symbol -> group), used with settings.peer_groups;
    `groups`: neutral_rows of these listings under these settings, if the caller keeps them."""
    if groups is None:
        groups = neutral_rows(prep.panel["sector"], prep.panel["symbol"], days,
                              peers if getattr(settings, "peer_groups", False) else None)
    if reason is None:
        _, reason, _ = drop_reasons(prep.merged, None, settings.filter_settings(), days=days)
    mask = reason.isna().to_numpy()
    at = slice(None) if mask.all() else np.flatnonzero(mask)

    def kept(frame: pd.DataFrame, columns) -> pd.DataFrame:
        """These columns of the kept rows, labelled 0..n-1: one take of each column's array (a frame's
        boolean take copies every block, and pandas then merges them)."""
        return pd.DataFrame({c: _values(frame[c])[at] for c in columns}, copy=False)

    when = pd.Series(pd.DatetimeIndex(days)[at], name="date")
    grouped = Days(when)  # the days coded once, for every cross-sectional step below
    panel = kept(prep.panel, ["symbol", "realized_vol_63", "adv_20", "roc_21", "rsi_14"])
    panel["sector"] = groups[at]  # coded: a take of codes, and the factors group by them as they are
    z, _ = compute_factors(panel, settings.style, raw=prep.raw, days=grouped,
                           rows=np.arange(len(mask)) if mask.all() else at)  # read in place
    factors = pd.DataFrame({c: panel[c].to_numpy(dtype=float) for c in ("realized_vol_63", "adv_20")}
                           | {f: z[f].to_numpy() for f in FACTORS}, copy=False)
    ics = ics_score(factors, settings.style, days=grouped, detail=False)["ics_score"]
    fc = kept(prep.forecasts, ["alpha_5d", "alpha_10d"])  # labelled by symbol: relabelled as the kept rows
    alpha = alpha_signal(fc, days=grouped) if bool(fc.notna().any().any()) else None
    terms = blend_terms(factors, alpha, panel["roc_21"], panel["rsi_14"], days=grouped)
    return Kept(when, _values(panel["symbol"]), np.asarray(symbol_rank)[mask], factors, ics, alpha, terms)


def _values(column: pd.Series):
    """A column's values as they are held: a coded column's codes stay codes (to_numpy would spell out
    every row's text)."""
    return column.array if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()


def neutral_rows(sector: pd.Series, symbols: pd.Series, days, peers: dict | None) -> pd.Categorical:
    """Each row's group for the sector z-scores, coded: its sector or, with `peers` (day -> that month's
    peer groups, symbol -> group), core.peers.neutral_groups with its day's groups. Only peer_groups
    changes it: a caller that screens the same listings under many settings makes it once per value.
    With peers, neutral_groups runs once without them (a name with a sector keeps it), then, on the
    names without one, once per distinct fit (a month)."""
    if peers is None:
        return pd.Categorical(np.asarray(sector, dtype=object))
    days = as_days(days)
    sector, symbols = sector.reset_index(drop=True), pd.Series(np.asarray(symbols, dtype=object))
    out = neutral_groups(sector, symbols, None).astype(object).to_numpy()
    lacking = out == "Unknown"
    fits = np.array([id(peers[day]) for day in days.unique])[days.code]
    for day in {id(peers[day]): day for day in days.unique}.values():
        rows = lacking & (fits == id(peers[day]))
        out[rows] = neutral_groups(sector[rows], symbols[rows], peers[day]).to_numpy()
    return pd.Categorical(out)


def ranked(kept: Kept, regimes: pd.Series, settings, alpha_weight: float, *,
           blend: dict | None = None) -> pd.DataFrame:
    """Step 5: MERIT of every kept row under its day's regime (`regimes`: risk by date) and, with
    settings.ranking "learned", its day's `blend` weights (day -> weights by BLEND_TERMS; a day without
    is not in `kept`, the caller keeps the hand weights' result); then each day ranked. Returns date,
    symbol, rank, merit_score, ics_score, by day then rank."""
    days = Days(kept.days)
    risk = pd.Series(days.of(regimes.astype(str)), index=kept.days.index)
    learned = None
    if blend is not None and getattr(settings, "ranking", "hand") == "learned":
        learned = pd.DataFrame.from_dict({d: blend[d] for d in days.unique}, orient="index")[list(BLEND_TERMS)]
        learned.index = pd.DatetimeIndex(learned.index)  # each day's weights
    f = kept.factors
    scored = merit_score(f, f["realized_vol_63"], f["adv_20"], settings.style, risk,
                         alpha=kept.alpha, alpha_weight=alpha_weight, learned=learned,
                         terms=kept.terms if learned is not None else None,
                         tilt=getattr(settings, "regime_tilt", True),
                         penalties=getattr(settings, "risk_penalties", True), days=days, detail=False)
    merit, ics = scored["merit_score"].to_numpy(), kept.ics.to_numpy()
    if days.starts is not None and len(merit):  # each day's rows in a row: sorted in one compiled pass
        from technic_assets.core.kernels import order_days

        order = order_days(merit, ics, kept.symbol_rank, days.bounds)
    else:
        order = days.lexsort((kept.symbol_rank, -ics, -merit))
    if not days.unique.is_monotonic_increasing:  # days in date order
        order = order[np.argsort(days.unique.argsort().argsort()[days.code[order]], kind="stable")]
    code = days.code[order]
    first = np.flatnonzero(np.r_[True, code[1:] != code[:-1]])
    rank = np.arange(len(order)) - np.repeat(first, np.diff(np.r_[first, len(order)])) + 1
    return pd.DataFrame({"date": kept.days.to_numpy()[order], "symbol": kept.symbols[order], "rank": rank,
                         "merit_score": merit[order], "ics_score": ics[order], "row": order}, copy=False)
