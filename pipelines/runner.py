"""Runs the billing pipeline in this process: for the CLI, the demo, tests and benchmarks.

The same jobs the sensor and schedules launch under ``dagster dev``: first the event dates that
have files (one run over the date range), then the usage refresh, or the cycle close that also
finalizes invoices.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

import dagster as dg

from pipelines.defs.billing.run_context import AS_OF_TAG
from pipelines.environment import temporary_environment
from tollgate.settings import TollgateSettings

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


class PipelineRunError(RuntimeError):
    def __init__(self, job: str, result: dg.ExecuteInProcessResult) -> None:
        failures = [
            _message(event.step_failure_data.error)
            for event in result.all_events
            if event.is_step_failure and event.step_failure_data.error is not None
        ]
        detail = "\n".join(failures) or "see the run's logs"
        super().__init__(f"pipeline job {job} failed:\n{detail}")
        self.job = job
        self.result = result


def _message(error: Any) -> str:
    # A dagster SerializableErrorInfo: the step's own error wraps the one that matters
    # (a Failure's description, a dbt error).
    messages = [error.message.strip()]
    while error.cause is not None:
        error = error.cause
        messages.append(error.message.strip())
    return "\n  caused by: ".join(messages)


def event_dates(settings: TollgateSettings) -> list[date]:
    return sorted(
        date.fromisoformat(path.name.removeprefix("date="))
        for path in settings.events_dir.glob("date=*")
        if path.is_dir()
    )


def run_pipeline(
    settings: TollgateSettings,
    as_of: datetime,
    *,
    close: bool = True,
    dates: Sequence[date] | None = None,
    instance: dg.DagsterInstance | None = None,
) -> list[dg.ExecuteInProcessResult]:
    """Loads ``dates`` (default: every date with events), then refreshes or closes billing."""
    from pipelines.definitions import defs

    tags = {AS_OF_TAG: as_of.isoformat()}
    instance = instance or dg.DagsterInstance.ephemeral()
    results = []
    with _settings_in_environment(settings):
        days = list(dates) if dates is not None else event_dates(settings)
        if days:
            range_tags = {
                RANGE_START_TAG: min(days).isoformat(),
                RANGE_END_TAG: max(days).isoformat(),
            }
            results.append(_execute(defs, "load_events", instance, {**tags, **range_tags}))
        results.append(_execute(defs, "close_cycles" if close else "refresh_usage", instance, tags))
    return results


def _execute(
    defs: dg.Definitions, job: str, instance: dg.DagsterInstance, tags: dict[str, str]
) -> dg.ExecuteInProcessResult:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=tags, raise_on_error=False
    )
    if not result.success:
        raise PipelineRunError(job, result)
    return result


def _settings_in_environment(settings: TollgateSettings) -> AbstractContextManager[None]:
    # Assets read TollgateSettings from the environment when they run; make it this one.
    values = {
        "TOLLGATE_DATA_DIR": str(settings.data_dir.resolve()),
        "TOLLGATE_WAREHOUSE": str(settings.warehouse_path),
    }
    if settings.plans_file:
        values["TOLLGATE_PLANS_FILE"] = str(settings.plans_file.resolve())
    if settings.control_url:
        values["TOLLGATE_CONTROL_URL"] = settings.control_url
    return temporary_environment(values)
