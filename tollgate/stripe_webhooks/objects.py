"""What the webhook handlers read from Stripe's events, as plain typed values.

Stripe objects arrive as the SDK's ``StripeObject`` (not dicts); they are turned into dicts
once (``to_dict``) and read here, so a field missing or of the wrong type is one clear
``MalformedEventError`` naming it, never an ``AttributeError`` deep in a handler. Shapes follow
Stripe's API 2026-10-28 (``invoice.parent.subscription_details``, billing periods on
subscription items), with the pre-2025 fields as fallbacks where they are cheap to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe

# Metadata Tollgate puts on the Stripe objects it creates.
TOLLGATE_SUBSCRIPTION_KEY = "tollgate_subscription_id"
TOLLGATE_PLAN_KEY = "tollgate_plan"
_BASE_LOOKUP_KEY = re.compile(r"tollgate:(?P<plan>[^:]+):base")
_LINE = "invoice.lines.data[].period"


class MalformedEventError(ValueError):
    """A signed event that lacks what its type must carry (named in the message)."""


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    id: str
    type: str
    created: datetime
    object: Mapping[str, Any]  # data.object

    @property
    def object_id(self) -> str | None:
        value = self.object.get("id")
        return value if isinstance(value, str) and value else None

    @classmethod
    def from_stripe(cls, event: stripe.Event) -> WebhookEvent:
        values = event.to_dict()
        data = _mapping(values, "data", "event")
        return cls(
            id=_text(values, "id", "event"),
            type=_text(values, "type", "event", limit=100),
            created=_time(values, "created", "event"),
            object=_mapping(data, "object", "event.data"),
        )


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    id: str
    stripe_customer_id: str
    currency: str
    amount_due: int
    amount_paid: int
    period_start: datetime
    period_end: datetime
    number: str | None
    stripe_subscription_id: str | None
    tollgate_subscription_id: str | None  # the Stripe subscription's metadata, when present

    @classmethod
    def read(cls, invoice: Mapping[str, Any]) -> InvoiceFacts:
        where = "invoice"
        details = _subscription_details(invoice)
        subscription = details.get("subscription")
        metadata = _metadata(details)
        if isinstance(subscription, Mapping):  # expanded: its own metadata is current
            metadata = {**metadata, **_metadata(subscription)}
        start, end = _invoice_period(invoice)
        number = invoice.get("number")
        return cls(
            id=_text(invoice, "id", where),
            stripe_customer_id=_id_of(invoice, "customer", where),
            currency=_currency(invoice, where),
            amount_due=_integer(invoice, "amount_due", where),
            amount_paid=_integer(invoice, "amount_paid", where),
            period_start=start,
            period_end=end,
            number=number if isinstance(number, str) else None,
            stripe_subscription_id=_optional_id(subscription),
            tollgate_subscription_id=_optional_text(metadata.get(TOLLGATE_SUBSCRIPTION_KEY)),
        )


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    id: str
    stripe_customer_id: str
    status: str  # active, past_due, unpaid, trialing, incomplete, paused, canceled ...
    cancel_at_period_end: bool
    ended_at: datetime | None
    canceled_at: datetime | None
    tollgate_subscription_id: str | None
    plan: str | None  # the Tollgate plan of the base item's price; None without one
    period_start: datetime | None  # the base item's (or first item's) current period
    period_end: datetime | None

    @classmethod
    def read(cls, subscription: Mapping[str, Any]) -> SubscriptionFacts:
        where = "subscription"
        items = _mapping(subscription, "items", where).get("data")
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise MalformedEventError(
                "subscription.items.data must be a list of subscription items"
            )
        plan, base = _base_plan(items)
        periodic = base or (items[0] if items else subscription)
        return cls(
            id=_text(subscription, "id", where),
            stripe_customer_id=_id_of(subscription, "customer", where),
            status=_text(subscription, "status", where, limit=32),
            cancel_at_period_end=subscription.get("cancel_at_period_end") is True,
            ended_at=_optional_time(subscription, "ended_at", where),
            canceled_at=_optional_time(subscription, "canceled_at", where),
            tollgate_subscription_id=_optional_text(
                _metadata(subscription).get(TOLLGATE_SUBSCRIPTION_KEY)
            ),
            plan=plan,
            period_start=_optional_time(periodic, "current_period_start", where),
            period_end=_optional_time(periodic, "current_period_end", where),
        )


def _base_plan(items: list[Mapping[str, Any]]) -> tuple[str | None, Mapping[str, Any] | None]:
    """The Tollgate plan and the item that carries it: the price whose lookup key is
    ``tollgate:<plan>:base``; else a licensed (not metered) price with ``tollgate_plan``
    metadata; else any price with it."""
    priced = [(item, item.get("price")) for item in items]
    prices = [(item, price) for item, price in priced if isinstance(price, Mapping)]
    for item, price in prices:
        key = price.get("lookup_key")
        match = _BASE_LOOKUP_KEY.fullmatch(key) if isinstance(key, str) else None
        if match:
            return match["plan"], item
    tagged = [
        (item, price, _optional_text(_metadata(price).get(TOLLGATE_PLAN_KEY)))
        for item, price in prices
    ]
    tagged = [entry for entry in tagged if entry[2] is not None]
    licensed = [entry for entry in tagged if not _metered(entry[1])]
    for item, _, plan in licensed or tagged:
        return plan, item
    return None, None


def _metered(price: Mapping[str, Any]) -> bool:
    recurring = price.get("recurring")
    return isinstance(recurring, Mapping) and recurring.get("usage_type") == "metered"


def _subscription_details(invoice: Mapping[str, Any]) -> Mapping[str, Any]:
    parent = invoice.get("parent")
    if isinstance(parent, Mapping):
        details = parent.get("subscription_details")
        if isinstance(details, Mapping):
            return details
    # Before API 2025-03-31: invoice.subscription and invoice.subscription_details.
    legacy = invoice.get("subscription_details")
    return {
        "subscription": invoice.get("subscription"),
        "metadata": legacy.get("metadata") if isinstance(legacy, Mapping) else None,
    }


def _invoice_period(invoice: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The invoice's period; a subscription's first invoice has an empty one (start = end),
    and then its lines' periods (what the invoice bills) are used."""
    start = _time(invoice, "period_start", "invoice")
    end = _time(invoice, "period_end", "invoice")
    if end > start:
        return start, end
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    periods = [line.get("period") for line in data or [] if isinstance(line, Mapping)]
    spans = [
        (_time(period, "start", _LINE), _time(period, "end", _LINE))
        for period in periods
        if isinstance(period, Mapping)
    ]
    if not spans:
        return start, end
    return min(s for s, _ in spans), max(e for _, e in spans)


