"""Hourly usage refresh; daily close of ended cycles."""

import dagster as dg

from pipelines.defs.billing.jobs import close_cycles_job, refresh_usage_job
from pipelines.defs.billing.run_context import AS_OF_TAG


def _as_of_tags(context: dg.ScheduleEvaluationContext) -> dict[str, str]:
    # The scheduled moment, not the moment the daemon got to it: a late tick bills the same.
    moment = context.scheduled_execution_time
    return {AS_OF_TAG: moment.isoformat()} if moment else {}


@dg.schedule(job=refresh_usage_job, cron_schedule="5 * * * *", execution_timezone="UTC")
def hourly_usage_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(tags=_as_of_tags(context))


# Cycles end at all hours (anniversaries); once a day, after the grace period of the last
# ones, every cycle that has ended and waited out its grace is finalized.
@dg.schedule(job=close_cycles_job, cron_schedule="30 1 * * *", execution_timezone="UTC")
def daily_cycle_close(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(tags=_as_of_tags(context))
