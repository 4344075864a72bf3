"""Tollgate's invoice beside Stripe's preview of the same period, difference by difference.

For each customer with a Stripe subscription, Stripe's upcoming invoice
(``invoices.create_preview``) bills the current period's metered usage; Tollgate's draft bills
the same cycle. Each meter's amount is compared with what Tollgate charges for the usage it
meters (base prices are not compared: Stripe bills them in advance, Tollgate in arrears).
Every difference is reported with both amounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import stripe

from tollgate.billing.catalogue import Catalogue
from tollgate.control.service import ControlService
from tollgate.stripe_sync.client import call
from tollgate.stripe_sync.meter_targets import CycleUsage, meter_amounts
from tollgate.stripe_sync.naming import METADATA_DIMENSION, METADATA_FEATURE, meter_event_name
from tollgate.stripe_sync.subscription_sync import SubscriptionSync

T = TypeVar("T")

UsageAmounts = Mapping[str, int]  # meter event name -> minor units Tollgate charges this cycle


@dataclass(frozen=True, slots=True)
class Difference:
    customer_id: str
    stripe_subscription_id: str
    item: str  # a meter event name, or "total"
    tollgate_amount: int
    stripe_amount: int

    def describe(self) -> str:
        return (
            f"{self.customer_id} ({self.stripe_subscription_id}) {self.item}: Tollgate "
            f"{self.tollgate_amount}, Stripe {self.stripe_amount} (minor units)"
        )


class Reconciler:
    def __init__(self, client: stripe.StripeClient, *, attempts: int = 6) -> None:
        self._client = client
        self._attempts = attempts
        self._price_meters: dict[str, str | None] = {}

    def _call(self, operation: Callable[[], T]) -> T:
        return call(operation, attempts=self._attempts)

    def compare(
        self, customer_id: str, stripe_subscription_id: str, tollgate: UsageAmounts
    ) -> list[Difference]:
        preview = self._call(
            lambda: self._client.v1.invoices.create_preview(
                {"subscription": stripe_subscription_id}
            )
        )
        stripe_amounts: dict[str, int] = {}
        for line in preview.lines.data:
            meter = self._meter_of(_price_id(line.to_dict()))
            if meter is not None:
                stripe_amounts[meter] = stripe_amounts.get(meter, 0) + int(line.amount)
        differences = []
        for meter in sorted(set(stripe_amounts) | set(tollgate)):
            ours, theirs = tollgate.get(meter, 0), stripe_amounts.get(meter, 0)
            if ours != theirs:
                differences.append(
                    Difference(customer_id, stripe_subscription_id, meter, ours, theirs)
                )
        return differences

    def _meter_of(self, price_id: str | None) -> str | None:
        """The meter a metered price bills (None: a licensed price or no price)."""
        if price_id is None:
            return None
        if price_id not in self._price_meters:
            price = self._call(lambda: self._client.v1.prices.retrieve(price_id)).to_dict()
            metadata = price.get("metadata") or {}
            recurring = price.get("recurring") or {}
            feature = metadata.get(METADATA_FEATURE)
            self._price_meters[price_id] = (
                meter_event_name(feature, metadata.get(METADATA_DIMENSION) or None)
                if feature and recurring.get("usage_type") == "metered"
                else None
            )
        return self._price_meters[price_id]


def reconcile_current_cycles(
    client: stripe.StripeClient,
    control: ControlService,
    catalogue: Catalogue,
    usage: Iterable[CycleUsage],
    now: datetime,
    *,
    attempts: int = 6,
) -> tuple[int, list[Difference]]:
    """Compares every customer's current cycle; returns (customers compared, differences)."""
    current: dict[str, list[CycleUsage]] = {}
    for row in usage:
        if row.cycle_start <= now < row.cycle_end:
            current.setdefault(row.customer_id, []).append(row)
    finder = SubscriptionSync(client, control, [], {}, attempts=attempts)
    reconciler = Reconciler(client, attempts=attempts)
    differences: list[Difference] = []
    compared = 0
    for customer in control.list_customers():
        active = control.active_plan(customer.id, now)
        if customer.stripe_customer_id is None or active is None:
            continue
        found = finder.find(customer.stripe_customer_id, active.subscription.id)
        if found is None:
            continue
        amounts = meter_amounts(current.get(customer.id, []), catalogue)
        differences += reconciler.compare(customer.id, found.id, amounts)
        compared += 1
    return compared, differences


def _price_id(line: Mapping[str, Any]) -> str | None:
    """The price of an invoice line: ``pricing.price_details.price`` (API 2025-03-31 on), or
    the older ``price``."""
    pricing = line.get("pricing") or {}
    details = pricing.get("price_details") or {}
    price = details.get("price") or line.get("price")
    if isinstance(price, Mapping):
        return str(price.get("id"))
    return None if price is None else str(price)
