"""`technic serve` as a process: the listening socket, uvicorn, and a clean stop.

    sock = listen(host, port)      # before the day is loaded: a busy port or a bad host is one line
    serve(app, sock)               # until SIGTERM or Ctrl-C, then exit 0 within a second or so

uvicorn waits on shut-down for every open connection to finish its response, and a Server-Sent Events
stream never finishes by itself, so with a page or `technic watch` connected a stop waited for ever (and a
second Ctrl-C cancelled the streams with a traceback). `Server` ends the app's streams first
(server.end_streams), then shuts down as uvicorn does. uvicorn re-raises the signal that stopped it once it
has finished; `serve` takes it quietly, so a requested stop is a normal exit.
"""

from __future__ import annotations

import errno
import ipaddress
import re
import signal
import socket
import sys

import uvicorn

from technic_assets.live.server import end_streams

GRACE_SECONDS = 1.0  # what a request still running at shut-down (a screen: tens of ms) may take, at most
BACKLOG = 2048  # uvicorn's default


class ListenError(ValueError):
    """The address cannot be listened on; the message names the flag and what is wrong."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) and listening, or ListenError naming the --host or --port."""
    if re.fullmatch(r"[0-9.]+", host):  # digits and dots: an IPv4 address or nothing (no name is all digits)
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise ListenError(f"--host {host!r} is not an IPv4 address (four numbers 0-255, e.g. 127.0.0.1)") from None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ListenError(f"--host {host!r} is not an address or a name this machine resolves "
                          f"({getattr(exc, 'strerror', None) or exc})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(f"--port {port} is in use on {host} (another server listens there); "
                              "stop it or choose another --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ListenError(f"--host {host!r} is not an address of this machine") from None
        if exc.errno == errno.EACCES:
            raise ListenError(f"--port {port}: not allowed to listen on it here (ports below 1024 need "
                              "privileges)") from None
        raise ListenError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


class Server(uvicorn.Server):
    """uvicorn's server whose shut-down ends the app's open streams before waiting for its connections."""

    async def shutdown(self, sockets=None) -> None:
        end_streams(self.config.app)
        await super().shutdown(sockets)


def server(app, **config) -> Server:
    """A Server over the app, quiet but for warnings, never waiting more than GRACE_SECONDS on a request,
    and not naming itself (no `server: uvicorn` header: what runs is nobody else's business)."""
    return Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS,
                                 server_header=False, **config))


def serve(app, sock: socket.socket, announce: str = "") -> None:
    """Serve the app on the listening socket until SIGTERM or SIGINT (Ctrl-C), then return; `announce`
    goes to stderr once a signal would stop it cleanly (so whoever waits for the line may send one), with
    the app's word on who may reach it (live.access) on the same line."""
    announce = "; ".join(x for x in (announce, getattr(app.state, "access_line", "")) if x)
    running = server(app)
    # uvicorn handles both signals while it runs, then restores the handlers it found and raises the signal
    # again (for a caller that wants it). Those handlers are its own too: a signal before it takes over (its
    # loop still starting) stops it all the same, and the one raised again is no error here.
    previous = {sig: signal.signal(sig, running.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
    if announce:
        print(announce, file=sys.stderr, flush=True)
    try:
        running.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    if not running.started:  # the app's start-up failed; uvicorn has logged why
        raise SystemExit(3)
