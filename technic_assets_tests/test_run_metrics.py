"""The evening run's figures pushed to a Pushgateway (issue 23): the sensor run on a real run's records,
pushing to a real HTTP receiver on loopback; the body read with the Prometheus client's own parser."""

import http.server
import threading

import pytest
from dagster import AssetMaterialization, DagsterEventType, DagsterInstance, Output, asset, define_asset_job, materialize
from dagster import build_run_status_sensor_context
from prometheus_client.parser import text_string_to_metric_families

from technic_assets.environment import Environment
from technic_assets.run_metrics import JOB, build_metrics_sensor, figures, registry_for


class Receiver(http.server.BaseHTTPRequestHandler):
    """A Pushgateway's front door: keeps each request (method, path, body) and answers 200."""

    received: list

    def do_PUT(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        self.received.append((self.command, self.path, body.decode()))
        self.send_response(200)
        self.end_headers()

    do_POST = do_PUT

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", Receiver.received
    server.shutdown()
    server.server_close()


@asset
def bars(context):
    # history filled for an earlier day: not this run's rows
    context.log_event(AssetMaterialization(asset_key="bars", partition=None, metadata={"rows": 999, "filled_by": "x"}))
    return Output(1, metadata={"rows": 120, "cache_requests": 3, "cache_l1_hits": 5, "cache_l3_hits": 1})


@asset(deps=[bars])
def scores():
    return Output(2, metadata={"rows": 20, "seconds": 0.5})


def run_and_sense(url: str):
    """Materialize the two assets on an instance, then call the sensor on that run's success event."""
    instance = DagsterInstance.ephemeral()
    result = materialize([bars, scores], instance=instance, tags={"dagster/partition": "2025-06-02"})
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    event = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.RUN_SUCCESS).records[0]
    sensor = build_metrics_sensor(define_asset_job("daily_scan"), url)
    context = build_run_status_sensor_context(sensor_name=sensor.name, dagster_instance=instance, dagster_run=run,
                                              dagster_event=event.event_log_entry.dagster_event)
    sensor(context)
    return instance, run


def samples(text: str) -> dict:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_a_successful_run_pushes_its_figures_to_the_gateway(gateway):
    url, received = gateway
    instance, run = run_and_sense(url)
    assert len(received) == 1
    method, path, body = received[0]
    assert method == "PUT" and path == f"/metrics/job/{JOB}"  # PUT: the group's figures replaced each run
    got = samples(body)
    stats = instance.get_run_stats(run.run_id)
    assert got[("technic_evening_last_success_timestamp_seconds", ())] == pytest.approx(stats.end_time)
    assert got[("technic_evening_run_seconds", ())] == pytest.approx(stats.end_time - stats.start_time)
    assert got[("technic_evening_day_timestamp_seconds", ())] == 1748822400.0  # 2025-06-02 00:00 UTC
    assert got[("technic_evening_rows", (("asset", "bars"),))] == 120.0  # not the 999 filled for another day
    assert got[("technic_evening_rows", (("asset", "scores"),))] == 20.0
    assert got[("technic_evening_api_requests", ())] == 3.0 and got[("technic_evening_cache_hits", ())] == 6.0
    assert got[("technic_evening_cache_hit_ratio", ())] == pytest.approx(6 / 9)
    steps = {labels[0][1]: v for (name, labels), v in got.items() if name == "technic_evening_step_seconds"}
    assert set(steps) == {"bars", "scores"} and all(v >= 0 for v in steps.values())


def test_a_gateway_that_cannot_be_reached_is_no_failed_tick(gateway):
    url, received = gateway
    from technic_assets_tests.live_server import free_port

    run_and_sense(f"http://127.0.0.1:{free_port()}")  # nothing listens there: a warning, no exception
    assert received == []


def test_a_run_without_api_requests_has_no_hit_ratio():
    fig = figures(10.0, 25.0, None, [("a", 10.0, 12.5), ("b", 12.5, None)], [("a", {"rows": 7})])
    assert fig.steps == {"a": 2.5} and fig.rows == {"a": 7}
    got = samples(__import__("prometheus_client").generate_latest(registry_for(fig)).decode())
    assert ("technic_evening_cache_hit_ratio", ()) not in got and ("technic_evening_day_timestamp_seconds", ()) not in got
    assert got[("technic_evening_run_seconds", ())] == 15.0


def test_the_sensor_is_defined_only_with_a_gateway(tmp_path):
    from technic_assets.definitions import build_definitions

    env = Environment.read({"TECHNIC_DUCKDB_PATH": str(tmp_path / "s.duckdb")})
    assert "scan_metrics_push" not in {s.name for s in build_definitions(env).sensors}
    pushed = Environment.read({"TECHNIC_DUCKDB_PATH": str(tmp_path / "s.duckdb"),
                               "TECHNIC_PUSHGATEWAY_URL": "http://pushgateway:9091"})
    assert "scan_metrics_push" in {s.name for s in build_definitions(pushed).sensors}
    with pytest.raises(ValueError, match="TECHNIC_PUSHGATEWAY_URL"):
        Environment.read({"TECHNIC_PUSHGATEWAY_URL": "pushgateway:9091"})
