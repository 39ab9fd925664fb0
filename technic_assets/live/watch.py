"""`technic watch`: the ranked table in a terminal, redrawn on each version the server streams.

Reads the server's Server-Sent Events with the standard library (no client package needed), and
reconnects with Last-Event-ID after a dropped connection, so no version is missed while it can be
resumed.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# (field, title, width, number format); text left-aligned, numbers right-aligned; width 0: the rest
COLUMNS = [("rank", "#", 3, "d"), ("symbol", "symbol", 6, None), ("sector", "sector", 22, None),
           ("merit_score", "MERIT", 6, ".1f"), ("ics_score", "ICS", 6, ".1f"), ("close", "close", 9, ",.2f"),
           ("rsi_14", "RSI", 5, ".1f"), ("roc_63", "ROC63", 7, ".1f"), ("reasons", "why", 0, None)]
CLEAR = "\x1b[2J\x1b[H"


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


def render(payload: dict, width: int = 160) -> str:
    """The table as text: a status line, a header and one line per ranked symbol."""
    age = payload.get("data_age_s")
    head = (f"Technic live  {payload['day']}  version {payload['version']}  as of {payload['as_of']}  "
            f"source {payload['source']}  data age {'-' if age is None else f'{age:.1f} s'}")
    lines = [head, "", "  ".join(title.rjust(w) if f else title.ljust(w) for _, title, w, f in COLUMNS)]
    for row in payload["rows"]:
        lines.append("  ".join(_cell(row.get(key), w, f) for key, _, w, f in COLUMNS))
    return "\n".join(line[:width].rstrip() for line in lines)


def _cell(value, width: int, number: str | None) -> str:
    text = "-" if value is None else format(value, number) if number else str(value)
    if not width:
        return text
    return text[:width].rjust(width) if number else text[:width].ljust(width)


def stream_url(base: str, params: dict | None = None) -> str:
    query = urllib.parse.urlencode(params or {}, doseq=True)
    return base.rstrip("/") + "/api/stream" + (f"?{query}" if query else "")


def watch(base: str, *, params: dict | None = None, out=None, max_events: int | None = None,
          clear: bool = True, retry_seconds: float = 2.0) -> int:
    """Redraw on each version until interrupted (or after `max_events`); resumes after a drop."""
    out = out or sys.stdout
    url, last, shown = stream_url(base, params), None, 0
    while True:
        try:
            for ident, data in events(url, last):
                last = ident or last
                out.write((CLEAR if clear else "") + render(json.loads(data)) + "\n")
                out.flush()
                shown += 1
                if max_events is not None and shown >= max_events:
                    return 0
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if last is None and shown == 0:
                raise SystemExit(f"error: no Technic server answers at {base} ({getattr(exc, 'reason', exc)}); "
                                 "start one with `technic serve`") from None
            print(f"connection lost ({exc}); resuming after version {last} ...", file=sys.stderr)
            time.sleep(retry_seconds)
