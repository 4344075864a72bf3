"""``/summary``: the customer's billing at a glance: plan, cycle, usage, limits and cost."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.cost import cycle_cost, elapsed_fraction, rebuilt_draft
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.marts import publication
from ingest_api.billing.models import (
    CycleOut,
    Money,
    SubscriptionOut,
    plan_brief,
    quantity_text,
)
from ingest_api.billing.models_usage import CostOut, CycleUsageOut, SummaryOut
from ingest_api.billing.routes_limits import limit_status_out
from ingest_api.billing.subscriptions import render_subscription
from tollgate.billing.identifiers import invoice_id
from tollgate.billing.pricing import ZERO
from tollgate.control.models import ActivePlan
from tollgate.limits.engine import LimitEngine
from tollgate.limits.model import CycleUsage, LimitStatus
from tollgate.warehouse.reader import PublishedMarts

router = APIRouter()

_DRAFT = """
    select total from fct_invoices
    where invoice_id = $invoice and customer_id = $customer and status = 'draft'
"""


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the summary reads from the control plane and the marts (off the event loop)."""

    now: datetime
    active: ActivePlan | None
    subscription: SubscriptionOut | None
    as_of: datetime | None
    draft_total: int | None
    rebuilt_total: int | None


def _stored(marts: PublishedMarts, caller: Caller, usage: CycleUsage | None) -> _Stored:
    now = caller.clock()
    with control_errors():
        active = caller.control.active_plan(caller.customer_id, now)
    subscription = render_subscription(caller, active.subscription) if active else None
    with publication(marts) as published:
        as_of = published.as_of if published else None
        draft_total = None
        if published is not None and usage is not None:
            rows = published.rows(
                _DRAFT,
                {
                    "invoice": invoice_id(caller.customer_id, usage.cycle_start),
                    "customer": caller.customer_id,
                },
            )
            draft_total = int(rows[0]["total"]) if rows else None
    rebuilt_total = None
    if active is not None and usage is not None and draft_total is None:
        with control_errors():
            plan_at_start = caller.control.plan_at(active.subscription.id, active.cycle.start)
            changes = caller.control.plan_changes(active.subscription.id)
        rebuilt_total = rebuilt_draft(
            caller.catalogue.plan(plan_at_start or active.plan_name),
            caller.catalogue.plan(usage.plan),
            active.cycle,
            changes,
            usage.quantities,
        )
    return _Stored(now, active, subscription, as_of, draft_total, rebuilt_total)


def _usage_rows(
    caller: Caller, usage: CycleUsage, projected: dict[str, dict[str | None, Decimal]]
) -> list[CycleUsageOut]:
    rows = []
    for feature in sorted({*usage.quantities, *usage.published}):
        spec = caller.catalogue.features[feature]
        live = usage.quantities.get(feature, {})
        published = usage.published.get(feature, {})
        for dimension in sorted({*live, *published}, key=lambda d: (d is not None, d or "")):
            quantity = live.get(dimension, ZERO)
            rows.append(
                CycleUsageOut(
                    feature=feature,
                    display_name=spec.display_name,
                    unit=spec.unit,
                    dimension=dimension,
                    quantity=quantity_text(quantity),
                    published_quantity=quantity_text(published.get(dimension, ZERO)),
                    projected_quantity=quantity_text(
                        projected.get(feature, {}).get(dimension, quantity)
                    ),
                )
            )
    return rows


def _summary(
    caller: Caller, stored: _Stored, statuses: list[LimitStatus], usage: CycleUsage | None
) -> SummaryOut:
    currency = caller.customer.currency
    limits = [limit_status_out(caller.catalogue, status) for status in statuses]
    base = {
        "customer_id": caller.customer_id,
        "currency": currency,
        "computed_at": stored.now,
        "as_of": stored.as_of,
        "subscription": stored.subscription,
        "limits": limits,
    }
    if stored.active is None or usage is None:
        return SummaryOut(**base, plan=None, cycle=None, elapsed_fraction=None, usage=[], cost=None)
    plan = caller.catalogue.plan(usage.plan)
    if stored.draft_total is not None:
        cost = cycle_cost(
            caller.catalogue, plan, usage, stored.draft_total, usage.published, stored.now
        )
    else:
        assert stored.rebuilt_total is not None
        cost = cycle_cost(
            caller.catalogue, plan, usage, stored.rebuilt_total, usage.quantities, stored.now
        )
    fraction = elapsed_fraction(usage.cycle_start, usage.cycle_end, stored.now)
    return SummaryOut(
        **base,
        plan=plan_brief(usage.plan, plan),
        cycle=CycleOut(start=usage.cycle_start, end=usage.cycle_end),
        elapsed_fraction=f"{fraction:.6f}",
        usage=_usage_rows(caller, usage, cost.projected_quantities),
        cost=CostOut(
            so_far=Money.of(cost.so_far, currency),
            projected=Money.of(cost.projected, currency),
            basis="draft_invoice" if stored.draft_total is not None else "live_estimate",
            draft_invoice_id=invoice_id(caller.customer_id, usage.cycle_start)
            if stored.draft_total is not None
            else None,
            draft_total=None
            if stored.draft_total is None
            else Money.of(stored.draft_total, currency),
        ),
    )


@router.get(
    "/summary",
    summary="The customer's billing at a glance",
    description=(
        "The subscription and plan, the current billing cycle, usage in it (counted live: the "
        "pipeline's last run plus every event accepted since), the limits, and the cycle's "
        "cost so far and projected to its end. Cost so far = the cycle's draft invoice as "
        "last published + for each feature and dimension, the price of the live quantity "
        "minus the price of the quantity the draft counted. Projected = each sum/count "
        "quantity extrapolated linearly over the elapsed share of the cycle, priced the same "
        "way. Without an active subscription: no plan, cycle, usage or cost."
    ),
    response_model=SummaryOut,
    responses=error_responses(400, 401, 403, 404),
)
async def get_summary(request: Request, caller: CustomerCaller) -> SummaryOut:
    # The limit engine is read on the event loop, where it lives; everything else off it.
    engine: LimitEngine = request.app.state.limits
    statuses = engine.statuses(caller.customer_id)
    usage = engine.cycle_usage(caller.customer_id)
    stored = await run_in_threadpool(_stored, request.app.state.marts, caller, usage)
    return _summary(caller, stored, statuses, usage)


def build_summary(caller: Caller, marts: PublishedMarts, engine: LimitEngine) -> SummaryOut:
    """What ``GET /summary`` answers, computed in one go by an in-process reader that owns its
    limit engine (the dashboards); the route splits the same steps between the event loop and
    a worker thread."""
    statuses = engine.statuses(caller.customer_id)
    usage = engine.cycle_usage(caller.customer_id)
    return _summary(caller, _stored(marts, caller, usage), statuses, usage)
