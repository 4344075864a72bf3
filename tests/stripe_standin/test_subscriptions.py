"""Subscriptions: items, periods, proration on a mid-period swap, period closes and cancels."""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_standin.conftest import (
    FEB_1,
    MAR_1,
    T0,
    licensed_price,
    make_customer,
    make_meter,
    send_usage,
    subscribe,
)
from tollgate.stripe_standin import StripeStandin

# 10 days, 7 hours and 13 seconds into January (a 31-day, 2 678 400 s period).
SWAP_AT = T0 + 889_213


def _swap(
    client: stripe.StripeClient, sub: stripe.Subscription, amount: int, behaviour: str
) -> stripe.Subscription:
    item = sub["items"].data[0].id
    return client.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item, "price": licensed_price(client, amount)}],
            "proration_behavior": behaviour,
        },
    )


def test_items_carry_the_current_period(client: stripe.StripeClient) -> None:
    sub = subscribe(client, 3000, 2)
    item = sub["items"].data[0]
    assert sub.status == "active"
    assert (item.current_period_start, item.current_period_end) == (T0, FEB_1)
    assert item.quantity == 2
    assert client.v1.subscription_items.retrieve(item.id).subscription == sub.id


def test_a_mid_period_swap_prorates_to_the_second(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000, 3)
    standin.set_time(SWAP_AT)
    updated = _swap(client, sub, 5000, "create_prorations")
    assert updated["items"].data[0].id == sub["items"].data[0].id
    assert updated["items"].data[0].price.unit_amount == 5000

    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    amounts = sorted(line.amount for line in preview.lines.data)
    # Credit: 3 x 3000 x 1 789 187 / 2 678 400 = 6012.05 -> -6012.
    # Charge: 3 x 5000 x 1 789 187 / 2 678 400 = 10020.09 -> 10020.
    # Next period at the new price: 3 x 5000 = 15000.
    assert amounts == [-6012, 10020, 15000]
    assert preview.total == 19008
    prorations = [line for line in preview.lines.data if line.amount != 15000]
    for line in prorations:
        assert line.parent is not None
        assert line.parent.invoice_item_details is not None
        assert line.parent.invoice_item_details.proration is True
        assert (line.period.start, line.period.end) == (SWAP_AT, FEB_1)


def test_a_previewed_swap_changes_nothing(client: stripe.StripeClient) -> None:
    sub = subscribe(client, 3000, 3)
    old = sub["items"].data[0].price.id
    preview = client.v1.invoices.create_preview(
        params={
            "subscription": sub.id,
            "subscription_details": {
                "items": [{"id": sub["items"].data[0].id, "price": licensed_price(client, 5000)}],
                "proration_date": SWAP_AT,
            },
        }
    )
    assert preview.total == 19008
    assert client.v1.subscriptions.retrieve(sub.id)["items"].data[0].price.id == old
    plain = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert plain.total == 9000


def test_no_proration_when_asked_for_none(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000)
    standin.set_time(SWAP_AT)
    _swap(client, sub, 5000, "none")
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert [line.amount for line in preview.lines.data] == [5000]


def test_always_invoice_bills_the_proration_at_once(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000, 3)
    standin.set_time(SWAP_AT)
    _swap(client, sub, 5000, "always_invoice")
    invoices = client.v1.invoices.list(params={"subscription": sub.id})
    assert [(i.status, i.total, i.billing_reason) for i in invoices.data] == [
        ("paid", 10020 - 6012, "subscription_update")
    ]
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.total == 15000


def test_metered_items_take_no_quantity_and_are_not_prorated(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls")
    product = client.v1.products.create(params={"name": "Calls"}).id
    metered = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product,
            "unit_amount": 2,
            "recurring": {"interval": "month", "usage_type": "metered", "meter": meter},
        }
    ).id
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscriptions.create(
            params={"customer": customer, "items": [{"price": metered, "quantity": 1}]}
        )
    assert refused.value.param == "items[0][quantity]"
    sub = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": metered}]}
    )
    send_usage(client, "calls", customer, 10)
    standin.set_time(SWAP_AT)
    client.v1.subscriptions.update(
        sub.id, params={"items": [{"price": licensed_price(client, 1000)}]}
    )
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    # Usage 10 x 2 = 20; the added licensed item: 1000 x 1 789 187 / 2 678 400 = 668.03 -> 668
    # for the rest of January, plus 1000 for February. No credit for the metered item.
    assert sorted(line.amount for line in preview.lines.data) == [20, 668, 1000]


def test_closing_a_period_invoices_renews_and_emits_events(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000)
    paid = standin.close_period(sub.id, "paid")
    assert paid["id"].startswith("in_")
    invoice = client.v1.invoices.retrieve(paid["id"])
    assert (invoice.status, invoice.amount_paid, invoice.period_end) == ("paid", 3000, FEB_1)
    item = client.v1.subscriptions.retrieve(sub.id)["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (FEB_1, MAR_1)

    failed = standin.close_period(sub.id, "failed")
    assert client.v1.invoices.retrieve(failed["id"]).status == "open"
    assert client.v1.subscriptions.retrieve(sub.id).status == "past_due"
    standin.pay_invoice(failed["id"])
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"

    types = [e.type for e in reversed(client.v1.events.list(params={"limit": 100}).data)]
    assert types.count("invoice.payment_succeeded") == 2
    assert types.count("invoice.payment_failed") == 1
    assert "customer.subscription.updated" in types


def test_cancel_now_with_proration_and_final_invoice(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000, 3)
    standin.set_time(SWAP_AT)
    canceled = client.v1.subscriptions.cancel(sub.id, params={"prorate": True, "invoice_now": True})
    assert (canceled.status, canceled.canceled_at, canceled.ended_at) == (
        "canceled",
        SWAP_AT,
        SWAP_AT,
    )
    final = client.v1.invoices.list(params={"subscription": sub.id}).data
    assert [i.total for i in final] == [-6012]  # the unused-time credit
    deleted = client.v1.events.list(params={"type": "customer.subscription.deleted"}).data
    assert [e.data.object["id"] for e in deleted] == [sub.id]
    customer = str(sub.customer)
    assert client.v1.subscriptions.list(params={"customer": customer}).data == []
    listed = client.v1.subscriptions.list(params={"customer": customer, "status": "canceled"})
    assert [s.id for s in listed.data] == [sub.id]


def test_cancel_at_period_end_ends_it_when_the_period_closes(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    sub = subscribe(client, 3000)
    client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.total == 0  # no renewal charge for a period that will not start
    standin.close_period(sub.id)
    ended = client.v1.subscriptions.retrieve(sub.id)
    assert (ended.status, ended.ended_at) == ("canceled", FEB_1)


def test_billing_cycle_anchor_shortens_the_first_period(client: stripe.StripeClient) -> None:
    anchor = T0 + 15 * 86_400
    sub = client.v1.subscriptions.create(
        params={
            "customer": make_customer(client),
            "billing_cycle_anchor": anchor,
            "items": [{"price": licensed_price(client, 3000)}],
        }
    )
    item = sub["items"].data[0]
    assert (item.current_period_start, item.current_period_end) == (T0, anchor)
    assert sub.billing_cycle_anchor == anchor
