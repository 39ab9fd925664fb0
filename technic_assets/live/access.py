"""Who may use `technic serve`: open on loopback, a token beyond it; CORS only where configured.

Bound to a loopback address (127.0.0.1, ::1, localhost) the server is open, as before: only this
machine reaches it. Bound to anything else (0.0.0.0, a LAN address, a name), every request but
`/healthz` (a load balancer's probe, which says nothing a client could not see) and the login page needs
the token, TECHNIC_SERVE_TOKEN, sent either as `Authorization: Bearer TOKEN` (curl, Prometheus,
`technic watch`) or as the cookie the login page sets (a browser: `/login` takes the token once). Without
TECHNIC_SERVE_TOKEN a server bound beyond loopback makes a token for the run and prints it once at
start-up, as Jupyter does: a forgotten variable never leaves the server open, nor stops it. The
start-up line (`startup_line`, on `technic serve`'s "Serving ..." line) says which case holds. The
token is compared in constant time (hmac.compare_digest) and never logged; the cookie holds an HMAC of
it, not the token.

CORS is off (no Access-Control-* header: a page elsewhere cannot read the answers) unless
TECHNIC_SERVE_CORS_ORIGINS names origins; then Starlette's CORSMiddleware answers them, the
Authorization header allowed.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from technic_assets.environment import ServeAccess

OPEN_PATHS = ("/healthz", "/login")
COOKIE = "technic_session"
COOKIE_DAYS = 30
MAX_FORM_BYTES = 4096


def on_loopback(host: str) -> bool:
    """Whether a server bound to `host` is reachable from this machine only."""
    bound = (host or "").strip().lower().strip("[]").rstrip(".")
    if bound == "localhost":
        return True
    try:
        return ipaddress.ip_address(bound).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Gate:
    """The token a server asks for ("" on loopback: none); whether it was made for this run."""

    token: str = field(default="", repr=False)
    generated: bool = False

    @property
    def required(self) -> bool:
        return bool(self.token)

    @property
    def cookie_value(self) -> str:
        """What the login cookie holds: an HMAC of the token, so the cookie is not the token itself."""
        return hmac.new(self.token.encode(), b"technic serve session", hashlib.sha256).hexdigest()

    def admits(self, headers: Headers) -> bool:
        """The request carries the token (Bearer) or the login cookie; compared in constant time."""
        scheme, _, credentials = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
            return True
        cookie = _cookie(headers.get("cookie", ""), COOKIE)
        return cookie is not None and hmac.compare_digest(cookie.encode(), self.cookie_value.encode())


def gate_for(host: str, access: ServeAccess) -> Gate:
    """No token on loopback; beyond it TECHNIC_SERVE_TOKEN, or one made for this run."""
    if on_loopback(host):
        return Gate()
    if access.token:
        return Gate(access.token)
    return Gate(secrets.token_urlsafe(24), generated=True)


def startup_line(host: str, gate: Gate) -> str:
    """What the server says about access (the token itself only when it was made for the run). Made when
    the app is built; `technic serve` prints it once, on its "Serving ..." line (live.serving.serve), so
    that line stays the one cue a script waits for."""
    if not gate.required:
        return f"loopback ({host}): open to this machine, no token asked"
    head = (f"beyond loopback ({host}): every request but /healthz needs the token (header "
            "'Authorization: Bearer TOKEN', or log in once at /login)")
    if gate.generated:
        return (f"{head}; TECHNIC_SERVE_TOKEN is not set, so this run's token is {gate.token} "
                "(shown once; set TECHNIC_SERVE_TOKEN to choose one)")
    return f"{head}, TECHNIC_SERVE_TOKEN's"


def middleware(gate: Gate, access: ServeAccess) -> list[Middleware]:
    """CORS (only with origins configured) outside the token gate, so a preflight and a refusal both
    carry the CORS headers a browser needs to read them."""
    out = []
    if access.cors_origins:
        out.append(Middleware(CORSMiddleware, allow_origins=list(access.cors_origins), allow_methods=["GET"],
                              allow_headers=["Authorization", "Last-Event-ID"], max_age=600))
    if gate.required:
        out.append(Middleware(TokenGate, gate=gate))
    return out


class TokenGate:
    """ASGI middleware: a request without the token is HTTP 401 (JSON, `WWW-Authenticate: Bearer`), or a
    redirect to /login for a browser asking for a page; /healthz and /login stay open."""

    def __init__(self, app, gate: Gate):
        self.app, self.gate = app, gate

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path", "") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if self.gate.admits(headers):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "/")
        if scope.get("method") == "GET" and "text/html" in headers.get("accept", ""):
            response = RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        else:
            response = JSONResponse({"error": "this server needs its token: header 'Authorization: Bearer TOKEN' "
                                              "(TECHNIC_SERVE_TOKEN), or log in at /login"},
                                    status_code=401, headers={"WWW-Authenticate": 'Bearer realm="technic"'})
        await response(scope, receive, send)


LOGIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Technic: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:15px system-ui,sans-serif;max-width:24rem;margin:15vh auto;padding:0 1rem}}
input{{font:inherit;width:100%;box-sizing:border-box;margin:.4rem 0;padding:.4rem}}p.e{{color:#b00}}</style>
</head><body><h1>Technic</h1><p>This server asks for its token (TECHNIC_SERVE_TOKEN, or the one it printed
at start-up).</p>{error}<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label>Token <input type="password" name="token" autocomplete="current-password" autofocus required></label>
<input type="submit" value="Log in"></form></body></html>"""


def _next(value: str) -> str:
    """Where to go after logging in: a path on this server only (never `//elsewhere`)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


def login_routes(gate: Gate) -> list:
    """GET /login: the form; POST /login: the token checked, the cookie set, back to `next`."""
    from starlette.routing import Route

    async def form(request: Request) -> Response:
        page = LOGIN_PAGE.format(error="", next=html.escape(_next(request.query_params.get("next", "/"))))
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return JSONResponse({"error": "the login form is too large"}, status_code=413)
        fields = parse_qs(body.decode("utf-8", "replace"))
        given, target = fields.get("token", [""])[0], _next(fields.get("next", ["/"])[0])
        if not gate.required:
            return RedirectResponse(target, status_code=303)
        if not hmac.compare_digest(given.strip().encode(), gate.token.encode()):
            page = LOGIN_PAGE.format(error='<p class="e">That is not the token.</p>', next=html.escape(target))
            return HTMLResponse(page, status_code=401, headers={"Cache-Control": "no-store"})
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, gate.cookie_value, max_age=COOKIE_DAYS * 86_400, path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")
        return response

    return [Route("/login", form, methods=["GET"]), Route("/login", login, methods=["POST"])]


def client_headers(env=None) -> dict[str, str]:
    """What a client of the server (`technic watch`) sends: the bearer token, when TECHNIC_SERVE_TOKEN is set."""
    token = (os.environ if env is None else env).get("TECHNIC_SERVE_TOKEN", "").strip()
    return {"Authorization": f"Bearer {token}"} if token else {}


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"')
    return None
