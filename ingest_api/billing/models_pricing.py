"""Bodies of ``/estimate`` and ``/prorate``: prices of what has not happened (yet)."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from ingest_api.billing.models import CycleOut, Money, PlanName, QuantityIn, QuantityText
from tollgate.control.models import When


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, before the first UTC instant
        raise ValueError("is not a representable instant in UTC") from None


Moment = Annotated[AwareDatetime, AfterValidator(_utc)]
FeatureKey = Annotated[str, Field(min_length=1, max_length=64)]
DimensionKey = Annotated[str, Field(min_length=1, max_length=255)]


class EstimateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"usage": {"api_calls": "20000", "ai_tokens": "300000"}},
                {
                    "usage": {"ai_tokens": {"gpt-4o-mini": "800000", "llama-3-70b": "400000"}},
                    "plans": ["pay_per_use", "professional"],
                },
            ]
        },
    )

    usage: dict[FeatureKey, QuantityIn | dict[DimensionKey, QuantityIn]] = Field(
        description="One cycle's usage per feature: a total, or a total per value of the "
        "property the plan prices by (ai_tokens by model). Features left out count as 0."
    )
    plans: list[PlanName] | None = Field(
        default=None,
        max_length=100,
        description="The plans to compare; default: every plan in the customer's currency.",
    )


class ChargeOut(BaseModel):
    feature: str
    dimension: str | None
    quantity: QuantityText
    included: QuantityText
    billable: QuantityText
    amount: Money


class PlanEstimateOut(BaseModel):
    plan: str = Field(examples=["starter"])
    display_name: str
    base_price: Money
    usage: Money = Field(description="Usage charges above the included quantities.")
    total: Money
    eligible: bool = Field(description="False: the plan cannot serve this usage (blockers).")
    blockers: list[str] = Field(
        description="Why not: a hard limit below the usage, a feature the plan lacks."
    )
    charges: list[ChargeOut]


class EstimateOut(BaseModel):
    cheapest: str | None = Field(
        description="The cheapest eligible plan; ties go to the catalogue's order."
    )
    plans: list[PlanEstimateOut] = Field(
        description="Cheapest eligible first, then the ineligible ones."
    )


class ProrateRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"plan": "professional"},
                {"plan": "professional", "at": "2026-11-16T12:00:00Z"},
            ]
        },
    )

    plan: PlanName
    at: Moment | None = Field(
        default=None,
        description="The moment of the change, with a time zone; default: now.",
        examples=["2026-11-16T12:00:00Z"],
    )
    subscription_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Default: the customer's subscription active at `at`.",
    )
    when: When | None = Field(
        default=None,
        description="As for PUT /subscription/{id}: default upgrades now, downgrades at period "
        "end (nothing prorated).",
    )


class ProrationOut(BaseModel):
    subscription_id: str
    from_plan: str
    to_plan: str
    at: datetime = Field(description="The moment asked about.")
    effective_at: datetime = Field(description="When the new plan would take effect.")
    timing: When
    cycle: CycleOut = Field(description="The billing cycle containing `at`.")
    remaining_seconds: int = Field(description="Seconds of the cycle left after `at` (prorated).")
    credit: Money = Field(description="The old plan's unused time given back (<= 0).")
    charge: Money = Field(description="The new plan's base price for the rest of the cycle.")
    net: Money
