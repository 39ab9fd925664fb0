"""The alert sensors after real in-process runs of `daily_scan` on the warm store, delivering to real
servers on loopback: an HTTP receiver standing in for the Slack webhook and an aiosmtpd server that
requires the login. A successful run sends the day's top N and its changes (checked against the two
days' stored lists read with DuckDB); a failed one sends the job, the day and the root cause; channels that are down
are warnings; no secret (the webhook's token, the SMTP password) reaches a message, a log line or the
run's events."""

import logging

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, SkipReason, build_run_status_sensor_context

from technic_assets_tests.alert_servers import QUIET, free_port, smtp_server, webhook_receiver
from technic_assets_tests.conftest import WARM_DAY
from technic_assets_tests.graph import definitions

pytestmark = pytest.mark.filterwarnings(QUIET)

HOOK_PATH = "/services/T0AL3RT/B0S3CR3T/q7Xw9Zk2Lm4Np6Rt"
TOKEN = "q7Xw9Zk2Lm4Np6Rt"
USER = "scan@example.com"
PASSWORD = "smtp-pw-Vt3#kq9!Lz"
NEXT_DAY = "2025-06-03"  # the session after WARM_DAY, not scanned in the warm store


def configure(monkeypatch, webhook_url: str, smtp_port: int) -> None:
    for name, value in {"TECHNIC_SLACK_WEBHOOK_URL": webhook_url, "TECHNIC_SMTP_HOST": "127.0.0.1",
                        "TECHNIC_SMTP_PORT": str(smtp_port), "TECHNIC_SMTP_USER": USER,
                        "TECHNIC_SMTP_PASSWORD": PASSWORD, "TECHNIC_SMTP_STARTTLS": "false",
                        "TECHNIC_ALERT_TO": "desk@example.com", "TECHNIC_ALERT_TIMEOUT_SECONDS": "3"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def channels(warm_store, monkeypatch):
    with webhook_receiver(HOOK_PATH) as hook, smtp_server(USER, PASSWORD) as box:
        configure(monkeypatch, hook.url, box.port)
        yield hook, box


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append((record.levelno, record.getMessage()))


def run_and_alert(sensor_name: str, *, day: str = WARM_DAY, select: str | None = None, **scan):
    """A real run of daily_scan for `day` (only the asset `select` if given, the rest read from the
    store), then the alert sensor `sensor_name` on its end event, as the daemon would call it: (the
    run's result, its instance, the sensor's log lines as (level, message))."""
    defs = definitions()
    instance = DagsterInstance.ephemeral()
    config = {"resources": {"scan": {"config": scan}}} if scan else None
    result = defs.resolve_job_def("daily_scan").execute_in_process(
        partition_key=day, instance=instance, run_config=config, raise_on_error=False,
        asset_selection=[AssetKey(select)] if select else None)
    run = instance.get_run_by_id(result.run_id)
    end = [e.dagster_event for e in instance.all_logs(result.run_id)
           if e.dagster_event and e.dagster_event.event_type in (DagsterEventType.RUN_SUCCESS,
                                                                 DagsterEventType.RUN_FAILURE)][0]
    with build_run_status_sensor_context(
            sensor_name=sensor_name, dagster_event=end, dagster_instance=instance, dagster_run=run,
            resources={name: defs.resources[name] for name in ("alerts", "market", "screens", "scan")}) as context:
        if sensor_name == "scan_failure_alert":
            context = context.for_run_failure()
        records = Records()
        context.log.addHandler(records)  # the sensor's own log: the tick's log under the daemon
        defs.resolve_sensor_def(sensor_name)(context)
    return result, instance, records.lines


def stored_top(path, day: str, screen: str = "default") -> pd.DataFrame:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute("SELECT rank, symbol, sector, merit_score FROM technic.ranked_top_n WHERE date = ? "
                            "AND screen = ? ORDER BY rank", [pd.Timestamp(day).to_pydatetime(), screen]).fetchdf()


def assert_lists(body: str, top: pd.DataFrame) -> None:
    """A line per pick: rank, symbol, sector, MERIT to 0.1, in rank order."""
    lines = body.splitlines()
    for row in top.itertuples():
        line = next(x for x in lines if x.startswith(f"{row.rank:>3}  {row.symbol} "))
        assert row.sector in line and f" {row.merit_score:.1f} " in line


def test_a_successful_run_sends_each_screens_top_n_and_changes_by_slack_and_email(channels, warm_store, tmp_path,
                                                                                   monkeypatch, caplog, capfd):
    """The whole daily_scan for the session after the warm day, on two saved screens: a message per
    screen with its top N and what changed since (the warm day holds the default screen only)."""
    hook, box = channels
    screens = tmp_path / "screens.yaml"
    screens.write_text("screens:\n  default: {}\n  energy: {sectors: [Energy], top_n: 5}\n")
    monkeypatch.setenv("TECHNIC_SCREENS", str(screens))
    caplog.set_level(logging.DEBUG)
    result, _, log = run_and_alert("scan_alert", day=NEXT_DAY)
    assert result.success and result.dagster_run.job_name == "daily_scan"
    top, before = stored_top(warm_store, NEXT_DAY), stored_top(warm_store, WARM_DAY)
    energy = stored_top(warm_store, NEXT_DAY, "energy")
    assert len(top) == len(before) == 25 and len(energy) == 5 and set(energy.sector) == {"Energy"}
    [(path, payload), (_, energy_payload)] = hook.posts
    [(sender, rcpt, mail), (_, _, energy_mail)] = box.messages
    assert path == HOOK_PATH and (sender, rcpt, box.logins) == (USER, ["desk@example.com"], [USER, USER])
    subject = f"Technic top 25 for {NEXT_DAY}, screen default (simulated)"
    assert mail["Subject"] == subject and payload["text"].startswith(f"*{subject}*\n```\n")
    assert energy_mail["Subject"] == f"Technic top 5 for {NEXT_DAY}, screen energy (simulated)"
    for body in (energy_payload["text"], energy_mail.get_content()):
        assert_lists(body, energy)
        assert f"Changes since {WARM_DAY}: none to show (no top N stored for {WARM_DAY})." in body
    # what changed, from the two stored lists by set arithmetic
    now, then = top.set_index("symbol")["rank"], before.set_index("symbol")["rank"]
    entries = [f"{s} #{now[s]}" for s in now.index if s not in then.index]
    exits = [f"{s} (was #{then[s]})" for s in then.index if s not in now.index]
    moves = sorted(((abs(then[s] - now[s]), now[s], s) for s in now.index if s in then.index and then[s] != now[s]))
    biggest = max(moves)[0]
    assert entries and exits and biggest > 0
    for body in (payload["text"], mail.get_content()):
        assert_lists(body, top)
        lines = body.splitlines()
        assert f"Changes since {WARM_DAY}: {len(entries)} in, {len(exits)} out, {len(moves)} moved." in body
        listed = {line[:7]: line[7:] for line in lines if line[:7] in ("In:    ", "Out:   ", "Moves: ")}
        assert all(e in listed["In:    "] for e in entries) and all(e in listed["Out:   "] for e in exits)
        assert f" {int(biggest)} (#" in listed["Moves: "].split(", ")[0]  # the biggest move first
    assert log == [(logging.INFO, f"alert for {NEXT_DAY}, screen {name} sent by slack, email")
                   for name in ("default", "energy")]
    printed = "".join(capfd.readouterr())
    for secret in (TOKEN, PASSWORD):
        sent = [str(body) for _, body in hook.posts] + [m.as_string() for *_, m in box.messages]
        assert secret not in caplog.text + printed + "".join(sent)


def test_a_failed_run_sends_the_job_the_day_and_the_root_cause(channels):
    hook, box = channels
    result, _, log = run_and_alert("scan_failure_alert", select="filtered_universe", min_price=1e7)
    assert not result.success
    [(_, payload)] = hook.posts
    [(_, _, mail)] = box.messages
    assert mail["Subject"] == f"Technic scan for {WARM_DAY} FAILED (simulated)"
    for body in (payload["text"], mail.get_content()):
        assert f"job daily_scan, partition {WARM_DAY}" in body
        assert "filtered_universe: " in body and "left no symbols" in body
    assert log == [(logging.INFO, f"alert for {WARM_DAY} sent by slack, email")]


def test_a_backfill_run_sends_nothing(channels):
    hook, box = channels
    defs = definitions()
    instance = DagsterInstance.ephemeral()
    result = defs.resolve_job_def("daily_scan").execute_in_process(
        partition_key=WARM_DAY, instance=instance, asset_selection=[AssetKey("ranked_top_n")],
        tags={"dagster/backfill": "abcdefgh"})
    end = [e.dagster_event for e in instance.all_logs(result.run_id)
           if e.dagster_event and e.dagster_event.event_type == DagsterEventType.RUN_SUCCESS][0]
    with build_run_status_sensor_context(
            sensor_name="scan_alert", dagster_event=end, dagster_instance=instance,
            dagster_run=instance.get_run_by_id(result.run_id),
            resources={name: defs.resources[name] for name in ("alerts", "market", "screens", "scan")}) as context:
        assert isinstance(defs.resolve_sensor_def("scan_alert")(context), SkipReason)
    assert hook.posts == [] and box.messages == []


def test_channels_that_are_down_are_warnings_and_no_secret_is_logged(warm_store, monkeypatch, caplog, capfd):
    configure(monkeypatch, f"http://127.0.0.1:{free_port()}{HOOK_PATH}", free_port())
    caplog.set_level(logging.DEBUG)
    ok, instance, ok_log = run_and_alert("scan_alert", select="ranked_top_n")
    failed, failed_instance, failed_log = run_and_alert("scan_failure_alert", select="filtered_universe", min_price=1e7)
    assert ok.success and not failed.success  # and the sensors raised nothing
    assert {level for level, _ in ok_log + failed_log} == {logging.WARNING}
    warnings = [message for _, message in ok_log + failed_log]
    assert len(warnings) == 4 and all(w.startswith("alert not sent: ") for w in warnings)  # both channels, both runs
    assert sum("the Slack webhook could not be reached" in w for w in warnings) == 2
    assert sum("email through 127.0.0.1:" in w for w in warnings) == 2
    events = " ".join(str(e) for i, r in ((instance, ok), (failed_instance, failed)) for e in i.all_logs(r.run_id))
    printed = "".join(capfd.readouterr())
    for secret in (TOKEN, PASSWORD):
        assert secret not in caplog.text + printed + events + " ".join(warnings)
