"""Subscriptions and their items, with Stripe's time-based proration of licensed prices.

Proration (``create_prorations``), to the second: a change at ``t`` in the period
``[start, end)`` credits the old price's unused time and charges the new price's remaining
time, each ``amount x (end - t) / (end - start)`` rounded once to minor units (halves away
from zero), as pending invoice items that the next invoice picks up. Metered prices are never
prorated: their usage is billed in arrears. Periods live on the items, as in API versions
since 2025-03-31.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Any

from tollgate.stripe_standin import billing, events, listing, params, periods, prices, pricing
from tollgate.stripe_standin.errors import StripeError, invalid, missing, unsupported
from tollgate.stripe_standin.routing import Call, Route, retrieve
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]

_BEHAVIOURS = ("create_prorations", "always_invoice", "none")


def _load_price(store: Store, raw: Json, index: int) -> Json:
    price_id = params.string(raw, "price")
    if price_id is None:
        raise missing(f"items[{index}][price]")
    price = store.get("price", price_id, param=f"items[{index}][price]")
    if not price["active"]:
        raise invalid(
            f"The price specified is inactive: {price_id}.", param=f"items[{index}][price]"
        )
    if price["recurring"] is None:
        raise invalid(
            f"The price specified is set to `type=one_time` but this field only "
            f"accepts prices with `type=recurring`: {price_id}.",
            param=f"items[{index}][price]",
        )
    return price


def _quantity(raw: Json, price: Json, index: int, default: int | None) -> int | None:
    quantity = params.integer(raw, "quantity")
    if billing.is_metered(price):
        if quantity is not None:
            raise invalid(
                "Quantity should not be specified where usage_type is `metered`. "
                "Remove quantity from the request.",
                param=f"items[{index}][quantity]",
            )
        return None
    if quantity is not None and quantity < 0:
        raise invalid("Invalid quantity: must be at least 0", param=f"items[{index}][quantity]")
    return quantity if quantity is not None else default


def _new_item(
    sub_id: str, price: Json, quantity: int | None, period: tuple[int, int], raw: Json, now: int
) -> Json:
    item: Json = {
        "id": new_id("si"),
        "object": "subscription_item",
        "created": now,
        "current_period_start": period[0],
        "current_period_end": period[1],
        "discounts": [],
        "metadata": {},
        "price": prices.render(price, []),
        "quantity": quantity,
        "subscription": sub_id,
        "tax_rates": [],
    }
    params.apply_metadata(item, raw)
    return item


def _check_compatible(items: list[Json]) -> None:
    first = items[0]["price"]
    for item in items[1:]:
        price = item["price"]
        if price["currency"] != first["currency"]:
            raise invalid(
                "All prices on a subscription must have the same currency.", param="items"
            )
        same = (price["recurring"]["interval"], price["recurring"]["interval_count"]) == (
            first["recurring"]["interval"],
            first["recurring"]["interval_count"],
        )
        if not same:
            raise unsupported("Mixing billing intervals on one subscription")


_CREATE = (
    "customer",
    "items",
    "metadata",
    "billing_cycle_anchor",
    "backdate_start_date",
    "proration_behavior",
    "cancel_at_period_end",
    "collection_method",
)


def _create(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, _CREATE)
    params.choice(p, "proration_behavior", _BEHAVIOURS)
    params.choice(p, "collection_method", ("charge_automatically",))
    now = call.now
    start = params.integer(p, "backdate_start_date") or now
    if start > now:
        raise invalid("backdate_start_date must be in the past.", param="backdate_start_date")
    raw_items = params.object_list(p, "items")
    if not raw_items:
        raise missing("items")
    with call.store.lock:
        customer = params.required_string(p, "customer")
        call.store.get("customer", customer, param="customer")
        sub_id = new_id("sub")
        loaded = [_load_price(call.store, raw, i) for i, raw in enumerate(raw_items)]
        recurring = loaded[0]["recurring"]
        anchor = params.integer(p, "billing_cycle_anchor")
        natural_end = periods.shift(start, recurring["interval"], recurring["interval_count"], 1)
        if anchor is not None and not now <= anchor <= natural_end:
            raise invalid(
                "billing_cycle_anchor must be in the future and within one billing "
                "period of the start date.",
                param="billing_cycle_anchor",
            )
        period = (start, anchor if anchor is not None else natural_end)
        items = [
            _new_item(sub_id, price, _quantity(raw, price, i, 1), period, raw, now)
            for i, (raw, price) in enumerate(zip(raw_items, loaded, strict=True))
        ]
        _check_compatible(items)
        sub: Json = {
            "id": sub_id,
            "object": "subscription",
            "application": None,
            "billing_cycle_anchor": anchor if anchor is not None else start,
            "cancel_at": None,
            "cancel_at_period_end": bool(params.boolean(p, "cancel_at_period_end")),
            "canceled_at": None,
            "cancellation_details": None,
            "collection_method": "charge_automatically",
            "created": now,
            "currency": loaded[0]["currency"],
            "customer": customer,
            "default_payment_method": None,
            "description": None,
            "discounts": [],
            "ended_at": None,
            "items": listing.whole(items, f"/v1/subscription_items?subscription={sub_id}"),
            "latest_invoice": None,
            "livemode": False,
            "metadata": {},
            "pending_update": None,
            "start_date": start,
            "status": "active",
            "trial_end": None,
            "trial_start": None,
        }
        params.apply_metadata(sub, p)
        call.store.add("subscription", sub)
        for item in items:
            call.store.add("subscription_item", item)
        events.emit(call.store, "customer.subscription.created", sub, request_id=call.request_id)
        return sub


def _list(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, (*listing.PAGINATION, "customer", "status", "price"))
    customer = params.string(p, "customer")
    status = params.choice(p, "status", ("active", "past_due", "canceled", "all"))
    price = params.string(p, "price")
    with call.store.lock:
        found = [
            s
            for s in call.store.all("subscription")
            if (customer is None or s["customer"] == customer)
            # Stripe leaves canceled subscriptions out unless asked for them.
            and (
                s["status"] == status
                if status not in (None, "all")
                else status == "all" or s["status"] != "canceled"
            )
            and (price is None or any(i["price"]["id"] == price for i in s["items"]["data"]))
        ]
        return listing.page(found, p, "/v1/subscriptions")


# --- updates: planned first (so invoice previews can reuse them), then applied -----------


@dataclass
class Plan:
    items: list[Json]
    prorations: list[Json] = field(default_factory=list)
    behaviour: str = "create_prorations"


def proration_amount(price: Json, quantity: int, period: tuple[int, int], at: int) -> int:
    """The part of a licensed line for ``[at, end)`` of ``period``, rounded once."""
    start, end = period
    with localcontext(prec=60):
        exact = pricing.exact_amount(price, quantity) * Decimal(end - at) / Decimal(end - start)
    return pricing.round_minor(exact)


def _proration(
    store: Store, sub: Json, item: Json, price: Json, quantity: int, at: int, sign: int
) -> Json:
    period = (int(item["current_period_start"]), int(item["current_period_end"]))
    amount = sign * proration_amount(price, quantity, period, at)
    product = store.find("product", price["product"])
    name = product["name"] if product else price["product"]
    words = "Unused time on" if sign < 0 else "Remaining time on"
    return {
        "id": new_id("ii"),
        "object": "invoiceitem",
        "amount": amount,
        "currency": price["currency"],
        "customer": sub["customer"],
        "date": store.clock.now(),
        "description": f"{words} {quantity} x {name} after {at}",
        "discountable": False,
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": sub["id"], "subscription_item": item["id"]},
        },
        "period": {"start": at, "end": period[1]},
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price["id"], "product": price["product"]},
            "unit_amount_decimal": price["unit_amount_decimal"],
        },
        "proration": True,
        "quantity": quantity,
    }


def _switch(
    store: Store, sub: Json, plan: Plan, item: Json, new: tuple[Json, int | None] | None, at: int
) -> None:
    """Prorates ``item`` going from its current price/quantity to ``new`` (None: removed)."""
    if plan.behaviour == "none":
        return
    old_price = store.get("price", item["price"]["id"])
    if not billing.is_metered(old_price):
        plan.prorations.append(
            _proration(store, sub, item, old_price, int(item["quantity"]), at, -1)
        )
    if new is not None and not billing.is_metered(new[0]):
        plan.prorations.append(_proration(store, sub, item, new[0], int(new[1] or 0), at, 1))


def plan_update(store: Store, sub: Json, p: Json, now: int) -> Plan:
    behaviour = params.choice(p, "proration_behavior", _BEHAVIOURS, default="create_prorations")
    assert behaviour is not None
    plan = Plan(items=copy.deepcopy(sub["items"]["data"]), behaviour=behaviour)
    start, end = billing.item_period(sub)
    at = params.integer(p, "proration_date")
    at = now if at is None else at
    if not start <= at <= end:
        raise invalid(
            "proration_date must be within the current billing period.", param="proration_date"
        )
    for index, raw in enumerate(params.object_list(p, "items")):
        params.reject_unknown(raw, ("id", "price", "quantity", "deleted", "metadata"))
        _plan_item(store, sub, plan, raw, index, at, now)
    if not plan.items:
        raise invalid("A subscription must have at least one item.", param="items")
    _check_compatible(plan.items)
    return plan


def _plan_item(
    store: Store, sub: Json, plan: Plan, raw: Json, index: int, at: int, now: int
) -> None:
    item_id = params.string(raw, "id")
    if item_id is None:  # a new item, charged for the rest of the period
        price = _load_price(store, raw, index)
        added = _new_item(
            sub["id"], price, _quantity(raw, price, index, 1), billing.item_period(sub), raw, now
        )
        plan.items.append(added)
        if plan.behaviour != "none" and not billing.is_metered(price):
            plan.prorations.append(
                _proration(store, sub, added, price, int(added["quantity"]), at, 1)
            )
        return
    item = next((i for i in plan.items if i["id"] == item_id), None)
    if item is None:
        raise invalid(f"No such subscription item: '{item_id}'", param=f"items[{index}][id]")
    if params.boolean(raw, "deleted"):
        _switch(store, sub, plan, item, None, at)
        plan.items.remove(item)
        return
    old_price = store.get("price", item["price"]["id"])
    price = _load_price(store, raw, index) if "price" in raw else old_price
    default_quantity = None if billing.is_metered(price) else (item["quantity"] or 1)
    quantity = _quantity(raw, price, index, default_quantity)
    if (price["id"], quantity) != (old_price["id"], item["quantity"]):
        _switch(store, sub, plan, item, (price, quantity), at)
        item["price"] = prices.render(price, [])
        item["quantity"] = quantity
    params.apply_metadata(item, raw)


def _update(call: Call) -> Json:
    p = call.params
    params.reject_unknown(
        p, ("items", "proration_behavior", "proration_date", "cancel_at_period_end", "metadata")
    )
    with call.store.lock:
        sub = call.store.get("subscription", call.path["id"])
        if sub["status"] == "canceled":
            raise invalid(
                "A canceled subscription can only update its cancellation_details and metadata."
            )
        previous: Json = {}
        if "items" in p:
            plan = plan_update(call.store, sub, p, call.now)
            previous["items"] = copy.deepcopy(sub["items"])
            _apply(call, sub, plan)
        flag = params.boolean(p, "cancel_at_period_end")
        if flag is not None and flag != sub["cancel_at_period_end"]:
            previous["cancel_at_period_end"] = sub["cancel_at_period_end"]
            sub["cancel_at_period_end"] = flag
        if "metadata" in p:
            previous["metadata"] = copy.deepcopy(sub["metadata"])
            params.apply_metadata(sub, p)
        if previous:
            billing.updated(call.store, sub, previous, call.request_id)
        return sub


def _apply(call: Call, sub: Json, plan: Plan) -> None:
    table = call.store.table("subscription_item")
    for old in sub["items"]["data"]:
        if all(i["id"] != old["id"] for i in plan.items):
            table.pop(old["id"], None)
    for item in plan.items:
        table[item["id"]] = item
    sub["items"]["data"] = plan.items
    sub["items"]["total_count"] = len(plan.items)
    for ii in plan.prorations:
        call.store.add("invoiceitem", ii)
    if plan.behaviour == "always_invoice" and plan.prorations:
        start, end = billing.item_period(sub)
        lines = billing.pending_lines(call.store, plan.prorations)
        inv = billing.for_subscription(call.store, sub, lines, (start, end), "subscription_update")
        billing.issue(call.store, inv, plan.prorations, "paid", call.request_id)


def _cancel(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("prorate", "invoice_now", "cancellation_details"))
    with call.store.lock:
        sub = call.store.get("subscription", call.path["id"])
        if sub["status"] == "canceled":
            raise StripeError(
                400,
                f"No such subscription: '{sub['id']}'; it is already canceled.",
                code="resource_missing",
            )
        now = call.now
        if params.boolean(p, "prorate"):
            plan = Plan(items=sub["items"]["data"])
            for item in sub["items"]["data"]:
                _switch(call.store, sub, plan, item, None, now)
            for ii in plan.prorations:
                call.store.add("invoiceitem", ii)
        sub["canceled_at"] = now
        sub["cancellation_details"] = {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested",
        }
        if params.boolean(p, "invoice_now"):
            start, _ = billing.item_period(sub)
            items = billing.pending_items(call.store, sub["customer"], sub["id"])
            lines = billing.cycle_lines(call.store, sub, usage_end=now, renew=False)
            lines += billing.pending_lines(call.store, items)
            inv = billing.for_subscription(
                call.store, sub, lines, (start, now), "subscription_cycle"
            )
            billing.end_subscription(call.store, sub, now, call.request_id)
            billing.issue(call.store, inv, items, "paid", call.request_id)
        else:
            billing.end_subscription(call.store, sub, now, call.request_id)
        return sub


ROUTES = [
    Route("POST", "/v1/subscriptions", _create),
    Route("GET", "/v1/subscriptions", _list),
    Route("GET", "/v1/subscriptions/{id}", retrieve("subscription")),
    Route("POST", "/v1/subscriptions/{id}", _update),
    Route("DELETE", "/v1/subscriptions/{id}", _cancel),
    Route("GET", "/v1/subscription_items/{id}", retrieve("subscription_item")),
]
