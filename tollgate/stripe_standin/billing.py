"""Invoices of subscriptions: lines for a period, issuing (paid or failed), closing a period.

Line shapes follow the 2025+ API the SDK parses: ``pricing.price_details.price``,
``parent.subscription_item_details`` for subscription lines and ``parent.invoice_item_details``
for pending invoice items such as prorations. A subscription cycle invoice bills licensed
prices in advance for the next period and metered usage in arrears for the period that ends;
a negative cycle usage bills as quantity 0, as Stripe documents.
"""

from __future__ import annotations

import copy
from typing import Any

from tollgate.stripe_standin import events, listing, meters, periods, pricing
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]


def is_metered(price: Json) -> bool:
    return bool(price["recurring"] and price["recurring"]["usage_type"] == "metered")


def item_period(sub: Json) -> tuple[int, int]:
    first = sub["items"]["data"][0]
    return int(first["current_period_start"]), int(first["current_period_end"])


def next_period_end(sub: Json) -> int:
    recurring = sub["items"]["data"][0]["price"]["recurring"]
    _, end = item_period(sub)
    return periods.next_boundary(
        sub["billing_cycle_anchor"], recurring["interval"], recurring["interval_count"], end
    )


def _line(
    price: Json, quantity: int, amount: int, start: int, end: int, parent: Json, description: str
) -> Json:
    per_unit = price["billing_scheme"] == "per_unit"
    return {
        "id": new_id("il"),
        "object": "line_item",
        "amount": amount,
        "currency": price["currency"],
        "description": description,
        "discount_amounts": [],
        "discountable": not parent.get("proration", False),
        "discounts": [],
        "invoice": None,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"start": start, "end": end},
        "pretax_credit_amounts": [],
        "pricing": {
            "type": "price_details",
            "price_details": {"price": price["id"], "product": price["product"]},
            "unit_amount_decimal": price["unit_amount_decimal"] if per_unit else None,
        },
        "quantity": quantity,
        "subtotal": amount,
        "taxes": [],
    }


def _subscription_parent(sub: Json, item: Json) -> Json:
    return {
        "type": "subscription_item_details",
        "invoice_item_details": None,
        "subscription_item_details": {
            "invoice_item": None,
            "proration": False,
            "proration_details": None,
            "subscription": sub["id"],
            "subscription_item": item["id"],
        },
    }


def cycle_lines(
    store: Store, sub: Json, *, usage_end: int | None = None, renew: bool = True
) -> list[Json]:
    """Metered usage of the current period, then (if renewing) licensed prices for the next."""
    start, end = item_period(sub)
    usage_end = end if usage_end is None else usage_end
    lines: list[Json] = []
    for item in sub["items"]["data"]:
        price = item["price"]
        product = _product_name(store, price)
        if is_metered(price):
            meter = store.get("billing.meter", price["recurring"]["meter"])
            usage = max(meters.aggregate(store, meter, sub["customer"], start, usage_end), 0)
            lines.append(
                _line(
                    price,
                    usage,
                    pricing.line_amount(stored_price(store, price), usage),
                    start,
                    usage_end,
                    _subscription_parent(sub, item),
                    f"{usage} x {product}",
                )
            )
        elif renew:
            quantity = int(item["quantity"])
            lines.append(
                _line(
                    price,
                    quantity,
                    pricing.line_amount(stored_price(store, price), quantity),
                    end,
                    next_period_end(sub),
                    _subscription_parent(sub, item),
                    f"{quantity} x {product}",
                )
            )
    return lines


def stored_price(store: Store, price: Json) -> Json:
    """The full price (with tiers) behind an embedded, rendered copy."""
    return store.get("price", price["id"])


def _product_name(store: Store, price: Json) -> str:
    product = store.find("product", price["product"])
    return str(product["name"]) if product else str(price["product"])


def pending_lines(store: Store, invoice_items: list[Json]) -> list[Json]:
    lines = []
    for ii in invoice_items:
        price = store.get("price", ii["pricing"]["price_details"]["price"])
        parent = {
            "type": "invoice_item_details",
            "subscription_item_details": None,
            "invoice_item_details": {
                "invoice_item": ii["id"],
                "proration": ii["proration"],
                "proration_details": {"credited_items": None},
                "subscription": ii["parent"]["subscription_details"]["subscription"],
            },
        }
        lines.append(
            _line(
                price,
                ii["quantity"],
                ii["amount"],
                ii["period"]["start"],
                ii["period"]["end"],
                parent,
                ii["description"],
            )
        )
    return lines


def pending_items(store: Store, customer: str, subscription: str | None) -> list[Json]:
    return [
        ii
        for ii in store.all("invoiceitem")
        if ii["customer"] == customer
        and ii["invoice"] is None
        and (
            subscription is None
            or ii["parent"]["subscription_details"]["subscription"] == subscription
        )
    ]


