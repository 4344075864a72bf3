"""Response and request bodies shared by several billing routes: money, quantities, plans,
subscriptions.

Money is always integer minor units plus the currency (and the same amount as a decimal
string for display); quantities are exact decimal strings. Nothing here is ever a float.
"""

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from tollgate.billing.catalogue.model import (
    BillingType,
    CycleAnchor,
    Enforcement,
    Interval,
    LimitReset,
    Plan,
    Price,
)
from tollgate.billing.money import major_units_text
from tollgate.billing.pricing import decimal_text
from tollgate.control.models import PlanChange, PlanPeriod, Subscription, When

# Event quantities are decimal(38, 9): at most 29 digits before the point and 9 after. Sent as
# a decimal string (or a whole number), never a float, so what arrives is exactly what was meant;
# the schema says so, so every value it allows is accepted.
_QUANTITY = re.compile(r"[0-9]{1,29}(\.[0-9]{1,9})?")
# Whole numbers up to 10^15 only, where every JSON reader still reads them exactly (doubles
# hold 2^53); larger quantities go as strings.
_MAX_WHOLE = 10**15


def _quantity(value: object) -> Decimal:
    # JSON has one number type: 3.0 is the whole number 3 (a float with a fraction is refused:
    # it may not be the decimal the client meant).
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_WHOLE:
        return Decimal(value)
    if isinstance(value, str) and _QUANTITY.fullmatch(value):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite() and value >= 0:
        return _quantity(decimal_text(value))  # from Python callers, e.g. tests
    raise ValueError(
        'a quantity is a decimal string such as "1500" or "0.25" (at most 29 digits before the '
        "point and 9 after) or a whole number up to 10^15, never negative"
    )


QuantityIn = Annotated[
    Decimal,
    PlainValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": f"^{_QUANTITY.pattern}$"},
                {"type": "integer", "minimum": 0, "maximum": _MAX_WHOLE},
            ],
            "description": "A non-negative decimal as a string (at most 29 digits before the "
            "point and 9 after), or a whole number up to 10^15.",
            "examples": ["1500", "0.25"],
        }
    ),
]
QuantityText = Annotated[
    str,
    Field(
        description="An exact decimal as a string, in the feature's unit.",
        examples=["150000", "0.5"],
    ),
]
PlanName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        description="A plan's name, as GET /api/billing/plans lists it.",
        examples=["professional"],
    ),
]


def quantity_text(value: Decimal | int) -> str:
    return decimal_text(Decimal(value))


class Money(BaseModel):
    amount: int = Field(description="Integer minor units (cents for usd).", examples=[2900])
    currency: str = Field(description="ISO 4217 code, lower case.", examples=["usd"])
    decimal: str = Field(
        description="The same amount in major units, for display only.", examples=["29.00"]
    )

    @classmethod
    def of(cls, amount: int, currency: str) -> Self:
        return cls(amount=amount, currency=currency, decimal=major_units_text(amount, currency))


class AsOf(BaseModel):
    as_of: datetime | None = Field(
        description="The moment the billing pipeline's last publication describes; null "
        "before its first run (lists are then empty)."
    )


# -- plans ---------------------------------------------------------------------------------------


class PlanFeatureOut(BaseModel):
    feature: str = Field(examples=["ai_tokens"])
    display_name: str = Field(examples=["AI tokens"])
    unit: str = Field(examples=["token"])
    included: QuantityText
    limit: str | None = Field(description="Null: unlimited.", examples=["500000"])
    enforcement: Enforcement | None = Field(description="hard: refused beyond; soft: warned.")
    price: Price | None = Field(
        description="How usage above the included quantity is priced, as in the catalogue "
        "(amounts in minor units, fractions allowed); null: never billed."
    )
    dimension: str | None = Field(
        description="The event property usage is priced by, if any.", examples=["model"]
    )


class PlanOut(BaseModel):
    name: str = Field(examples=["professional"])
    display_name: str = Field(examples=["Professional"])
    description: str
    billing_type: BillingType
    base_price: Money
    interval: Interval
    cycle_anchor: CycleAnchor
    limit_reset: LimitReset
    features: list[PlanFeatureOut]
    perks: list[str]


