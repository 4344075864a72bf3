"""``/admin/...``: operators set a customer's limits (admin keys only).

``PUT /admin/limits`` is the original ``setUsageLimits``; ``PUT /admin/limits/from-plan`` is
``setUserLimitsFromPlan``. A customer's own limits (overrides) stay across plan changes until
reset; the limit engine applies them to the very next event.
"""

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ingest_api.billing.auth import AdminCaller, Caller
from ingest_api.billing.errors import control_errors, error_responses, not_found
from ingest_api.billing.models import quantity_text
from ingest_api.billing.models_usage import (
    EffectiveLimitOut,
    EffectiveLimitsOut,
    LimitsFromPlan,
    SetLimits,
)
from ingest_api.billing.subscriptions import forget_terms
from ingest_api.events.errors import RequestError

router = APIRouter()


def effective_limits(caller: Caller) -> EffectiveLimitsOut:
    with control_errors():
        found = caller.control.effective_limits(caller.customer_id)
    return EffectiveLimitsOut(
        customer_id=caller.customer_id,
        plan=found.plan,
        limits=[
            EffectiveLimitOut(
                feature=limit.feature,
                value=None if limit.value is None else quantity_text(limit.value),
                enforcement=limit.enforcement,
                source=limit.source,
            )
            for limit in found.limits.values()
        ],
    )


def _set_limits(caller: Caller, body: SetLimits) -> EffectiveLimitsOut:
    for feature in [*body.limits, *body.reset]:
        if feature not in caller.catalogue.features:
            raise not_found(
                "unknown_feature",
                f"no feature '{feature}'; the catalogue has: "
                f"{', '.join(caller.catalogue.features)}",
                "See GET /api/billing/plans.",
            )
    both = sorted(set(body.limits) & set(body.reset))
    if both:
        raise RequestError(
            400,
            "invalid_request",
            f"{', '.join(both)} both set and reset",
            "Either set a feature's limit or reset it, not both.",
        )
    with control_errors():
        for feature, setting in body.limits.items():
            caller.control.set_limit(
                caller.customer_id, feature, setting.value, setting.enforcement
            )
        overridden = {o.feature for o in caller.control.limit_overrides(caller.customer_id)}
        for feature in body.reset:
            # Resetting a limit that is not overridden is already done: not an error.
            if feature in overridden:
                caller.control.clear_limit(caller.customer_id, feature)
    return effective_limits(caller)


@router.put(
    "/admin/limits",
    summary="Set or reset a customer's own limits (admin)",
    description=(
        "Sets the customer's own limit for each feature in `limits` (value null: unlimited; "
        "enforcement default: what the plan says) and drops it for each feature in `reset`, "
        "so the plan's limit applies again. Answers the limits now in force. Admin keys only."
    ),
    response_model=EffectiveLimitsOut,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def set_limits(request: Request, caller: AdminCaller, body: SetLimits) -> EffectiveLimitsOut:
    result = await run_in_threadpool(_set_limits, caller, body)
    forget_terms(request, caller.customer_id)
    return result


def _from_plan(caller: Caller, body: LimitsFromPlan) -> EffectiveLimitsOut:
    with control_errors():
        caller.control.set_limits_from_plan(caller.customer_id, body.plan)
    return effective_limits(caller)


@router.put(
    "/admin/limits/from-plan",
    summary="Give a customer a plan's limits (admin)",
    description=(
        "Replaces all of the customer's own limits with `plan`'s (which then stay when the "
        "customer changes plans), or with `plan: null` drops them all, so the customer "
        "follows their current plan's limits. Answers the limits now in force. Admin keys "
        "only."
    ),
    response_model=EffectiveLimitsOut,
    responses=error_responses(400, 401, 403, 404),
)
async def limits_from_plan(
    request: Request, caller: AdminCaller, body: LimitsFromPlan
) -> EffectiveLimitsOut:
    result = await run_in_threadpool(_from_plan, caller, body)
    forget_terms(request, caller.customer_id)
    return result
