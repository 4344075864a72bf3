"""Bodies of ``/limits``, ``/usage``, ``/summary`` and the admin limit endpoints."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest_api.billing.models import (
    AsOf,
    CycleOut,
    Money,
    PlanBrief,
    PlanName,
    QuantityIn,
    QuantityText,
    SubscriptionOut,
)
from tollgate.billing.catalogue.model import Enforcement


class LimitStatusOut(BaseModel):
    feature: str = Field(examples=["api_calls"])
    display_name: str = Field(examples=["API calls"])
    unit: str = Field(examples=["call"])
    used: QuantityText
    limit: str | None = Field(description="Null: unlimited.", examples=["50000"])
    remaining: str | None = Field(description="Null: unlimited.")
    percent_used: str | None = Field(
        description="Of the limit, two decimals; null when unlimited.", examples=["42.50"]
    )
    enforcement: Enforcement | None
    status: Literal["ok", "warning", "critical", "exceeded"] = Field(
        description="By the catalogue's alert thresholds (75 / 90 / 100 % by default)."
    )
    window_start: dt.datetime
    resets_at: dt.datetime
    is_override: bool = Field(description="The customer's own limit rather than the plan's.")


class LimitsOut(BaseModel):
    customer_id: str
    plan: str | None = Field(description="The plan in effect; null without a subscription.")
    limits: list[LimitStatusOut]


class DailyUsageOut(BaseModel):
    date: dt.date = Field(description="The UTC day the events happened on.")
    feature: str = Field(examples=["ai_tokens"])
    dimension: str | None = Field(
        description="Value of the property the customer's plan prices the feature by (e.g. "
        "the model); null when the plan does not split it, or the event lacks it.",
        examples=["gpt-4o-mini"],
    )
    quantity: QuantityText
    events: int


class UsageOut(BaseModel):
    customer_id: str
    start: dt.date = Field(alias="from", description="First day included.")
    end: dt.date = Field(alias="to", description="Last day included.")
    days: list[DailyUsageOut] = Field(description="By day, then feature, then dimension.")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class CycleUsageOut(BaseModel):
    feature: str
    display_name: str
    unit: str
    dimension: str | None
    quantity: QuantityText = Field(description="Used so far in the cycle, counted live.")
    published_quantity: QuantityText = Field(
        description="What the pipeline's last run had counted of it."
    )
    projected_quantity: QuantityText = Field(
        description="At this rate by the cycle's end (see the cost's description)."
    )


class CostOut(BaseModel):
    so_far: Money = Field(
        description="The cycle's invoice as it stands now: the pipeline's draft total plus, "
        "per feature and dimension, the price of live usage minus the price of the usage the "
        "draft counted (basis draft_invoice); before the pipeline has drafted this cycle, the "
        "base fee, recorded prorations and live usage priced directly (basis live_estimate)."
    )
    projected: Money = Field(
        description="So far, plus each quantity extrapolated linearly from the elapsed part "
        "of the cycle to its end (sum and count features; max and last ones stay as they "
        "are), priced the same way."
    )
    basis: Literal["draft_invoice", "live_estimate"]
    draft_invoice_id: str | None
    draft_total: Money | None = Field(description="The draft as last published.")


class SummaryOut(AsOf):
    customer_id: str
    currency: str
    computed_at: dt.datetime
    subscription: SubscriptionOut | None
    plan: PlanBrief | None
    cycle: CycleOut | None
    elapsed_fraction: str | None = Field(
        description="Share of the cycle elapsed, 0..1, six decimals.", examples=["0.338710"]
    )
    usage: list[CycleUsageOut]
    limits: list[LimitStatusOut]
    cost: CostOut | None = Field(description="Null without an active subscription.")


# -- admin -----------------------------------------------------------------------------------


class LimitSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: QuantityIn | None = Field(
        description="The limit in the feature's unit; null: unlimited.", examples=["20000"]
    )
    enforcement: Enforcement | None = Field(
        default=None,
        description="hard or soft; default: what the customer's plan says (hard if it has no "
        "limit for the feature).",
    )


class SetLimits(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "limits": {
                        "api_calls": {"value": "20000", "enforcement": "hard"},
                        "storage": {"value": None},
                    }
                },
                {"reset": ["ai_tokens"]},
            ]
        },
    )

    limits: dict[str, LimitSetting] = Field(
        default_factory=dict,
        max_length=64,
        description="Per feature, the customer's own limit (kept across plan changes).",
    )
    reset: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="Features whose own limit is dropped, so the plan's applies again.",
    )


class LimitsFromPlan(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"plan": "professional"}, {"plan": None}]},
    )

    plan: PlanName | None = Field(
        description="Copy this plan's limits as the customer's own (replacing all of them); "
        "null: drop them all, so the customer follows whatever plan they are on."
    )


class EffectiveLimitOut(BaseModel):
    feature: str
    value: str | None = Field(description="Null: unlimited.")
    enforcement: Enforcement | None
    source: Literal["plan", "override"]


class EffectiveLimitsOut(BaseModel):
    customer_id: str
    plan: str | None
    limits: list[EffectiveLimitOut]
