"""``/subscription``: start a plan, change it (prorated), cancel it."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.models import (
    CancelResult,
    ChangePlan,
    ChangePlanResult,
    CreateSubscription,
    SubscriptionBody,
    plan_change_out,
)
from ingest_api.billing.subscriptions import forget_terms, owned_subscription, render_subscription

router = APIRouter()

SubscriptionId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="The subscription's id (sub_...), as GET /api/billing/summary shows it.",
    ),
]


def _create(caller: Caller, body: CreateSubscription) -> SubscriptionBody:
    with control_errors():
        subscription = caller.control.subscribe(
            caller.customer_id, body.plan, anchoring=body.anchoring
        )
    return SubscriptionBody(subscription=render_subscription(caller, subscription))


@router.post(
    "/subscription",
    status_code=201,
    summary="Subscribe the customer to a plan",
    description=(
        "Starts `plan` now. A customer has one subscription at a time: 409 while another is "
        "active or scheduled to end later; 409 too if the plan's currency is not the "
        "customer's. Cycles are anchored on the start (anniversary) unless the plan or "
        "`anchoring` says calendar."
    ),
    response_model=SubscriptionBody,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def create_subscription(
    request: Request, caller: CustomerCaller, body: CreateSubscription
) -> SubscriptionBody:
    result = await run_in_threadpool(_create, caller, body)
    forget_terms(request, caller.customer_id)
    return result


def _change(caller: Caller, subscription_id: str, body: ChangePlan) -> ChangePlanResult:
    subscription = owned_subscription(caller, subscription_id)
    with control_errors():
        change = caller.control.change_plan(subscription.id, body.plan, when=body.when)
        after = caller.control.get_subscription(subscription.id)
    return ChangePlanResult(
        subscription=render_subscription(caller, after), change=plan_change_out(change)
    )


@router.put(
    "/subscription/{subscription_id}",
    summary="Change the subscription's plan",
    description=(
        "Moves the subscription to `plan`. By default an upgrade (new base price at least the "
        "old) takes effect now: the old plan's unused time is credited and the new plan's "
        "remaining time charged, to the second (docs/pricing.md, 'Proration'); a downgrade "
        "takes effect at the end of the current period with nothing prorated. `when` forces "
        "either. The answer's `change` holds exactly what the invoice will bill; "
        "POST /api/billing/prorate previews it."
    ),
    response_model=ChangePlanResult,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def change_plan(
    request: Request, caller: CustomerCaller, subscription_id: SubscriptionId, body: ChangePlan
) -> ChangePlanResult:
    result = await run_in_threadpool(_change, caller, subscription_id, body)
    forget_terms(request, caller.customer_id)
    return result


def _cancel(caller: Caller, subscription_id: str, at_period_end: bool) -> CancelResult:
    subscription = owned_subscription(caller, subscription_id)
    with control_errors():
        after = caller.control.cancel(subscription.id, at_period_end=at_period_end)
        changes = caller.control.plan_changes(subscription.id)
    cancellation = next(change for change in reversed(changes) if change.to_plan is None)
    return CancelResult(
        subscription=render_subscription(caller, after),
        cancellation=plan_change_out(cancellation),
    )


@router.delete(
    "/subscription/{subscription_id}",
    summary="Cancel the subscription",
    description=(
        "`at_period_end=true` (default): the subscription runs to the end of the current "
        "period and then ends; nothing is credited. `at_period_end=false`: it ends now and the "
        "unused part of the period's base price is credited on the cycle's invoice. A change "
        "scheduled for later is dropped. 409 if it has already ended or is already set to end."
    ),
    response_model=CancelResult,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
async def cancel_subscription(
    request: Request,
    caller: CustomerCaller,
    subscription_id: SubscriptionId,
    at_period_end: Annotated[
        bool, Query(description="End at the end of the current period (true) or now (false).")
    ] = True,
) -> CancelResult:
    result = await run_in_threadpool(_cancel, caller, subscription_id, at_period_end)
    forget_terms(request, caller.customer_id)
    return result
