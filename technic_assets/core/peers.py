"""Peer groups from the data itself, for the names without a sector (issue 21, item 2).

Most of a data file's listings carry no sector ("Unknown"), so a sector-neutral z-score neutralizes
nothing for them. A peer group stands in: names whose returns moved together.

The rule, point in time (only returns strictly before `as_of`, the first session of the month the
groups serve):
  1. the last WINDOW sessions' daily total returns; names with a return on at least MIN_COVERAGE of
     them, missing days read 0;
  2. each day's equal-weight mean return removed (the market), each name's residual series scaled to
     unit deviation, so that only co-movement is left;
  3. the top COMPONENTS singular vectors of that (sessions x names) matrix give each name a loading
     vector; scaled to unit length, it points where the name's correlations point;
  4. k-means (GROUPS clusters, deterministic: a fixed seed) on those unit vectors: each cluster is a
     peer group, "peer_<k>".
`neutral_groups` then uses the sector where there is one, else the peer group, else "Unknown".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.vq import kmeans2

WINDOW, MIN_COVERAGE, COMPONENTS, GROUPS, SEED = 126, 0.8, 10, 20, 0
MISSING_SECTORS = ("Unknown", "", None)


def peer_groups(returns: pd.DataFrame, as_of, *, window: int = WINDOW, groups: int = GROUPS,
                components: int = COMPONENTS) -> pd.Series:
    """symbol -> "peer_<k>" from `returns` (sessions x symbols, daily returns, NaN: no bar), using only
    rows dated before `as_of`. Empty when fewer than `groups` names or `window` // 2 sessions qualify."""
    past = returns[returns.index < pd.Timestamp(as_of)].tail(window)
    if len(past) < window // 2:
        return pd.Series(dtype=object)
    covered = past.notna().mean() >= MIN_COVERAGE
    x = past.loc[:, covered].fillna(0.0).to_numpy(dtype=float)
    if x.shape[1] < max(groups, components) + 1:
        return pd.Series(dtype=object)
    x = x - x.mean(axis=1, keepdims=True)
    x = x - x.mean(axis=0)
    scale = x.std(axis=0)
    keep = scale > 0
    x, names = x[:, keep] / scale[keep], past.columns[covered][keep]
    # the leading components' loadings (V S of x's SVD) as x' U from the eigenvectors of the sessions'
    # Gram matrix (window x window): the same groups (all 35 months of the real file), a third of the
    # CPU, and no LAPACK SVD of a window x names matrix fighting over the cores
    _, u = np.linalg.eigh(x @ x.T)
    loadings = x.T @ u[:, ::-1][:, :components]
    loadings /= np.maximum(np.linalg.norm(loadings, axis=1, keepdims=True), 1e-12)
    _, label = kmeans2(loadings, groups, seed=np.random.default_rng(SEED), minit="++", iter=20)
    return pd.Series([f"peer_{k:02d}" for k in label], index=pd.Index(names, name="symbol"), name="peer_group")


def neutral_groups(sector: pd.Series, symbols: pd.Series, peers: pd.Series | None) -> pd.Series:
    """The group each name is neutralized in: its sector where it has one, else its peer group, else
    "Unknown" (in `sector`'s index)."""
    known = sector.notna() & ~sector.isin(MISSING_SECTORS)
    if peers is None or peers.empty:
        return sector.where(known, "Unknown")
    peer = pd.Series(symbols.map(peers).to_numpy(), index=sector.index)
    return sector.where(known, peer.fillna("Unknown"))


def daily_returns(market) -> pd.DataFrame:
    """sessions x symbols daily total returns of a core.track_record Market (NaN: no bar that day)."""
    growth = market.growth[:, :-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        daily = np.where(market.traded[1:] & (growth[:-1] > 0), growth[1:] / growth[:-1] - 1.0, np.nan)
    return pd.DataFrame(daily, index=market.sessions[1:], columns=market.symbols)


def monthly_peer_groups(returns: pd.DataFrame, days: pd.DatetimeIndex, sessions: pd.DatetimeIndex,
                        **kwargs) -> dict[pd.Timestamp, pd.Series]:
    """Each day of `days` -> the peer groups of its month, fitted as of the month's first session
    (returns before it only), one fit per month."""
    fitted: dict[pd.Timestamp, pd.Series] = {}
    out = {}
    for day in days:
        first = month_start(day, sessions)
        if first not in fitted:
            fitted[first] = peer_groups(returns, first, **kwargs)
        out[day] = fitted[first]
    return out


def month_start(day, sessions: pd.DatetimeIndex) -> pd.Timestamp:
    """The first session of `day`'s month."""
    day = pd.Timestamp(day)
    return sessions[sessions.searchsorted(day.replace(day=1))]
