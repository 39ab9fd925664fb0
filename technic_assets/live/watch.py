"""`technic watch`: the ranked table in a terminal, redrawn on each version the server streams.

Reads the server's Server-Sent Events with the standard library (no client package needed), and
reconnects with Last-Event-ID after a dropped connection, so no version is missed while it can be
resumed. Each redraw fits the terminal's width as it is then (a resized window fits at the next
version): the columns that do not fit are left out, least read first, and the reasons take what is left.
It marks what changed since the previous redraw: `new` beside a name that entered, +N / -N beside one
that moved up or down N ranks, and a line naming those that entered and those that left.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# (field, title, width, number format, priority: lower is kept longer); text left-aligned, numbers
# right-aligned; width 0: whatever the line has left (the reasons)
COLUMNS = [("rank", "#", 3, "d", 0), ("move", "chg", 4, None, 1), ("symbol", "symbol", 7, None, 0),
           ("name", "name", 20, None, 6), ("sector", "sector", 22, None, 7),
           ("merit_score", "MERIT", 6, ".1f", 2), ("ics_score", "ICS", 6, ".1f", 5), ("close", "close", 9, ",.2f", 3),
           ("rel_volume", "rvol", 5, ".2f", 4), ("rsi_14", "RSI", 5, ".1f", 8), ("roc_63", "ROC63", 7, ".1f", 9),
           ("reasons", "why", 0, None, 10)]
CLEAR = "\x1b[2J\x1b[H"
MIN_REASONS = 12  # the reasons are shown only when this much of the line is left for them


def events(url: str, last_id: str | None = None, timeout: float = 60.0):
    """(id, data) of each `version` event of an SSE stream at `url` (with TECHNIC_SERVE_TOKEN, if set, as
    the bearer token a server bound beyond loopback asks for: live.access)."""
    from technic_assets.live.access import client_headers

    request = urllib.request.Request(url, headers={"Accept": "text/event-stream", **client_headers(),
                                                   **({"Last-Event-ID": last_id} if last_id else {})})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        event, data, ident = "message", [], None
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data and event == "version":
                    yield ident, "\n".join(data)
                event, data = "message", []
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
            elif field == "id":
                ident = value


def changes(before: dict[str, int] | None, rows: list[dict]) -> tuple[dict[str, str], list[str], list[str]]:
    """(symbol -> its mark: "new", "+N" up N ranks, "-N" down; entered; left) against the previous
    redraw's ranks `before` (None: the first redraw, nothing marked)."""
    if before is None:
        return {}, [], []
    now = {row["symbol"]: row["rank"] for row in rows}
    marks = {s: "new" if s not in before else f"{before[s] - r:+d}" for s, r in now.items()
             if s not in before or before[s] != r}
    entered = [s for s in now if s not in before]
    left = sorted((s for s in before if s not in now), key=before.get)
    return marks, entered, left


def fit(width: int, has: set[str]) -> list[tuple]:
    """The columns that fit `width` (those the rows have), the most read first, in table order."""
    chosen, used = [], 0
    for column in sorted((c for c in COLUMNS if c[0] in has or c[0] == "move"), key=lambda c: c[4]):
        need = (MIN_REASONS if column[2] == 0 else column[2]) + (2 if chosen else 0)
        if used + need <= width:
            chosen.append(column)
            used += need
    return [c for c in COLUMNS if c in chosen]


def render(payload: dict, width: int = 100, before: dict[str, int] | None = None) -> str:
    """The table as text no line of which is wider than `width`: a status line, what changed since the
    previous redraw (`before`: its symbol -> rank), a header and one line per ranked symbol."""
    age = payload.get("data_age_s")
    rows = payload["rows"]
    marks, entered, left = changes(before, rows)
    head = (f"Technic live  {payload['day']}  version {payload['version']}  source {payload['source']}  "
            f"data age {'-' if age is None else f'{age:.1f} s'}  as of {payload['as_of']}")  # cut from the end
    moved = sum(1 for m in marks.values() if m != "new")
    since = ("first version" if before is None else
             f"since the last: {len(entered)} entered{' (' + ', '.join(entered) + ')' if entered else ''}, "
             f"{len(left)} left{' (' + ', '.join(left) + ')' if left else ''}, {moved} moved")
    columns = fit(width, set().union(*(row.keys() for row in rows)) if rows else {"rank", "symbol"})
    lines = [head, since, "", "  ".join(title.rjust(w) if f else title.ljust(w) for _, title, w, f, _ in columns)]
    for row in rows:
        row = {**row, "move": marks.get(row["symbol"], "")}
        lines.append("  ".join(_cell(row.get(key), w, f) for key, _, w, f, _ in columns))
    return "\n".join(line[:width].rstrip() for line in lines)


def _cell(value, width: int, number: str | None) -> str:
    text = "-" if value is None else format(value, number) if number else str(value)
    if not width:
        return text
    return text[:width].rjust(width) if number else text[:width].ljust(width)


def stream_url(base: str, params: dict | None = None) -> str:
    query = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v not in (None, [], "")}, doseq=True)
    return base.rstrip("/") + "/api/stream" + (f"?{query}" if query else "")


def _refusal(exc: urllib.error.HTTPError) -> str:
    """The server's one-line reason for refusing the stream (a bad screen option: HTTP 400)."""
    try:
        return json.loads(exc.read().decode("utf-8", "replace"))["error"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {exc.code} {exc.reason}"


def watch(base: str, *, params: dict | None = None, out=None, max_events: int | None = None,
          clear: bool = True, retry_seconds: float = 2.0, width=None) -> int:
    """Redraw on each version until interrupted (or after `max_events`); resumes after a drop. `width`:
    the columns to fit (default: the terminal's at each redraw)."""
    out = out or sys.stdout
    url, last, shown, before = stream_url(base, params), None, 0, None
    while True:
        try:
            for ident, data in events(url, last):
                last = ident or last
                payload = json.loads(data)
                columns = width or shutil.get_terminal_size((100, 24)).columns
                out.write((CLEAR if clear else "") + render(payload, columns, before) + "\n")
                out.flush()
                before = {row["symbol"]: row["rank"] for row in payload["rows"]}
                shown += 1
                if max_events is not None and shown >= max_events:
                    return 0
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 403, 404):  # a refusal, not a drop: trying again gets the same answer
                raise SystemExit(f"error: {base} refused the stream: {_refusal(exc)}") from None
            if last is None and shown == 0:
                raise SystemExit(f"error: {base} answered HTTP {exc.code} {exc.reason}") from None
            print(f"connection lost (HTTP {exc.code}); resuming after version {last} ...", file=sys.stderr)
            time.sleep(retry_seconds)
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if last is None and shown == 0:
                raise SystemExit(f"error: no Technic server answers at {base} ({getattr(exc, 'reason', exc)}); "
                                 "start one with `technic serve`") from None
            print(f"connection lost ({exc}); resuming after version {last} ...", file=sys.stderr)
            time.sleep(retry_seconds)
