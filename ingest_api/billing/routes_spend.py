"""``/spend-thresholds``: alerts on the billing cycle's cost, and a budget that stops spend.

Stored in the control plane (``ControlService.set_spend_thresholds``); enforced by the live
limit engine in this same process (``tollgate.limits.spend``), which the PUT tells at once, so
the next event is judged by the new budget and an alert already passed is recorded before the
answer. Another process's change (the dashboards) reaches the engine through its change feed
within a second. The spend reported is the engine's, the same figure as ``GET /summary``'s
cost so far.

The plain functions (``spend_view``, ``save_spend``) are what the dashboards call in-process
with a limit engine of their own; the routes split the same steps between the event loop,
where the server's engine lives, and worker threads for the control plane.
"""

import logging
import re
from datetime import datetime
from decimal import Decimal

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.models import CycleOut, Money
from ingest_api.billing.models_spend import (
    BudgetOut,
    SpendThresholdOut,
    SpendThresholdsIn,
    SpendThresholdsOut,
)
from ingest_api.events.errors import RequestError
from tollgate.billing.alerts import BUDGET_REACHED, SPEND_ALERT
from tollgate.billing.identifiers import notification_id
from tollgate.billing.money import exponent
from tollgate.control.models import SpendThresholds
from tollgate.limits.engine import LimitEngine
from tollgate.limits.spend import SpendStatus

log = logging.getLogger(__name__)
router = APIRouter()

_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]+)?$")
_HINT = 'Send each amount as a decimal string in major units, e.g. {"amount": "500.00"}.'


def _invalid(message: str) -> RequestError:
    return RequestError(422, "invalid_amount", message, _HINT)


def minor_units(value: str | int | float, currency: str, where: str) -> int:
    """A major-unit decimal string as exact minor units of ``currency``, or a 422 saying why."""
    if not isinstance(value, str):
        raise _invalid(f"{where} is the number {value!r}; amounts must be decimal strings")
    text = value
    if text.startswith("-"):
        raise _invalid(f"{where} is {text!r}; amounts must be above zero")
    if len(text) > 30 or not _DECIMAL.match(text):
        raise _invalid(f'{where} is {text!r}, not a decimal amount such as "500.00"')
    places = exponent(currency)
    decimals = len(text.partition(".")[2])
    if decimals > places:
        raise _invalid(
            f"{where} is {text!r}: {decimals} decimals, but {currency.upper()} amounts have "
            f"{places}"
        )
    minor = int(Decimal(text).scaleb(places))
    if minor == 0:
        raise _invalid(f"{where} is {text!r}; amounts must be above zero")
    return minor


def _amounts(body: SpendThresholdsIn, currency: str) -> tuple[list[int], int | None]:
    alerts = [
        minor_units(a.amount, currency, f"alerts[{i}].amount") for i, a in enumerate(body.alerts)
    ]
    budget = (
        None if body.budget is None else minor_units(body.budget.amount, currency, "budget.amount")
    )
    return alerts, budget


def _store(caller: Caller, alerts: list[int], budget: int | None) -> SpendThresholds:
    with control_errors():
        return caller.control.set_spend_thresholds(caller.customer_id, alerts=alerts, budget=budget)


def _thresholds(caller: Caller) -> SpendThresholds:
    with control_errors():
        return caller.control.spend_thresholds(caller.customer_id)


def _notified(
    caller: Caller, thresholds: SpendThresholds, status: SpendStatus | None
) -> dict[str, datetime]:
    """When each threshold's notice of this cycle was recorded (those recorded only)."""
    if status is None or thresholds.empty:
        return {}
    wanted = set(_ids(thresholds, status).values())
    with control_errors():
        raised = caller.control.raised_notifications(caller.customer_id)
    return {n.notification_id: n.raised_at for n in raised if n.notification_id in wanted}


def _ids(thresholds: SpendThresholds, status: SpendStatus) -> dict[tuple[str, int], str]:
    kinds = [(SPEND_ALERT, amount) for amount in thresholds.alerts]
    if thresholds.budget is not None:
        kinds.append((BUDGET_REACHED, thresholds.budget))
    return {
        (kind, amount): notification_id(status.customer_id, kind, None, status.cycle_start, amount)
        for kind, amount in kinds
    }


