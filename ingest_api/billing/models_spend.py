"""Bodies of ``/spend-thresholds``: alerts on the billing cycle's cost, and the budget."""

from datetime import datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    WithJsonSchema,
)

from ingest_api.billing.models import CycleOut, Money

_AMOUNT = (
    'A decimal string in major units of the customer\'s currency ("500.00" for $500), above '
    "zero, with no more decimals than the currency has. Numbers are refused (422): send text, "
    "so no amount is ever rounded on the way."
)


class SpendAmountIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Numbers get past validation only to be refused with a clear 422 (not a 400); the
    # document says what to send.
    amount: Annotated[StrictStr | StrictInt | StrictFloat, WithJsonSchema({"type": "string"})] = (
        Field(description=_AMOUNT, examples=["500.00"])
    )


class SpendThresholdsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"alerts": [{"amount": "250.00"}, {"amount": "500.00"}], "budget": None},
                {"alerts": [{"amount": "500.00"}], "budget": {"amount": "1000.00"}},
                {"alerts": [], "budget": None},
            ]
        },
    )

    alerts: list[SpendAmountIn] = Field(
        default_factory=list,
        max_length=100,
        description="Amounts to be told about when this cycle's spend reaches them, once per "
        "cycle each; at most 20, all different. Replaces every alert set before.",
    )
    budget: SpendAmountIn | None = Field(
        default=None,
        description="A hard stop: billable usage that would take the cycle's spend past it is "
        "refused at ingest (`budget_exceeded`) until the cycle ends; usage that costs nothing "
        "more (included quantities, unpriced features) is still accepted. null: no budget.",
    )


class SpendThresholdOut(BaseModel):
    amount: Money
    reached: bool = Field(description="Whether this cycle's spend so far has reached it.")
    notification_id: str = Field(
        description="The id of the notice it raises this cycle (GET /notifications)."
    )
    notified_at: datetime | None = Field(
        description="When that notice was recorded this cycle; null: not (yet)."
    )


class BudgetOut(SpendThresholdOut):
    remaining: Money = Field(description="What may still be spent this cycle (never below 0).")


class SpendThresholdsOut(BaseModel):
    customer_id: str
    currency: str = Field(description="The customer's currency: every amount is in it.")
    alerts: list[SpendThresholdOut] = Field(description="Lowest first.")
    budget: BudgetOut | None
    spent: Money | None = Field(
        description="This cycle's cost so far, counted live (GET /summary's `cost.so_far`); "
        "null without an active subscription."
    )
    cycle: CycleOut | None = Field(
        description="The current billing cycle; the budget resets at its end."
    )
    updated_at: datetime | None = Field(description="When the thresholds were last set.")
