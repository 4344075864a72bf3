"""Runs that start themselves: new events files -> stage their dates -> refresh usage."""

import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from ingest_api.storage.compactor import part_seq
from pipelines.defs.billing.jobs import load_events_job, refresh_usage_job
from tollgate.settings import TollgateSettings


def new_event_files(events_dir: Path, seen_seq: int, seen_dates: set[str]) -> dict[str, int]:
    """Event dates with files not yet requested, and each date's newest file seq.

    One compactor flush writes the same seq into every date it spans, one after another, so a
    tick can see part of a flush: files at the cursor's seq still count for dates not seen.
    """
    dates: dict[str, int] = {}
    for path in events_dir.glob("date=*/part-*.parquet"):
        seq = part_seq(path)
        day = path.parent.name.removeprefix("date=")
        if seq > seen_seq or (seq == seen_seq and day not in seen_dates):
            dates[day] = max(seq, dates.get(day, 0))
    return dates


@dg.sensor(job=load_events_job, minimum_interval_seconds=30)
def new_event_files_sensor(context: dg.SensorEvaluationContext) -> Iterator[dg.RunRequest]:
    """One run per event date that got new Parquet files.

    The cursor is the newest file seq requested and the dates requested at that seq.
    """
    cursor = json.loads(context.cursor) if context.cursor else {"seq": 0, "dates": []}
    seen_seq, seen_dates = int(cursor["seq"]), set(cursor.get("dates", []))
    dates = new_event_files(TollgateSettings().events_dir, seen_seq, seen_dates)
    for day, seq in sorted(dates.items()):
        # The run key makes a repeated evaluation (after a crash before the cursor moved)
        # request nothing twice.
        yield dg.RunRequest(run_key=f"events:{day}:{seq}", partition_key=day)
    if dates:
        newest = max(dates.values())
        at_newest = {day for day, seq in dates.items() if seq == newest}
        if newest == seen_seq:
            at_newest |= seen_dates
        context.update_cursor(json.dumps({"seq": newest, "dates": sorted(at_newest)}))


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[load_events_job],
    request_job=refresh_usage_job,
    minimum_interval_seconds=30,
)
def refresh_after_events_loaded(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"refresh-after:{context.dagster_run.run_id}")
