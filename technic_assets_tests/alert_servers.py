"""Real servers on loopback for the alert tests: an HTTP receiver standing in for a Slack incoming
webhook (http.server in a thread) and an SMTP server (aiosmtpd) that records what it is sent and, when
given a login, refuses any other."""

from __future__ import annotations

import json
import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# a loopback test server takes a login without TLS on purpose: test modules using it carry this mark
QUIET = "ignore:Requiring AUTH while not requiring TLS"


@dataclass
class Webhook:
    """What the receiver got: (path, parsed JSON body) per POST; `status` is what it answers."""

    url: str = ""
    posts: list = field(default_factory=list)
    status: int = 200


@contextmanager
def webhook_receiver(path: str = "/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX"):
    """An HTTP server on 127.0.0.1 answering POSTs to `path` like Slack ('ok', or `status`)."""
    hook = Webhook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.posts.append((self.path, json.loads(body)))
            status = hook.status if self.path == path else 404
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status == 200 else b"invalid_token")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook.url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (bound and released: connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    port: int = 0
    messages: list = field(default_factory=list)  # (envelope sender, recipients, email.message)
    logins: list = field(default_factory=list)


@contextmanager
def smtp_server(user: str = "", password: str = ""):
    """aiosmtpd on 127.0.0.1 (no TLS); with `user`, it requires that login (AUTH over plain text, as on
    a loopback relay) and refuses other credentials."""
    box = Mailbox(port=free_port())

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            box.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                 message_from_bytes(envelope.content, policy=policy.default)))
            return "250 OK"

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and \
            auth_data.password.decode() == password
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    options = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True} if user else {}
    controller = Controller(Handler(), hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
