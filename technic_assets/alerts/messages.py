"""What an alert says, as plain text: a screen's top N for the day and what changed, or why a scan failed.

Pure formatting over the stored frames (ranked_top_n's rows and the `changes` asset's rows for the
day), no Dagster and no network, so the sensors, the tests and any other adapter say the same thing.
The text is monospace-aligned: email shows it as is, Slack inside a code block.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MOVES_SHOWN = 5  # the biggest rank moves listed, up or down
REASONS_WIDTH = 80


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _cut(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def top_table(top: pd.DataFrame) -> str:
    """rank, symbol, sector, MERIT and reasons, one aligned line a pick, best first."""
    rows = top.sort_values("rank")
    sym = max([6, *rows["symbol"].astype(str).str.len()])
    sec = max([6, *rows["sector"].fillna("").astype(str).str.len()])
    lines = [f"{'#':>3}  {'symbol':<{sym}}  {'sector':<{sec}}  {'MERIT':>5}  reasons"]
    for r in rows.itertuples(index=False):
        lines.append(f"{int(r.rank):>3}  {str(r.symbol):<{sym}}  {str(r.sector or ''):<{sec}}  "
                     f"{float(r.merit_score):>5.1f}  {_cut(r.reasons, REASONS_WIDTH)}")
    return "\n".join(lines)


def _rank(value) -> str:
    return f"#{int(value)}"


def changes_text(changes: pd.DataFrame | None, since: str = "the previous session") -> str:
    """Entries, exits and the biggest rank moves of the day's `changes` rows (core/changes.py's columns);
    None when the store has no `changes` table, no rows when the previous session has no top N."""
    if changes is None:
        return f"Changes since {since}: not available (no `changes` stored for this day)."
    if changes.empty:
        return f"Changes since {since}: none to show (no top N stored for {since})."
    entries = changes[changes["change"] == "entry"].sort_values("rank")
    exits = changes[changes["change"] == "exit"].sort_values("previous_rank")
    moved = changes[changes["change"].isin(["up", "down"])].copy()
    moved = moved.assign(size=moved["rank_move"].abs()).sort_values(["size", "rank"], ascending=[False, True])
    lines = [f"Changes since {since}: {len(entries)} in, {len(exits)} out, {len(moved)} moved."]
    lines.append("In:    " + (", ".join(f"{r.symbol} {_rank(r.rank)} (MERIT {r.merit_score:.1f})"
                                         for r in entries.itertuples()) or "none"))
    lines.append("Out:   " + (", ".join(f"{r.symbol} (was {_rank(r.previous_rank)})"
                                         for r in exits.itertuples()) or "none"))
    lines.append("Moves: " + (", ".join(
        f"{r.symbol} {'up' if r.rank_move > 0 else 'down'} {abs(int(r.rank_move))} "
        f"({_rank(r.previous_rank)} -> {_rank(r.rank)})" for r in moved.head(MOVES_SHOWN).itertuples()) or "none"))
    return "\n".join(lines)


def scan_message(day: str, source: str, top: pd.DataFrame, changes: pd.DataFrame | None,
                 since: str = "the previous session", screen: str = "default") -> Message:
    """The evening alert of one screen: the day, the screen, the source, the top N and the changes
    since `since`."""
    subject = f"Technic top {len(top)} for {day}, screen {screen} ({source})"
    if top.empty:
        return Message(subject, f"No ranked picks are stored for {day}.")
    return Message(subject, f"{top_table(top)}\n\n{changes_text(changes, since)}")


def failure_message(day: str, source: str, job: str, description: str) -> Message:
    """A failed run: the job, the partition and what describe_failure found (each step's root cause)."""
    subject = f"Technic scan for {day} FAILED ({source})"
    return Message(subject, f"job {job}, partition {day}\n{description}")
