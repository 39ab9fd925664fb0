"""Which Host (and Origin) `technic serve` answers: the defence against DNS rebinding.

A web page at http://evil.example can make its own name resolve to 127.0.0.1 and then read, as the
same origin, whatever a server on loopback answers. The browser then sends `Host: evil.example`, the
name in the page's URL: refusing names the server was not bound under stops the read. The names
answered are

  - the bound host itself, when it is a name;
  - `localhost` when bound to a loopback address or to every address (0.0.0.0, ::), and this
    machine's own host name when bound to every address;
  - the allow list (TECHNIC_SERVE_ALLOWED_HOSTS: names, `*.domain` for a domain's names, `*` for any);
  - any IP address: a browser sends the name from the URL, so a rebinding page can only send its own
    name, never an address.

Any other Host is HTTP 400 naming the names allowed; a stream requested with an Origin header whose host
is not allowed is HTTP 403 (the stream handler checks `origin_allowed`).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import JSONResponse

LOOPBACK_NAMES = ("localhost",)


def host_name(value: str | None) -> str | None:
    """The host part of a Host header (`name`, `name:port`, `[v6]:port`), lower case, without a final
    dot; None when there is none or it is malformed."""
    value = (value or "").strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or (value[end + 1:] and not (value[end + 1] == ":" and value[end + 2:].isdigit())):
            return None
        return value[1:end] or None
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    name = name.rstrip(".")
    return name if name and all(c.isalnum() or c in "-._" for c in name) else None


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_names(bound_host: str, extra=()) -> tuple[str, ...]:
    """The names a server bound to `bound_host` answers to, with the allow list `extra`."""
    bound = (bound_host or "").strip().lower().strip("[]").rstrip(".")
    names = list(extra)
    wildcard = bound in ("", "0.0.0.0", "::")
    loopback = bound in LOOPBACK_NAMES or (_is_address(bound) and ipaddress.ip_address(bound).is_loopback)
    if loopback or wildcard:
        names += LOOPBACK_NAMES
    if wildcard:
        names.append(socket.gethostname().lower())
    if bound and not wildcard and not _is_address(bound):
        names.append(bound)
    return tuple(dict.fromkeys(names))


def name_allowed(name: str | None, names) -> bool:
    if name is None:
        return False
    if _is_address(name):
        return True
    return any(p == "*" or name == p or (p.startswith("*.") and name.endswith(p[1:])) for p in names)


def origin_allowed(origin: str, names) -> bool:
    """An Origin header (`scheme://host[:port]`) whose host is one the server answers to."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and name_allowed(host_name(parts.netloc), names)


class HostGuard:
    """ASGI middleware: HTTP 400 for a request whose Host is not one of `names` (nor an address)."""

    def __init__(self, app, names=()):
        self.app, self.names = app, tuple(names)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            raw = Headers(scope=scope).get("host")
            if not name_allowed(host_name(raw), self.names):
                shown = (raw or "")[:60]
                body = {"error": f"Host {shown!r} is not a name this server answers to (DNS rebinding guard); "
                                 f"allowed: {', '.join(self.names) or 'none'} and IP addresses; "
                                 "add names with TECHNIC_SERVE_ALLOWED_HOSTS",
                        "parameter": "Host"}
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
