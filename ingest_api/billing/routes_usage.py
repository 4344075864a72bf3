"""``/usage``: the customer's usage by day, feature and dimension, over a range of days."""

import re
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BeforeValidator

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.daily_usage import daily_usage
from ingest_api.billing.errors import control_errors, error_responses, not_found
from ingest_api.billing.models import quantity_text
from ingest_api.billing.models_usage import DailyUsageOut, UsageOut
from ingest_api.events.errors import RequestError

router = APIRouter()


def _iso_day(value: object) -> object:
    # Only YYYY-MM-DD: pydantic would also read "0" as a Unix time.
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
Day = Annotated[date, BeforeValidator(_iso_day)]

DEFAULT_DAYS = 30


def usage_report(
    events_dir: Path, caller: Caller, start: date | None, end: date | None, feature: str | None
) -> UsageOut:
    """What ``GET /usage`` answers for ``from=start``, ``to=end`` and ``feature``.

    Public: the dashboards' Usage page calls it in-process, over the same event files."""
    if feature is not None and feature not in caller.catalogue.features:
        raise not_found(
            "unknown_feature",
            f"no feature '{feature}'; the catalogue has: {', '.join(caller.catalogue.features)}",
            "See GET /api/billing/plans.",
        )
    now = caller.clock()
    with control_errors():
        active = caller.control.active_plan(caller.customer_id, now)
    end = end or now.date()
    if start is None:
        start = date.fromordinal(max(1, end.toordinal() - DEFAULT_DAYS))
        if active is not None and active.cycle.start.date() <= end:
            start = active.cycle.start.date()
    if start > end:
        raise RequestError(
            400,
            "invalid_range",
            f"from ({start}) is after to ({end})",
            "Give from <= to (both days are included).",
        )
    dimensions: dict[str, str] = {}
    if active is not None:
        dimensions = {
            name: spec.dimension
            for name, spec in active.plan.features.items()
            if spec.dimension is not None
        }
    rows = daily_usage(
        events_dir, caller.catalogue, caller.customer_id, start, end, dimensions, feature
    )
    return UsageOut(
        customer_id=caller.customer_id,
        start=start,
        end=end,
        days=[
            DailyUsageOut(
                date=row.day,
                feature=row.feature,
                dimension=row.dimension,
                quantity=quantity_text(row.quantity),
                events=row.events,
            )
            for row in rows
        ],
    )


@router.get(
    "/usage",
    summary="The customer's usage by day, feature and dimension",
    description=(
        "Usage per UTC day and feature, split by the event property the customer's current "
        "plan prices the feature by (ai_tokens by model on Pay per use), from the events "
        "stored so far: counted as invoices count them (each event id once, in the feature's "
        "unit, aggregated the feature's way), including events not billed by a pipeline run "
        "yet. Default range: the current cycle's first day (or, if that is after `to`, 30 "
        "days before `to`) to today. 400 if `from` is after `to`."
    ),
    response_model=UsageOut,
    responses=error_responses(400, 401, 403, 404),
)
def get_usage(
    request: Request,
    caller: CustomerCaller,
    start: Annotated[
        Day | None,
        Query(alias="from", description="First day (UTC), YYYY-MM-DD.", examples=["2026-11-01"]),
    ] = None,
    end: Annotated[
        Day | None,
        Query(alias="to", description="Last day (UTC), included.", examples=["2026-11-24"]),
    ] = None,
    feature: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Only this feature.")
    ] = None,
) -> UsageOut:
    events_dir: Path = request.app.state.endpoint.service.settings.events_dir
    return usage_report(events_dir, caller, start, end, feature)
