"""`technic watch` in a real pseudo-terminal: it fits the terminal's width, passes the screen options to
the server's stream, and marks what changed since the last redraw. The server is a hand-made SSE
stream on loopback (two versions written here), so what is expected is known without the engine."""

import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from fcntl import ioctl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from technic_assets.live.watch import changes, render, watch

LONG = "Consolidated Very Long Name Holdings Incorporated"


def row(rank, symbol, merit):
    return {"rank": rank, "symbol": symbol, "name": f"{symbol} {LONG}", "sector": "Information Technology",
            "merit_score": merit, "ics_score": 50.0, "close": 1234.5, "rsi_14": 55.0, "roc_63": 3.0,
            "reasons": "quality +0.55, alpha +0.45, volatility +0.28; a long explanation that goes on and on"}


def version(n, rows):
    return {"version": n, "day": "2025-06-03", "as_of": "2025-06-03T14:31:00+00:00", "source": "replay",
            "data_age_s": 1.0, "rows": rows}


FIRST = version(1, [row(1, "AAA", 90.0), row(2, "BBB", 80.0), row(3, "CCC", 70.0)])
SECOND = version(2, [row(1, "BBB", 91.0), row(2, "AAA", 85.0), row(3, "DDDDD.Z", 75.0)])  # CCC left, DDDDD.Z entered


def test_changes_against_the_last_redraw_by_hand():
    marks, entered, left = changes({"AAA": 1, "BBB": 2, "CCC": 3}, SECOND["rows"])
    assert marks == {"BBB": "+1", "AAA": "-1", "DDDDD.Z": "new"} and entered == ["DDDDD.Z"] and left == ["CCC"]
    assert changes(None, FIRST["rows"]) == ({}, [], [])


@pytest.mark.parametrize("width, header", [
    # widths by hand, most read first: # 3, symbol 7+2 (BRKB.Z, GELJT.Z), chg 4+2, MERIT 6+2, close 9+2 = 37;
    # ICS 45; name 67; sector 91; RSI 98; ROC63 107; the reasons at least 12+2 = 121
    (40, ["#", "chg", "symbol", "MERIT", "close"]),
    (72, ["#", "chg", "symbol", "name", "MERIT", "ICS", "close"]),
    (160, ["#", "chg", "symbol", "name", "sector", "MERIT", "ICS", "close", "RSI", "ROC63", "why"]),
])
def test_no_line_is_wider_than_the_width_and_the_columns_least_read_go_first(width, header):
    lines = render(SECOND, width, before={"AAA": 1, "BBB": 2, "CCC": 3}).splitlines()
    assert max(len(line) for line in lines) <= width
    assert lines[1] == "since the last: 1 entered (DDDDD.Z), 1 left (CCC), 2 moved"[:width].rstrip()
    assert lines[3].split() == header
    assert lines[4].split()[:3] == ["1", "+1", "BBB"] and lines[6].split()[:3] == ["3", "new", "DDDDD.Z"]


class Stream(BaseHTTPRequestHandler):
    paths: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        Stream.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for payload in (FIRST, SECOND):
            self.wfile.write(f"event: version\nid: 0-{payload['version']}\ndata: {json.dumps(payload)}\n\n".encode())
            self.wfile.flush()
        Stream.done.wait(60)  # the stream stays open, as a server's does, until the test ends

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("columns", [50, 120])
def test_watch_in_a_pseudo_terminal_fits_it_and_shows_the_change(columns):
    Stream.paths, Stream.done = [], threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stream)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    parent, child = pty.openpty()
    ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen([sys.executable, "-m", "technic_assets.cli", "watch", "--url",
                             f"http://127.0.0.1:{server.server_port}", "--top", "3", "--sector", "tech"],
                            stdin=child, stdout=child, stderr=child, env=env, start_new_session=True)
    os.close(child)
    seen, deadline = b"", time.monotonic() + 120  # a bound for a stuck child, not a measurement
    try:
        # the second frame, to its last row: the row of the new name (the line above the rows names it too)
        while not re.search(rb"version 2.*\snew\s+DDDDD\.Z[^\n]*\n", seen, re.S):
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode(errors="replace")
            if select.select([parent], [], [], 1.0)[0]:
                seen += os.read(parent, 65536)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        Stream.done.set()
        server.shutdown()
        os.close(parent)
    text = seen.decode()
    frames = [f for f in text.split("\x1b[2J\x1b[H") if "version" in f]
    last = [line.rstrip("\r") for line in frames[-1].split("\n") if line.strip()]
    assert max(len(line) for line in last) <= columns
    assert last[1].startswith("since the last: 1 entered (DDDDD.Z), 1 left (CCC)")
    body = [line.split() for line in last[3:]]
    assert [b[:3] for b in body] == [["1", "+1", "BBB"], ["2", "-1", "AAA"], ["3", "new", "DDDDD.Z"]]
    assert "n=3" in Stream.paths[0] and "sector=tech" in Stream.paths[0]  # the screen options reach the server


class Refusing(BaseHTTPRequestHandler):
    """A server that refuses the screen asked for, as `technic serve` answers a bad parameter."""

    def do_GET(self):  # noqa: N802 - http.server's name
        body = json.dumps({"error": "sector: sector 'con' is ambiguous: it could be Consumer Discretionary, "
                                    "Consumer Staples", "parameter": "sector"}).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_screen_option_the_server_refuses_is_its_one_line_reason():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        with pytest.raises(SystemExit) as refused:
            watch(url, params={"sector": ["con"]}, width=80)
    finally:
        server.shutdown()
    assert str(refused.value) == (f"error: {url} refused the stream: sector: sector 'con' is ambiguous: it could be "
                                  "Consumer Discretionary, Consumer Staples")
