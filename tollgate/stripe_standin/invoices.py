"""Invoice preview (``POST /v1/invoices/create_preview``) and issued invoices.

A preview for a subscription is the invoice Stripe would issue at the end of the current
period: metered usage of that period in arrears, licensed prices of the next period in
advance, and pending invoice items (prorations). ``subscription_details`` previews a change
(items, proration settings, cancel_at_period_end) without applying it.
"""

from __future__ import annotations

import copy
from typing import Any

from tollgate.stripe_standin import billing, listing, params, subscriptions
from tollgate.stripe_standin.errors import invalid
from tollgate.stripe_standin.routing import Call, Route, retrieve

Json = dict[str, Any]


def _preview(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("customer", "subscription", "subscription_details"))
    customer = params.string(p, "customer")
    sub_id = params.string(p, "subscription")
    details = params.mapping(p, "subscription_details")
    with call.store.lock:
        if sub_id is None:
            if details is not None:
                raise invalid(
                    "subscription_details needs a subscription in the stand-in.",
                    param="subscription_details",
                )
            if customer is None:
                raise invalid("You must specify one of: customer, subscription.", param="customer")
            return _customer_preview(call, customer)
        sub = call.store.get("subscription", sub_id, param="subscription")
        if customer is not None and customer != sub["customer"]:
            raise invalid(
                "The subscription does not belong to this customer.", param="subscription"
            )
        if sub["status"] == "canceled":
            raise invalid(
                "No upcoming invoices for a canceled subscription.",
                code="invoice_upcoming_none",
                param="subscription",
            )
        return _subscription_preview(call, sub, details)


def _customer_preview(call: Call, customer: str) -> Json:
    call.store.get("customer", customer, param="customer")
    items = billing.pending_items(call.store, customer, None)
    if not items:
        raise invalid(
            f"Nothing to invoice for customer {customer}.",
            code="invoice_upcoming_none",
            param="customer",
        )
    now = call.now
    return billing.invoice(
        call.store,
        customer=customer,
        currency=items[0]["currency"],
        sub=None,
        lines=billing.pending_lines(call.store, items),
        period=(now, now),
        reason="upcoming",
        preview=True,
    )


def _subscription_preview(call: Call, sub: Json, details: Json | None) -> Json:
    scratch = copy.deepcopy(sub)
    pending = billing.pending_items(call.store, sub["customer"], sub["id"])
    if details is not None:
        params.reject_unknown(
            details, ("items", "proration_behavior", "proration_date", "cancel_at_period_end")
        )
        plan = subscriptions.plan_update(call.store, sub, details, call.now)
        scratch["items"]["data"] = plan.items
        flag = params.boolean(details, "cancel_at_period_end")
        if flag is not None:
            scratch["cancel_at_period_end"] = flag
        if plan.behaviour == "always_invoice" and plan.prorations:
            # The change would be invoiced at once: that immediate invoice is the preview.
            _, end = billing.item_period(sub)
            lines = billing.pending_lines(call.store, plan.prorations)
            return billing.for_subscription(
                call.store, scratch, lines, (call.now, end), "subscription_update", preview=True
            )
        pending = pending + plan.prorations
    lines = billing.cycle_lines(call.store, scratch, renew=not scratch["cancel_at_period_end"])
    lines += billing.pending_lines(call.store, pending)
    period = billing.item_period(sub)
    return billing.for_subscription(call.store, scratch, lines, period, "upcoming", preview=True)


def _list(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, (*listing.PAGINATION, "customer", "subscription", "status"))
    customer = params.string(p, "customer")
    sub_id = params.string(p, "subscription")
    status = params.string(p, "status")
    with call.store.lock:
        found = [
            inv
            for inv in call.store.all("invoice")
            if (customer is None or inv["customer"] == customer)
            and (status is None or inv["status"] == status)
            and (
                sub_id is None
                or (
                    inv["parent"] is not None
                    and inv["parent"]["subscription_details"]["subscription"] == sub_id
                )
            )
        ]
        return listing.page(found, p, "/v1/invoices")


def _list_items(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, (*listing.PAGINATION, "customer", "pending"))
    customer = params.string(p, "customer")
    pending = params.boolean(p, "pending")
    with call.store.lock:
        found = [
            ii
            for ii in call.store.all("invoiceitem")
            if (customer is None or ii["customer"] == customer)
            and (pending is None or (ii["invoice"] is None) == pending)
        ]
        return listing.page(found, p, "/v1/invoiceitems")


ROUTES = [
    Route("POST", "/v1/invoices/create_preview", _preview),
    Route("GET", "/v1/invoices", _list),
    Route("GET", "/v1/invoices/{id}", retrieve("invoice")),
    Route("GET", "/v1/invoiceitems", _list_items),
]