def invoice(
    store: Store,
    *,
    customer: str,
    currency: str,
    sub: Json | None,
    lines: list[Json],
    period: tuple[int, int],
    reason: str,
    preview: bool,
) -> Json:
    invoice_id = ("upcoming_" if preview else "") + new_id("in")
    for line in lines:
        line["invoice"] = invoice_id
    total = sum(int(line["amount"]) for line in lines)
    parent = None
    if sub is not None:
        parent = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {
                "metadata": copy.deepcopy(sub["metadata"]),
                "subscription": sub["id"],
                "subscription_proration_date": None,
            },
        }
    now = store.clock.now()
    return {
        "id": invoice_id,
        "object": "invoice",
        "amount_due": max(total, 0),
        "amount_overpaid": 0,
        "amount_paid": 0,
        "amount_remaining": max(total, 0),
        "amount_shipping": 0,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": not preview,
        "automatic_tax": {
            "enabled": False,
            "liability": None,
            "status": None,
            "disabled_reason": None,
            "provider": None,
        },
        "billing_reason": reason,
        "collection_method": "charge_automatically",
        "created": now,
        "currency": currency,
        "customer": customer,
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": None,
        "ending_balance": None,
        "hosted_invoice_url": None,
        "issuer": {"type": "self"},
        "lines": listing.whole(lines, f"/v1/invoices/{invoice_id}/lines"),
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": None,
        "parent": parent,
        "period_start": period[0],
        "period_end": period[1],
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "starting_balance": 0,
        "status": "draft",
        "status_transitions": {
            "finalized_at": None,
            "marked_uncollectible_at": None,
            "paid_at": None,
            "voided_at": None,
        },
        "subtotal": total,
        "subtotal_excluding_tax": total,
        "total": total,
        "total_excluding_tax": total,
        "total_discount_amounts": [],
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": None,
    }


def for_subscription(
    store: Store,
    sub: Json,
    lines: list[Json],
    period: tuple[int, int],
    reason: str,
    *,
    preview: bool = False,
) -> Json:
    return invoice(
        store,
        customer=sub["customer"],
        currency=sub["currency"],
        sub=sub,
        lines=lines,
        period=period,
        reason=reason,
        preview=preview,
    )


def updated(store: Store, sub: Json, previous: Json, request_id: str | None) -> None:
    """``customer.subscription.updated`` with what changed, as Stripe sends it."""
    events.emit(
        store, "customer.subscription.updated", sub, request_id=request_id, previous=previous
    )


def issue(store: Store, inv: Json, items: list[Json], outcome: str, request_id: str | None) -> Json:
    """Finalizes ``inv``, consumes the pending ``items`` it bills, and pays or fails it."""
    now = store.clock.now()
    with store.lock:
        inv["number"] = f"STANDIN-{len(store.table('invoice')) + 1:04d}"
        inv["status"] = "open"
        inv["status_transitions"]["finalized_at"] = now
        inv["effective_at"] = now
        for ii in items:
            ii["invoice"] = inv["id"]
        store.add("invoice", inv)
        events.emit(store, "invoice.created", inv, request_id=request_id)
        events.emit(store, "invoice.finalized", inv, request_id=request_id)
        settle(store, inv, outcome, request_id)
    return inv


def settle(store: Store, inv: Json, outcome: str, request_id: str | None) -> None:
    """One payment attempt on an open invoice; the subscription follows its outcome."""
    inv["attempted"] = True
    inv["attempt_count"] += 1
    sub = _invoice_subscription(store, inv)
    if outcome == "paid":
        inv["status"] = "paid"
        inv["amount_paid"] = inv["amount_due"]
        inv["amount_remaining"] = 0
        inv["status_transitions"]["paid_at"] = store.clock.now()
        events.emit(store, "invoice.paid", inv, request_id=request_id)
        events.emit(store, "invoice.payment_succeeded", inv, request_id=request_id)
        new_status = "active"
    else:
        events.emit(store, "invoice.payment_failed", inv, request_id=request_id)
        new_status = "past_due"
    if sub is not None:
        sub["latest_invoice"] = inv["id"]
        if sub["status"] not in ("canceled", new_status):
            previous = {"status": sub["status"]}
            sub["status"] = new_status
            updated(store, sub, previous, request_id)


def _invoice_subscription(store: Store, inv: Json) -> Json | None:
    if inv["parent"] is None:
        return None
    return store.find("subscription", inv["parent"]["subscription_details"]["subscription"])


def close_period(store: Store, sub: Json, outcome: str, request_id: str | None) -> Json:
    """What Stripe does at the end of a period: invoice it, then renew (or end) the subscription."""
    with store.lock:
        start, end = item_period(sub)
        store.clock.set(max(store.clock.now(), end))
        renew = not sub["cancel_at_period_end"]
        items = pending_items(store, sub["customer"], sub["id"])
        lines = cycle_lines(store, sub, renew=renew) + pending_lines(store, items)
        inv = for_subscription(store, sub, lines, (start, end), "subscription_cycle")
        previous = {"items": copy.deepcopy(sub["items"])}
        if renew:
            following = next_period_end(sub)
            for item in sub["items"]["data"]:
                item["current_period_start"], item["current_period_end"] = end, following
            updated(store, sub, previous, request_id)
        else:
            end_subscription(store, sub, end, request_id)
        return issue(store, inv, items, outcome, request_id)


def end_subscription(store: Store, sub: Json, at: int, request_id: str | None) -> None:
    sub["status"] = "canceled"
    sub["ended_at"] = at
    sub["canceled_at"] = sub["canceled_at"] or at
    events.emit(store, "customer.subscription.deleted", sub, request_id=request_id)
