"""Runs that start themselves: new events files -> stage their dates -> refresh usage."""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from pipelines.defs.billing.jobs import load_events_job, refresh_usage_job
from tollgate.settings import TollgateSettings


def new_event_files(events_dir: Path, after_seq: int) -> dict[str, int]:
    """Event dates with files newer than ``after_seq``, and each date's newest file seq."""
    dates: dict[str, int] = {}
    for path in events_dir.glob("date=*/part-*.parquet"):
        seq = int(path.name[5:17])
        if seq > after_seq:
            day = path.parent.name.removeprefix("date=")
            dates[day] = max(seq, dates.get(day, 0))
    return dates


@dg.sensor(job=load_events_job, minimum_interval_seconds=30)
def new_event_files_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    """One run per event date that got new Parquet files; the cursor is the newest file seq."""
    cursor = json.loads(context.cursor) if context.cursor else {"seq": 0}
    dates = new_event_files(TollgateSettings().events_dir, int(cursor["seq"]))
    for day, seq in sorted(dates.items()):
        # The run key makes a repeated evaluation (after a crash before the cursor moved)
        # request nothing twice.
        yield dg.RunRequest(run_key=f"events:{day}:{seq}", partition_key=day)
    if dates:
        context.update_cursor(json.dumps({"seq": max(dates.values())}))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[load_events_job],
    request_job=refresh_usage_job,
    minimum_interval_seconds=30,
)
def refresh_after_events_loaded(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"refresh-after:{context.dagster_run.run_id}")
