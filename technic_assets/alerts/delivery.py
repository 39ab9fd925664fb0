"""Sending an alert: a Slack incoming webhook (an HTTPS POST, certificates verified) and email over SMTP.

Each channel makes one attempt with a timeout and raises `DeliveryError` on failure, its text scrubbed
of the channel's secrets: a requests error quotes the URL, and a Slack webhook URL is itself the
credential; SMTP servers may echo what they were sent. An incoming webhook rather than dagster-slack's
bot token: one setting, no Slack app, and a test can stand a plain HTTP receiver in for it.
"""

from __future__ import annotations

import json
import smtplib
import ssl
from collections.abc import Iterable
from email.message import EmailMessage
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit

from technic_assets.alerts.messages import Message


class DeliveryError(RuntimeError):
    """A channel that could not deliver; the message names the channel, never its secrets."""


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with each secret (and a URL's path and query, where its token lives) replaced by '***'."""
    parts = set()
    for secret in secrets:
        if not secret:
            continue
        parts.add(secret)
        if "://" in secret:
            split = urlsplit(secret)
            parts.update(p for p in (split.path, split.query) if len(p) > 1)
    for part in sorted(parts, key=len, reverse=True):
        text = text.replace(part, "***")
    return text


def slack_text(message: Message) -> str:
    return f"*{message.subject}*\n```\n{message.body}\n```"


def post_webhook(url: str, message: Message, *, timeout: float) -> None:
    """POST the message as Slack's {"text": ...} to an incoming-webhook URL. With http.client, not
    requests: urllib3 logs each request line, the webhook's token with it, at DEBUG."""
    split = urlsplit(url)
    connection = (HTTPSConnection if split.scheme.lower() == "https" else HTTPConnection)(
        split.hostname, split.port, timeout=timeout)
    body = json.dumps({"text": slack_text(message)}).encode()
    try:
        connection.request("POST", split.path + (f"?{split.query}" if split.query else ""), body,
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        status, answer = response.status, response.read(200).decode(errors="replace")
    except (OSError, HTTPException) as exc:
        raise DeliveryError(f"the Slack webhook could not be reached: {type(exc).__name__}: "
                            f"{scrub(str(exc), [url])}") from None
    finally:
        connection.close()
    if status >= 300:
        raise DeliveryError(f"the Slack webhook answered HTTP {status}: {scrub(answer, [url])}")


def send_email(message: Message, *, host: str, port: int, sender: str, recipients: list[str], user: str = "",
               password: str = "", starttls: bool = False, timeout: float) -> None:
    """Send the message as plain text to `recipients`, logging in when `user` is set."""
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message.subject, sender, ", ".join(recipients)
    mail.set_content(message.body)
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            if starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user:
                smtp.login(user, password)
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"email through {host}:{port} failed: {type(exc).__name__}: "
                            f"{scrub(str(exc), [password])}") from None
