"""What the real-time limit engine answers: a feature's standing and a limit check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from tollgate.billing.catalogue.model import Enforcement

Status = Literal["ok", "warning", "critical", "exceeded"]


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """Where a customer stands against one feature's limit in its current window."""

    customer_id: str
    feature: str
    plan: str
    used: Decimal
    limit: Decimal | None  # None: unlimited
    enforcement: Enforcement | None  # None when unlimited
    remaining: Decimal | None
    percent_used: Decimal | None  # two decimals; None when unlimited
    status: Status
    window_start: datetime
    resets_at: datetime
    is_override: bool


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """The answer to "may this customer use ``quantity`` more of this feature now?"."""

    customer_id: str
    feature: str
    quantity: Decimal
    allowed: bool
    used: Decimal
    limit: Decimal | None
    remaining: Decimal | None
    enforcement: Enforcement | None
    resets_at: datetime | None
    # Why not, or what to know (a soft limit passed, no subscription ...).
    reason: str


@dataclass(frozen=True, slots=True)
class CycleUsage:
    """The customer's usage in the current billing cycle, kept current like the limits."""

    customer_id: str
    plan: str
    cycle_start: datetime
    cycle_end: datetime
    # feature -> dimension value (None: not split) -> quantity, in the feature's unit
    quantities: dict[str, dict[str | None, Decimal]] = field(default_factory=dict)
    # the same, as the last pipeline publication had it
    published: dict[str, dict[str | None, Decimal]] = field(default_factory=dict)
    published_as_of: datetime | None = None
