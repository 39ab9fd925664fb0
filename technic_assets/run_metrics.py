"""The evening run's figures for Prometheus: pushed to a Pushgateway after each successful run.

A batch job is gone before Prometheus could scrape it, so it pushes its figures to a Pushgateway, which
Prometheus scrapes (Prometheus's own advice for batch jobs). A run-status sensor on `daily_scan` reads
what the run recorded (Dagster's step stats and the assets' materialization metadata: rows, seconds,
the source's requests and cache hits) and PUTs them to TECHNIC_PUSHGATEWAY_URL under the group
`job="technic_evening"`; each push replaces the last, so the gauges are the latest run's:

    technic_evening_last_success_timestamp_seconds   when the run ended
    technic_evening_day_timestamp_seconds            the scanned day (midnight UTC), for "is it stale"
    technic_evening_run_seconds                      the run's wall time
    technic_evening_step_seconds{step}               each step's wall time
    technic_evening_rows{asset}                      the rows each asset wrote
    technic_evening_api_requests                     requests sent to the market-data API (0: built-in)
    technic_evening_cache_hits                       answers from the HTTP caches instead of a request
    technic_evening_cache_hit_ratio                  hits / (hits + requests), when there were either

Defined only when TECHNIC_PUSHGATEWAY_URL is set (definitions.py). A gateway that cannot be reached is a
logged warning, never a failed tick (the scan has succeeded; its figures are not worth a page).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
from dagster import DagsterEventType, DagsterRunStatus, DefaultSensorStatus, RunStatusSensorContext, run_status_sensor
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

JOB = "technic_evening"
PARTITION_TAG = "dagster/partition"
PUSH_TIMEOUT_SECONDS = 10.0


@dataclass
class RunFigures:
    finished: float  # epoch seconds
    run_seconds: float
    day: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    api_requests: int = 0
    cache_hits: int = 0


def figures(start: float, end: float, day: str | None, steps: list[tuple[str, float | None, float | None]],
            materializations: list[tuple[str, dict]]) -> RunFigures:
    """A run's figures from its times, its steps' (key, start, end) and its materializations' (asset,
    metadata of plain values). History a step filled for other days (`filled_by`) is not this run's
    output; the cache counters are per step (provider_report), so they add up."""
    out = RunFigures(finished=end, run_seconds=end - start, day=day)
    for key, began, ended in steps:
        if began is not None and ended is not None:
            out.steps[key] = ended - began
    for asset, meta in materializations:
        if "filled_by" in meta:
            continue
        if isinstance(meta.get("rows"), int):
            out.rows[asset] = out.rows.get(asset, 0) + meta["rows"]
        out.api_requests += int(meta.get("cache_requests", 0) or 0)
        out.cache_hits += int(meta.get("cache_l1_hits", 0) or 0) + int(meta.get("cache_l3_hits", 0) or 0)
    return out


def registry_for(fig: RunFigures) -> CollectorRegistry:
    """The figures as gauges on a registry of their own, ready to push."""
    registry = CollectorRegistry()

    def gauge(name: str, text: str, value: float | None = None, labels=()):
        g = Gauge(name, text, list(labels), registry=registry)
        if value is not None:
            g.set(value)
        return g

    gauge("technic_evening_last_success_timestamp_seconds", "When the last successful evening run ended.",
          fig.finished)
    if fig.day:
        gauge("technic_evening_day_timestamp_seconds", "The day the last evening run scanned (midnight UTC).",
              pd.Timestamp(fig.day, tz="UTC").timestamp())
    gauge("technic_evening_run_seconds", "Wall time of the last evening run.", fig.run_seconds)
    steps = gauge("technic_evening_step_seconds", "Wall time of each step of the last evening run.", labels=["step"])
    for key, seconds in sorted(fig.steps.items()):
        steps.labels(key).set(seconds)
    rows = gauge("technic_evening_rows", "Rows each asset wrote in the last evening run.", labels=["asset"])
    for asset, n in sorted(fig.rows.items()):
        rows.labels(asset).set(n)
    gauge("technic_evening_api_requests", "Requests the last evening run sent to the market-data API.",
          fig.api_requests)
    gauge("technic_evening_cache_hits", "Answers the HTTP caches gave instead of a request.", fig.cache_hits)
    if fig.api_requests + fig.cache_hits:
        gauge("technic_evening_cache_hit_ratio", "Cache hits over hits and requests in the last evening run.",
              fig.cache_hits / (fig.api_requests + fig.cache_hits))
    return registry


def read_run(instance, run) -> RunFigures:
    """What the instance recorded of a finished run."""
    stats = instance.get_run_stats(run.run_id)
    steps = [(s.step_key, s.start_time, s.end_time) for s in instance.get_run_step_stats(run.run_id)]
    records = instance.get_records_for_run(run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION).records
    materializations = []
    for record in records:
        m = record.event_log_entry.dagster_event.event_specific_data.materialization
        materializations.append((m.asset_key.to_user_string(), {k: v.value for k, v in m.metadata.items()}))
    return figures(stats.start_time or 0.0, stats.end_time or 0.0, run.tags.get(PARTITION_TAG), steps,
                   materializations)


def build_metrics_sensor(job, gateway: str):
    """The sensor that pushes each successful run of `job` to the Pushgateway at `gateway`."""

    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[job], name="scan_metrics_push",
                       default_status=DefaultSensorStatus.RUNNING,
                       description="Pushes the run's step timings, rows, API requests and cache hits to the "
                                   "Prometheus Pushgateway (TECHNIC_PUSHGATEWAY_URL).")
    def scan_metrics_push(context: RunStatusSensorContext):
        fig = read_run(context.instance, context.dagster_run)
        try:
            push_to_gateway(gateway, job=JOB, registry=registry_for(fig), timeout=PUSH_TIMEOUT_SECONDS)
        except OSError as exc:  # refused, timed out, or an HTTP error from the gateway
            context.log.warning(f"the Pushgateway at {gateway} took no metrics: {exc}")
            return
        context.log.info(f"pushed run {context.dagster_run.run_id[:8]}'s figures to {gateway}")

    return scan_metrics_push
