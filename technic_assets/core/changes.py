"""What changed in the top N since the previous session: entries, exits, rank moves, score changes.

A trader reads the day's list against yesterday's. For every symbol in either top N:
  entry   in today's, not yesterday's         exit   in yesterday's, not today's
  up      a better (smaller) rank than before  down   a worse one           same   the same rank
`rank_move` is previous_rank - rank (positive: up). Scores come from the full MERIT tables where
given, so an entry shows the score it climbed from and an exit the score it fell to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CHANGE_COLUMNS = ["symbol", "change", "rank", "previous_rank", "rank_move", "merit_score",
                  "previous_merit_score", "score_change"]
ORDER = {"entry": 0, "up": 1, "down": 2, "same": 3, "exit": 4}


def empty_changes() -> pd.DataFrame:
    """No rows, typed as stored (a first day has nothing to compare)."""
    text = ("symbol", "change")
    return pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"),
                         **{c: pd.Series(dtype=object if c in text else float) for c in CHANGE_COLUMNS}})


def changes_between(today: pd.DataFrame, previous: pd.DataFrame, today_scores: pd.DataFrame | None = None,
                    previous_scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per symbol in either top N (rank, symbol, merit_score); `*_scores` (symbol, merit_score)
    are each day's whole scored universe, read for symbols outside that day's top N."""
    now = today[["symbol", "rank", "merit_score"]]
    before = previous[["symbol", "rank", "merit_score"]].rename(
        columns={"rank": "previous_rank", "merit_score": "previous_merit_score"})
    out = now.merge(before, on="symbol", how="outer")
    for column, scores in (("merit_score", today_scores), ("previous_merit_score", previous_scores)):
        if scores is not None and len(scores):
            known = scores.drop_duplicates("symbol").set_index("symbol")["merit_score"]
            out[column] = out[column].fillna(out["symbol"].map(known))
    out[["rank", "previous_rank"]] = out[["rank", "previous_rank"]].astype(float)
    out["rank_move"] = out["previous_rank"] - out["rank"]
    out["score_change"] = out["merit_score"] - out["previous_merit_score"]
    out["change"] = np.select(
        [out["previous_rank"].isna(), out["rank"].isna(), out["rank_move"] > 0, out["rank_move"] < 0],
        ["entry", "exit", "up", "down"], "same")
    out = out.assign(_order=out["change"].map(ORDER), _rank=out["rank"].fillna(out["previous_rank"]))
    return out.sort_values(["_order", "_rank"]).reset_index(drop=True)[CHANGE_COLUMNS]


def summary(changes: pd.DataFrame) -> str:
    """'3 entries (ABC, DEF, GHI), 3 exits (...), biggest move XYZ +7' for a log line or an alert."""
    if changes.empty:
        return "no top N to compare"
    parts = []
    for kind, one, many in (("entry", "entry", "entries"), ("exit", "exit", "exits")):
        names = changes.loc[changes["change"] == kind, "symbol"].tolist()
        if names:
            parts.append(f"{len(names)} {one if len(names) == 1 else many} ({', '.join(names[:5])}{', ...' if len(names) > 5 else ''})")
    moved = changes.dropna(subset=["rank_move"])
    moved = moved[moved["rank_move"] != 0]
    if len(moved):
        top = moved.loc[moved["rank_move"].abs().idxmax()]
        parts.append(f"biggest move {top['symbol']} {int(top['rank_move']):+d}")
    return ", ".join(parts) or "the same list in the same order"