class PlanList(BaseModel):
    plans: list[PlanOut]


class PlanBrief(BaseModel):
    name: str = Field(examples=["professional"])
    display_name: str = Field(examples=["Professional"])
    billing_type: BillingType
    base_price: Money


def plan_brief(name: str, plan: Plan) -> PlanBrief:
    return PlanBrief(
        name=name,
        display_name=plan.display_name,
        billing_type=plan.billing_type,
        base_price=Money.of(plan.base_price, plan.currency),
    )


# -- subscriptions -------------------------------------------------------------------------------


class PlanPeriodOut(BaseModel):
    plan: str
    effective_from: datetime
    effective_to: datetime | None = Field(description="Null: until further notice.")


class SubscriptionOut(BaseModel):
    id: str = Field(examples=["sub_4f2a9c0d1e3b5a77"])
    customer_id: str
    status: Literal["active", "canceled"] = Field(
        description="What the last change made it; a subscription canceled at period end stays "
        "active until cancel_at."
    )
    plan: str | None = Field(description="The plan in effect now; null once it has ended.")
    started_at: datetime
    billing_anchor: datetime
    anchoring: CycleAnchor | None = Field(description="Null: the plan's cycle_anchor.")
    cancel_at: datetime | None = Field(description="Scheduled end (canceled at period end).")
    ended_at: datetime | None = Field(description="Actual end (canceled now).")
    plans: list[PlanPeriodOut] = Field(
        description="Plan history, oldest first; a period starting later is a scheduled change."
    )


def subscription_out(
    subscription: Subscription, plan_now: str | None, history: list[PlanPeriod]
) -> SubscriptionOut:
    return SubscriptionOut(
        id=subscription.id,
        customer_id=subscription.customer_id,
        status="canceled" if subscription.status == "canceled" else "active",
        plan=plan_now,
        started_at=subscription.started_at,
        billing_anchor=subscription.billing_anchor,
        anchoring=subscription.anchoring,
        cancel_at=subscription.cancel_at,
        ended_at=subscription.ended_at,
        plans=[
            PlanPeriodOut(plan=p.plan, effective_from=p.effective_from, effective_to=p.effective_to)
            for p in history
        ],
    )


class PlanChangeOut(BaseModel):
    from_plan: str
    to_plan: str | None = Field(description="Null: the subscription was canceled.")
    at: datetime = Field(description="When the change takes (or took) effect.")
    timing: When
    credit: Money = Field(description="The old plan's unused time given back (<= 0).")
    charge: Money = Field(description="The new plan's base price for the rest of the cycle.")
    net: Money


def plan_change_out(change: PlanChange) -> PlanChangeOut:
    return PlanChangeOut(
        from_plan=change.from_plan,
        to_plan=change.to_plan,
        at=change.at,
        timing=change.timing,
        credit=Money.of(change.credit, change.currency),
        charge=Money.of(change.charge, change.currency),
        net=Money.of(change.credit + change.charge, change.currency),
    )


class CreateSubscription(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"plan": "starter"}]})

    plan: PlanName
    anchoring: CycleAnchor | None = Field(
        default=None,
        description="anniversary or calendar cycles; default: the plan's cycle_anchor.",
    )


class ChangePlan(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"plan": "professional"}, {"plan": "starter", "when": "period_end"}]
        },
    )

    plan: PlanName
    when: When | None = Field(
        default=None,
        description="now (prorated) or period_end; default: upgrades now, downgrades at the "
        "end of the current period.",
    )


class SubscriptionBody(BaseModel):
    subscription: SubscriptionOut


class ChangePlanResult(BaseModel):
    subscription: SubscriptionOut
    change: PlanChangeOut


class CancelResult(BaseModel):
    subscription: SubscriptionOut
    cancellation: PlanChangeOut = Field(
        description="When it ends and the unused base price credited (0 at period end)."
    )


class CycleOut(BaseModel):
    start: datetime
    end: datetime
