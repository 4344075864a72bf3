"""``/estimate`` and ``/prorate``: what a usage pattern or a plan change would cost.

Both only price: nothing is recorded. The money comes from ``tollgate.billing`` (``estimate``,
``prorate_change``), the same functions the pipeline and the control plane use.
"""

from collections.abc import Mapping
from decimal import Decimal

from fastapi import APIRouter

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import error_responses, not_found
from ingest_api.billing.models import CycleOut, Money, quantity_text
from ingest_api.billing.models_pricing import (
    ChargeOut,
    EstimateOut,
    EstimateRequest,
    PlanEstimateOut,
    ProrateRequest,
    ProrationOut,
)
from ingest_api.billing.proration import preview_change
from tollgate.billing.estimate import PlanEstimate, estimate

router = APIRouter()


def _estimate(caller: Caller, body: EstimateRequest) -> EstimateOut:
    catalogue = caller.catalogue
    for feature in body.usage:
        if feature not in catalogue.features:
            raise not_found(
                "unknown_feature",
                f"no feature '{feature}'; the catalogue has: {', '.join(catalogue.features)}",
                "See GET /api/billing/plans.",
            )
    if body.plans is None:
        names = [n for n, p in catalogue.plans.items() if p.currency == caller.customer.currency]
    else:
        names = list(dict.fromkeys(body.plans))
        for name in names:
            if name not in catalogue.plans:
                raise not_found(
                    "unknown_plan",
                    f"no plan named '{name}'; the catalogue has: {', '.join(catalogue.plans)}",
                    "See GET /api/billing/plans.",
                )
    usage: dict[str, Decimal | Mapping[str | None, Decimal]] = {}
    for feature, pattern in body.usage.items():
        if isinstance(pattern, dict):
            by_dimension: dict[str | None, Decimal] = dict(pattern.items())
            usage[feature] = by_dimension
        else:
            usage[feature] = pattern
    result = estimate(catalogue, usage, names)
    cheapest = result.cheapest
    return EstimateOut(
        cheapest=cheapest.plan if cheapest else None,
        plans=[_plan_estimate(caller, plan) for plan in result.plans],
    )


def _plan_estimate(caller: Caller, found: PlanEstimate) -> PlanEstimateOut:
    currency = found.currency
    return PlanEstimateOut(
        plan=found.plan,
        display_name=caller.catalogue.plans[found.plan].display_name,
        base_price=Money.of(found.base_price, currency),
        usage=Money.of(found.usage_amount, currency),
        total=Money.of(found.total, currency),
        eligible=found.eligible,
        blockers=list(found.blockers),
        charges=[
            ChargeOut(
                feature=charge.feature,
                dimension=charge.dimension,
                quantity=quantity_text(charge.quantity),
                included=quantity_text(charge.included),
                billable=quantity_text(charge.billable),
                amount=Money.of(charge.amount, currency),
            )
            for charge in found.charges
        ],
    )


@router.post(
    "/estimate",
    summary="Estimate a usage pattern's cost under each plan",
    description=(
        "Prices one billing cycle of the given usage under each plan: base price plus usage "
        "above the included quantities, with the pricing engine the invoices use. Plans whose "
        "hard limits the usage exceeds, or that lack a used feature, are listed last as not "
        "eligible. Nothing is recorded."
    ),
    response_model=EstimateOut,
    responses=error_responses(400, 401, 403, 404),
)
def estimate_usage(caller: CustomerCaller, body: EstimateRequest) -> EstimateOut:
    return _estimate(caller, body)


@router.post(
    "/prorate",
    summary="Preview a plan change's proration",
    description=(
        "What changing the subscription to `plan` at `at` (default now) would credit and "
        "charge, exactly as PUT /api/billing/subscription/{id} records it for the same change "
        "at the same moment: the old plan's base price for the rest of the cycle credited, "
        "the new plan's charged, each to the second and rounded once (docs/pricing.md). A "
        "downgrade defaults to the end of the period, with nothing prorated. The same "
        "refusals as the change itself (409). Nothing is recorded."
    ),
    response_model=ProrationOut,
    responses=error_responses(400, 401, 403, 404, 409),
)
def prorate(caller: CustomerCaller, body: ProrateRequest) -> ProrationOut:
    at = body.at or caller.clock()
    preview = preview_change(caller, body.plan, at, body.subscription_id, body.when)
    currency = preview.currency
    return ProrationOut(
        subscription_id=preview.subscription.id,
        from_plan=preview.from_plan,
        to_plan=preview.to_plan,
        at=preview.asked_at,
        effective_at=preview.effective_at,
        timing=preview.timing,
        cycle=CycleOut(start=preview.cycle.start, end=preview.cycle.end),
        remaining_seconds=preview.remaining_seconds,
        credit=Money.of(preview.credit, currency),
        charge=Money.of(preview.charge, currency),
        net=Money.of(preview.credit + preview.charge, currency),
    )
