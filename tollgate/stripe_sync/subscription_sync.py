"""Brings Stripe's customers and subscriptions in line with the control plane's.

For each Tollgate subscription: the Stripe customer is created once (its id is kept on the
Tollgate customer; the create's idempotency key covers a crash before it is kept); the Stripe
subscription, found by metadata, is created with the plan's prices, moved to a new plan with
``proration_behavior=create_prorations``, set to cancel at period end, or canceled now, as the
Tollgate subscription says. Running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

import stripe

from tollgate.control.models import Customer, Subscription
from tollgate.control.service import ControlService
from tollgate.stripe_sync.client import call, metadata_of
from tollgate.stripe_sync.naming import METADATA_CUSTOMER, METADATA_PLAN, METADATA_SUBSCRIPTION
from tollgate.stripe_sync.price_specs import PriceSpec

T = TypeVar("T")
ENDED = {"canceled", "incomplete_expired"}


@dataclass
class SubscriptionSyncResult:
    customers_created: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    plan_changed: list[str] = field(default_factory=list)
    cancel_scheduled: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "<subscription id>: <Stripe's error>"
    unchanged: int = 0


class SubscriptionSync:
    def __init__(
        self,
        client: stripe.StripeClient,
        control: ControlService,
        specs: list[PriceSpec],
        prices: Mapping[str, str],
        *,
        attempts: int = 6,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """``specs`` and ``prices`` (lookup key -> price id): the catalogue sync's."""
        self._client = client
        self._control = control
        self._specs = specs
        self._prices = prices
        self._attempts = attempts
        self._clock = clock

    def _call(self, operation: Callable[[], T]) -> T:
        return call(operation, attempts=self._attempts)

    def sync(self) -> SubscriptionSyncResult:
        result = SubscriptionSyncResult()
        now = self._clock()
        customers = {customer.id: customer for customer in self._control.list_customers()}
        for subscription in self._control.list_subscriptions():
            ended = subscription.ended_at is not None and subscription.ended_at <= now
            customer = customers[subscription.customer_id]
            if customer.stripe_customer_id is None and ended:
                continue  # never reached Stripe, and never will
            try:
                stripe_customer = self._customer(customer, result)
                self._subscription(subscription, stripe_customer, now, result)
            except stripe.StripeError as error:  # one refusal must not stop the others
                result.failed.append(f"{subscription.id}: {error.user_message or error}")
        return result

    def _customer(self, customer: Customer, result: SubscriptionSyncResult) -> str:
        if customer.stripe_customer_id is not None:
            return customer.stripe_customer_id
        params: dict[str, Any] = {
            "name": customer.name,
            "metadata": {METADATA_CUSTOMER: customer.id},
        }
        if customer.email:
            params["email"] = customer.email
        created = self._call(
            lambda: self._client.v1.customers.create(
                cast(Any, params), {"idempotency_key": f"tollgate-customer-{customer.id}"}
            )
        )
        self._control.update_customer(customer.id, stripe_customer_id=created.id)
        result.customers_created.append(customer.id)
        return created.id

    def _subscription(
        self,
        subscription: Subscription,
        stripe_customer: str,
        now: datetime,
        result: SubscriptionSyncResult,
    ) -> None:
        found = self.find(stripe_customer, subscription.id)
        ended = subscription.ended_at is not None and subscription.ended_at <= now
        plan = None if ended else self._control.plan_at(subscription.id, now)
        if found is None:
            if plan is None:
                return
            self._create(subscription, stripe_customer, plan, result)
            return
        if found.status in ENDED:
            result.unchanged += 1
            return
        if plan is None or not self._items(plan):
            # Ended, or moved to a plan Stripe has nothing to bill for: the final invoice
            # bills the period so far, crediting unused time as Tollgate does.
            self._call(
                lambda: self._client.v1.subscriptions.cancel(
                    found.id, {"invoice_now": True, "prorate": True}
                )
            )
            result.canceled.append(subscription.id)
            return
        changed = False
        current_prices = sorted(item.price.id for item in found["items"].data)
        if metadata_of(found).get(METADATA_PLAN) != plan or current_prices != sorted(
            self._items(plan)
        ):
            self._change_plan(found, plan)
            result.plan_changed.append(subscription.id)
            changed = True
        wants_cancel = subscription.cancel_at is not None
        if bool(found.cancel_at_period_end) != wants_cancel:
            self._call(
                lambda: self._client.v1.subscriptions.update(
                    found.id, {"cancel_at_period_end": wants_cancel}
                )
            )
            if wants_cancel:
                result.cancel_scheduled.append(subscription.id)
            changed = True
        if not changed:
            result.unchanged += 1

    def find(self, stripe_customer: str, subscription_id: str) -> stripe.Subscription | None:
        page = self._call(
            lambda: self._client.v1.subscriptions.list(
                {"customer": stripe_customer, "status": "all", "limit": 100}
            )
        )
        for found in page.auto_paging_iter():
            if metadata_of(found).get(METADATA_SUBSCRIPTION) == subscription_id:
                return found
        return None

    def _items(self, plan: str) -> list[str]:
        return [self._prices[spec.lookup_key] for spec in self._specs if spec.plan == plan]

    def _create(
        self,
        subscription: Subscription,
        stripe_customer: str,
        plan: str,
        result: SubscriptionSyncResult,
    ) -> None:
        items = self._items(plan)
        if not items:
            return  # a free plan with nothing metered: nothing for Stripe to bill
        params: dict[str, Any] = {
            "customer": stripe_customer,
            "items": [{"price": price} for price in items],
            "metadata": {METADATA_SUBSCRIPTION: subscription.id, METADATA_PLAN: plan},
            "proration_behavior": "none",
        }
        active = self._control.active_plan(subscription.customer_id, self._clock())
        if active is not None and active.subscription.id == subscription.id:
            # Stripe's periods are Tollgate's cycles, so usage dated in a cycle is billed on
            # the Stripe invoice of the same period.
            params["backdate_start_date"] = int(active.cycle.start.timestamp())
            params["billing_cycle_anchor"] = int(active.cycle.end.timestamp())
        self._call(
            lambda: self._client.v1.subscriptions.create(
                cast(Any, params), {"idempotency_key": f"tollgate-subscription-{subscription.id}"}
            )
        )
        result.created.append(subscription.id)

    def _change_plan(self, found: stripe.Subscription, plan: str) -> None:
        current = [item.id for item in found["items"].data]
        wanted = self._items(plan)
        items: list[dict[str, Any]] = [{"id": item, "deleted": True} for item in current]
        items += [{"price": price} for price in wanted]
        self._call(
            lambda: self._client.v1.subscriptions.update(
                found.id,
                cast(
                    Any,
                    {
                        "items": items,
                        "proration_behavior": "create_prorations",
                        "metadata": {METADATA_PLAN: plan},
                    },
                ),
            )
        )