def _metadata(value: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = value.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _mapping(value: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    found = value.get(key)
    if not isinstance(found, Mapping):
        raise MalformedEventError(f"{where}.{key} must be an object")
    return found


def _text(value: Mapping[str, Any], key: str, where: str, limit: int = 255) -> str:
    found = value.get(key)
    if not isinstance(found, str) or not 0 < len(found) <= limit:
        raise MalformedEventError(f"{where}.{key} must be a string of 1 to {limit} characters")
    return found


def _currency(value: Mapping[str, Any], where: str) -> str:
    currency = _text(value, "currency", where).lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        raise MalformedEventError(f"{where}.currency must be an ISO 4217 code, not {currency!r}")
    return currency


def _optional_text(value: object) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _id_of(value: Mapping[str, Any], key: str, where: str) -> str:
    """An expandable field: the id, or the expanded object's id."""
    found = _optional_id(value.get(key))
    if found is None:
        raise MalformedEventError(f"{where}.{key} must be an id or an object with one")
    return found


def _optional_id(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return _optional_text(value)


def _integer(value: Mapping[str, Any], key: str, where: str) -> int:
    found = value.get(key)
    if isinstance(found, bool) or not isinstance(found, int):
        raise MalformedEventError(f"{where}.{key} must be an integer")
    return found


def _time(value: Mapping[str, Any], key: str, where: str) -> datetime:
    seconds = _integer(value, key, where)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedEventError(f"{where}.{key} is not a Unix time: {seconds}") from None


def _optional_time(value: Mapping[str, Any], key: str, where: str) -> datetime | None:
    return None if value.get(key) is None else _time(value, key, where)