def spend_out(
    caller: Caller,
    thresholds: SpendThresholds,
    status: SpendStatus | None,
    notified: dict[str, datetime],
) -> SpendThresholdsOut:
    currency = caller.customer.currency
    ids = {} if status is None else _ids(thresholds, status)
    spent = None if status is None else status.spent

    def one(kind: str, amount: int) -> SpendThresholdOut:
        notice = ids.get((kind, amount), "")
        return SpendThresholdOut(
            amount=Money.of(amount, currency),
            reached=spent is not None and spent >= amount,
            notification_id=notice,
            notified_at=notified.get(notice),
        )

    budget = None
    if thresholds.budget is not None:
        base = one(BUDGET_REACHED, thresholds.budget)
        remaining = thresholds.budget - (spent or 0)
        budget = BudgetOut(**base.model_dump(), remaining=Money.of(max(remaining, 0), currency))
    return SpendThresholdsOut(
        customer_id=caller.customer_id,
        currency=currency,
        alerts=[one(SPEND_ALERT, amount) for amount in thresholds.alerts],
        budget=budget,
        spent=None if spent is None else Money.of(spent, currency),
        cycle=None if status is None else CycleOut(start=status.cycle_start, end=status.cycle_end),
        updated_at=thresholds.updated_at,
    )


def spend_view(caller: Caller, engine: LimitEngine) -> SpendThresholdsOut:
    """What GET answers, in one go (the dashboards, with an engine of their own)."""
    thresholds = _thresholds(caller)
    status = engine.spend_status(caller.customer_id)
    return spend_out(caller, thresholds, status, _notified(caller, thresholds, status))


def save_spend(caller: Caller, engine: LimitEngine, body: SpendThresholdsIn) -> SpendThresholdsOut:
    """What PUT does, in one go (the dashboards): the server's engine learns of it through its
    change feed, and raises the notices of alerts already passed then."""
    alerts, budget = _amounts(body, caller.customer.currency)
    thresholds = _store(caller, alerts, budget)
    engine.use_spend_thresholds({caller.customer_id: thresholds}, [caller.customer_id])
    status = engine.spend_status(caller.customer_id)
    return spend_out(caller, thresholds, status, _notified(caller, thresholds, status))


@router.get(
    "/spend-thresholds",
    summary="The customer's spend alerts and budget, and this cycle's spend",
    description=(
        "The alerts on this billing cycle's cost and the budget (amounts in the customer's "
        "currency), with the cycle's spend so far (counted live, as `cost.so_far` of GET "
        "/summary), whether each threshold has been reached, and when its notice was "
        "recorded this cycle; the budget's remaining amount; the cycle, whose end resets them."
    ),
    response_model=SpendThresholdsOut,
    responses=error_responses(400, 401, 403, 404),
)
async def read_spend_thresholds(request: Request, caller: CustomerCaller) -> SpendThresholdsOut:
    engine: LimitEngine = request.app.state.limits
    thresholds = await run_in_threadpool(_thresholds, caller)
    status = engine.spend_status(caller.customer_id)  # on the loop, where the engine lives
    notified = await run_in_threadpool(_notified, caller, thresholds, status)
    return spend_out(caller, thresholds, status, notified)


@router.put(
    "/spend-thresholds",
    summary="Set the customer's spend alerts and budget",
    description=(
        "Replaces the alerts and the budget. Each alert raises a `spend_alert` notice once per "
        "cycle when the cycle's spend reaches it (at once if it already has); the budget is a "
        "hard stop: an event whose charge would take the spend past it is rejected by POST "
        "/v1/events with code `budget_exceeded` (and POST /v1/limits/check answers "
        "allowed=false) until the cycle ends, and a `budget_reached` notice is raised. Usage "
        "that costs nothing more is still accepted. In force for the next event. Amounts are "
        "decimal strings in major units; a malformed, zero, negative or over-precise amount, "
        "more than 20 alerts or one given twice is 422 (`invalid_amount`, `invalid_value`)."
    ),
    response_model=SpendThresholdsOut,
    responses=error_responses(400, 401, 403, 404, 422),
)
async def replace_spend_thresholds(
    request: Request, caller: CustomerCaller, body: SpendThresholdsIn
) -> SpendThresholdsOut:
    alerts, budget = _amounts(body, caller.customer.currency)
    thresholds = await run_in_threadpool(_store, caller, alerts, budget)
    engine: LimitEngine = request.app.state.limits
    # On the loop: the next event is judged by these; alerts already passed are queued.
    engine.use_spend_thresholds({caller.customer_id: thresholds}, [caller.customer_id])
    status = engine.spend_status(caller.customer_id)
    try:
        await run_in_threadpool(engine.raise_pending)
    except Exception:
        # Kept queued: the engine's watch records them on its next round.
        log.exception("spend thresholds: recording notices failed; the watch retries")
    notified = await run_in_threadpool(_notified, caller, thresholds, status)
    return spend_out(caller, thresholds, status, notified)
