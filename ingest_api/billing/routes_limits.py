"""``/limits``: where the customer stands against each limit right now."""

from fastapi import APIRouter, Request

from ingest_api.billing.auth import CustomerCaller
from ingest_api.billing.errors import error_responses
from ingest_api.billing.models import quantity_text
from ingest_api.billing.models_usage import LimitsOut, LimitStatusOut
from tollgate.billing.catalogue import Catalogue
from tollgate.limits.engine import LimitEngine
from tollgate.limits.model import LimitStatus

router = APIRouter()


def limit_status_out(catalogue: Catalogue, status: LimitStatus) -> LimitStatusOut:
    feature = catalogue.features[status.feature]
    return LimitStatusOut(
        feature=status.feature,
        display_name=feature.display_name,
        unit=feature.unit,
        used=quantity_text(status.used),
        limit=None if status.limit is None else quantity_text(status.limit),
        remaining=None if status.remaining is None else quantity_text(status.remaining),
        percent_used=None if status.percent_used is None else f"{status.percent_used:.2f}",
        enforcement=status.enforcement,
        status=status.status,
        window_start=status.window_start,
        resets_at=status.resets_at,
        is_override=status.is_override,
    )


@router.get(
    "/limits",
    summary="The customer's usage against each limit",
    description=(
        "Per feature of the customer's plan: usage in the current limit window (the billing "
        "cycle, or the calendar month for plans that reset monthly), counted live (the "
        "pipeline's last publication plus every event accepted since), the limit (the "
        "customer's own or the plan's), hard or soft, what remains, and ok / warning / "
        "critical / exceeded by the alert thresholds. Empty without an active subscription."
    ),
    response_model=LimitsOut,
    responses=error_responses(400, 401, 403, 404),
)
async def get_limits(request: Request, caller: CustomerCaller) -> LimitsOut:
    # On the event loop: the limit engine lives there (it admits events on the ingest path).
    engine: LimitEngine = request.app.state.limits
    statuses = engine.statuses(caller.customer_id)
    usage = engine.cycle_usage(caller.customer_id)
    return LimitsOut(
        customer_id=caller.customer_id,
        plan=usage.plan if usage else None,
        limits=[limit_status_out(caller.catalogue, status) for status in statuses],
    )
