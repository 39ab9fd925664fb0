"""How much of a day's volume a session has typically traded by a given minute: the intraday U.

US stocks trade most at the open and the close and least around midday. Cumulative volume at 10:00
compared with a whole day's average says every name is quiet; compared with what the average day has
traded by 10:00 it says which names are busy. Relative volume so far is therefore

    volume so far / (average daily volume x share(minutes elapsed))

The store keeps daily bars only (intraday bars never enter it), so the share comes from a standard
curve rather than from measured minutes: minute t of an m-minute session weighs

    w(t) = 1 + 2 x^2,   x = (t - (m - 1) / 2) / ((m - 1) / 2)   (x from -1 at the open to 1 at the close)

three times the midday rate at either end, which puts about 12.5% of the day in its first half hour and
22.6% in its last hour, the shape of published US intraday volume profiles without their closing-auction
spike. The replay feed cuts days into minutes with the same weights (live.replay), so a replayed name's
relative volume holds steady through its day. A measured profile (per-minute weights from minute data)
can be passed as `weights` instead. An early close (210 minutes) is the same U over the shorter session.
"""

from __future__ import annotations

import numpy as np

SESSION_MINUTES = 390


def u_weights(minutes: int = SESSION_MINUTES) -> np.ndarray:
    """The standard curve's weight of each minute of an m-minute session (not normalized)."""
    if minutes < 2:
        raise ValueError(f"minutes={minutes}: a session has at least 2 minutes")
    x = (np.arange(minutes) - (minutes - 1) / 2) / ((minutes - 1) / 2)
    return 1.0 + 2.0 * x**2


def share_traded(elapsed_minutes: float, weights: np.ndarray) -> float:
    """The share of a day's volume traded in the first `elapsed_minutes` of the session (fractions of a
    minute pro rata), at least the first minute's share (before the open nothing is expected, and a
    quotient by zero says nothing), at most 1 (after the close)."""
    cumulative = np.r_[0.0, np.cumsum(weights)] / float(np.sum(weights))
    elapsed = min(max(float(elapsed_minutes), 1.0), len(weights))
    return float(np.interp(elapsed, np.arange(len(cumulative)), cumulative))
