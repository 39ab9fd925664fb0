"""Alerts without a Dagster run: the message text (written out by hand), the settings and their errors,
and delivery to real servers on loopback (an HTTP receiver for the webhook, aiosmtpd for SMTP),
including servers that refuse, are down, or lack STARTTLS: a warning naming the channel, never its secret."""

import math

import pandas as pd
import pytest
from dagster import Definitions

from technic_assets.alerts.delivery import DeliveryError, post_webhook, scrub, send_email
from technic_assets.alerts.messages import Message, changes_text, failure_message, scan_message
from technic_assets.definitions import build_definitions
from technic_assets.environment import Environment
from technic_assets.market.factory import label as source_label
from technic_assets.resources import AlertsResource
from technic_assets_tests.alert_servers import QUIET, free_port, smtp_server, webhook_receiver

pytestmark = pytest.mark.filterwarnings(QUIET)

TOKEN = "hooks/T0AL3RT/B0S3CR3T/q7Xw9Zk2Lm4Np6Rt"
PASSWORD = "smtp-pw-Vt3#kq9!Lz"
NAN = math.nan

TOP = pd.DataFrame({
    "date": pd.Timestamp("2025-06-02"), "rank": [2, 1], "symbol": ["BBBB", "AAA"],
    "sector": ["Information Technology", "Energy"], "merit_score": [88.04, 91.25],
    "ics_score": [70.0, 80.0], "reasons": ["value, quality", "momentum   (roc_63);\nlow volatility"]})
CHANGES = pd.DataFrame({
    "date": pd.Timestamp("2025-06-02"),
    "symbol": ["AAA", "BBBB", "DDD", "EEE", "FFF"],
    "change": ["up", "entry", "exit", "down", "same"],
    "rank": [1, 2, NAN, 9, 3], "previous_rank": [5, NAN, 1, 2, 3], "rank_move": [4, NAN, NAN, -7, 0],
    "merit_score": [91.25, 88.04, NAN, 60.0, 70.0], "previous_merit_score": [80.0, NAN, 90.0, 75.0, 70.0],
    "score_change": [11.25, NAN, NAN, -15.0, 0.0]})
MESSAGE = Message("Technic top 2 for 2025-06-02 (simulated)", "body line")


def test_the_scan_message_holds_the_day_the_source_the_top_n_and_the_changes():
    message = scan_message("2025-06-02", source_label("synthetic"), TOP, CHANGES, "2025-05-30", "energy")
    assert message.subject == "Technic top 2 for 2025-06-02, screen energy (simulated)"
    assert message.body.splitlines() == [
        "  #  symbol  sector                  MERIT  reasons",
        "  1  AAA     Energy                   91.2  momentum (roc_63); low volatility",
        "  2  BBBB    Information Technology   88.0  value, quality",
        "",
        "Changes since 2025-05-30: 1 in, 1 out, 2 moved.",
        "In:    BBBB #2 (MERIT 88.0)",
        "Out:   DDD (was #1)",
        "Moves: EEE down 7 (#2 -> #9), AAA up 4 (#5 -> #1)",
    ]


def test_a_message_says_what_is_missing_and_names_other_sources():
    assert "not available" in changes_text(None)  # no `changes` table
    assert changes_text(CHANGES.iloc[:0], "2025-05-30") == (  # a first day
        "Changes since 2025-05-30: none to show (no top N stored for 2025-05-30).")
    assert scan_message("2025-06-03", "polygon", TOP.iloc[:0], None).body == "No ranked picks are stored for 2025-06-03."
    failed = failure_message("2025-06-02", "simulated", "daily_scan", "Technic scan for 2025-06-02 failed ...")
    assert failed.subject == "Technic scan for 2025-06-02 FAILED (simulated)"
    assert failed.body.startswith("job daily_scan, partition 2025-06-02\n")


def test_nothing_configured_defines_no_alert_sensor_and_no_resource():
    env = Environment.read({})
    assert not env.alerts.configured
    defs = build_definitions(env)
    assert {s.name for s in defs.sensors} == {"new_session_sensor", "scan_failure_report"}
    assert "alerts" not in defs.resources


def test_settings_are_read_and_the_secrets_stay_variable_names():
    env = Environment.read({"TECHNIC_SLACK_WEBHOOK_URL": f"https://example.invalid/{TOKEN}",
                            "TECHNIC_SMTP_HOST": "mail.example.com", "TECHNIC_SMTP_USER": "scan@example.com",
                            "TECHNIC_SMTP_PASSWORD": PASSWORD, "TECHNIC_ALERT_TO": "a@example.com, b@example.com"})
    alerts = env.alerts
    assert alerts.configured and alerts.smtp_port == 587 and alerts.smtp_starttls  # STARTTLS by default on 587
    assert alerts.sender == "scan@example.com" and alerts.recipients == ("a@example.com", "b@example.com")
    assert alerts.webhook_url_var == "TECHNIC_SLACK_WEBHOOK_URL" and alerts.smtp_password_var == "TECHNIC_SMTP_PASSWORD"
    assert TOKEN not in repr(env) and PASSWORD not in repr(env)
    defs = build_definitions(env)
    Definitions.validate_loadable(defs)
    assert {"scan_alert", "scan_failure_alert"} <= {s.name for s in defs.sensors}
    assert not Environment.read({"TECHNIC_SMTP_HOST": "h", "TECHNIC_SMTP_PORT": "25",
                                 "TECHNIC_ALERT_TO": "a@b.c", "TECHNIC_ALERT_FROM": "t@b.c"}).alerts.smtp_starttls


