"""The scan's progress on stderr: a line as each asset finishes, and the assets' own info lines, in place
of Dagster's console logger (which prints its debug lines too)."""

from __future__ import annotations

import logging
import sys
import time

from dagster import Field, logger


class Progress(logging.Handler):
    """Prints one line as each asset finishes, and the assets' own info lines."""

    def __init__(self, stream):
        super().__init__()
        self.stream, self.start = stream, time.perf_counter()

    def emit(self, record):
        meta = getattr(record, "dagster_meta", {}) or {}
        event = meta.get("dagster_event")
        elapsed = time.perf_counter() - self.start
        if event is not None and event.event_type_value == "STEP_SUCCESS":
            print(f"  [{elapsed:6.1f}s] done  {event.step_key}", file=self.stream, flush=True)
        elif event is not None and event.event_type_value == "STEP_FAILURE":
            print(f"  [{elapsed:6.1f}s] FAILED {event.step_key}", file=self.stream, flush=True)
        elif event is None and record.levelno >= logging.INFO:
            print(f"  [{elapsed:6.1f}s] {meta.get('orig_message', record.getMessage())}", file=self.stream, flush=True)


def progress_logger():
    """The run's logger: a line per finished asset, or nothing at all with `{"config": {"quiet": True}}`
    (without a logger of its own a run falls back on Dagster's console logger, debug lines and all)."""

    @logger(config_schema={"quiet": Field(bool, default_value=False)})
    def progress(init_context):
        log = logging.Logger("technic.progress", level=logging.DEBUG)
        log.addHandler(logging.NullHandler() if init_context.logger_config["quiet"] else Progress(sys.stderr))
        return log

    return progress