@pytest.mark.parametrize("env, names", [
    ({"TECHNIC_SLACK_WEBHOOK_URL": f"ftp://x/{TOKEN}"}, "TECHNIC_SLACK_WEBHOOK_URL is not an http(s) URL"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_FROM": "t@b.c"}, "but TECHNIC_ALERT_TO is not"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_TO": "a@b.c"}, "TECHNIC_ALERT_FROM is not set"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_TO": "a@b.c, nobody", "TECHNIC_ALERT_FROM": "t@b.c"},
     "TECHNIC_ALERT_TO: 'nobody' is not an email address"),
    ({"TECHNIC_ALERT_TO": "a@b.c"}, "TECHNIC_ALERT_TO is set but TECHNIC_SMTP_HOST is not"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_TO": "a@b.c", "TECHNIC_ALERT_FROM": "t@b.c",
      "TECHNIC_SMTP_PASSWORD": PASSWORD}, "TECHNIC_SMTP_PASSWORD is set but TECHNIC_SMTP_USER is not"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_TO": "a@b.c", "TECHNIC_ALERT_FROM": "t@b.c",
      "TECHNIC_SMTP_PORT": "70000"}, "TECHNIC_SMTP_PORT=70000 is outside 1..65535"),
    ({"TECHNIC_SMTP_HOST": "h", "TECHNIC_ALERT_TO": "a@b.c", "TECHNIC_ALERT_FROM": "t@b.c",
      "TECHNIC_SMTP_STARTTLS": "maybe"}, "TECHNIC_SMTP_STARTTLS='maybe' is not a yes/no value"),
])
def test_bad_settings_are_refused_naming_the_variable_never_a_secret(env, names):
    with pytest.raises(ValueError) as error:
        Environment.read(env)
    assert names in str(error.value)
    assert TOKEN not in str(error.value) and PASSWORD not in str(error.value)


def test_the_webhook_gets_slack_text_and_a_refusal_is_an_error_without_the_url():
    with webhook_receiver() as hook:
        post_webhook(hook.url, MESSAGE, timeout=5)
        path, body = hook.posts[0]
        assert body == {"text": "*Technic top 2 for 2025-06-02 (simulated)*\n```\nbody line\n```"}
        hook.status = 500
        with pytest.raises(DeliveryError, match="answered HTTP 500") as refused:
            post_webhook(hook.url, MESSAGE, timeout=5)
        assert path not in str(refused.value)


def test_an_unreachable_webhook_is_an_error_without_its_token():
    url = f"http://127.0.0.1:{free_port()}/{TOKEN}"
    with pytest.raises(DeliveryError, match="could not be reached") as down:
        post_webhook(url, MESSAGE, timeout=2)
    assert TOKEN not in str(down.value) and "/hooks/" not in str(down.value)
    assert scrub(f"POST {url} failed", [url]) == "POST *** failed"


def test_email_arrives_logged_in_and_a_wrong_password_is_an_error_without_it():
    with smtp_server("scan@example.com", PASSWORD) as box:
        send_email(MESSAGE, host="127.0.0.1", port=box.port, sender="scan@example.com",
                   recipients=["a@example.com", "b@example.com"], user="scan@example.com", password=PASSWORD,
                   timeout=5)
        mail_from, rcpt, mail = box.messages[0]
        assert (mail_from, rcpt, box.logins) == ("scan@example.com", ["a@example.com", "b@example.com"],
                                                 ["scan@example.com"])
        assert mail["Subject"] == MESSAGE.subject and mail.get_content().strip() == "body line"
        with pytest.raises(DeliveryError, match="SMTPAuthenticationError") as refused:
            send_email(MESSAGE, host="127.0.0.1", port=box.port, sender="scan@example.com",
                       recipients=["a@example.com"], user="scan@example.com", password=PASSWORD + "x", timeout=5)
        assert PASSWORD not in str(refused.value) and len(box.messages) == 1


def test_starttls_that_the_server_lacks_and_a_server_that_is_down_are_errors():
    with smtp_server() as box:
        with pytest.raises(DeliveryError, match="STARTTLS"):
            send_email(MESSAGE, host="127.0.0.1", port=box.port, sender="t@b.c", recipients=["a@b.c"],
                       starttls=True, timeout=5)
        assert box.messages == []
    with pytest.raises(DeliveryError, match=r"email through 127\.0\.0\.1:\d+ failed: ConnectionRefusedError"):
        send_email(MESSAGE, host="127.0.0.1", port=free_port(), sender="t@b.c", recipients=["a@b.c"], timeout=2)


def test_the_resource_sends_on_every_channel_and_one_down_is_a_warning(monkeypatch):
    with webhook_receiver() as hook:
        alerts = AlertsResource(slack_webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=free_port(),
                                smtp_starttls=False, sender="t@b.c", recipients=["a@b.c"], timeout_seconds=2)
        sent, warnings = alerts.send(MESSAGE)
    assert sent == ["slack"] and len(hook.posts) == 1
    assert len(warnings) == 1 and warnings[0].startswith("alert not sent: email through 127.0.0.1:")
