"""Tiered and sub-cent prices, priced in an invoice preview; amounts computed by hand."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
import stripe

from tests.stripe_standin.conftest import FEB_1, MAR_1, T0, make_customer, make_meter, send_usage


def _product(client: stripe.StripeClient) -> str:
    return client.v1.products.create(params={"name": "API"}).id


def _metered(client: stripe.StripeClient, meter: str, **pricing: Any) -> stripe.Price:
    params: dict[str, Any] = {
        "currency": "usd",
        "product": _product(client),
        "recurring": {"interval": "month", "usage_type": "metered", "meter": meter},
        **pricing,
    }
    return client.v1.prices.create(params=params)  # type: ignore[arg-type]


GRADUATED = {
    "billing_scheme": "tiered",
    "tiers_mode": "graduated",
    "tiers": [
        {"up_to": 1000, "unit_amount_decimal": "0.2"},
        {"up_to": 10000, "unit_amount_decimal": "0.15003", "flat_amount": 500},
        {"up_to": "inf", "unit_amount_decimal": "0.1"},
    ],
}
VOLUME = {
    "billing_scheme": "tiered",
    "tiers_mode": "volume",
    "tiers": [
        {"up_to": 100, "unit_amount": 10},
        {"up_to": 1000, "unit_amount_decimal": "7.5", "flat_amount": 100},
        {"up_to": "inf", "unit_amount": 5},
    ],
}


def test_a_preview_prices_graduated_volume_and_sub_cent_usage(
    client: stripe.StripeClient,
) -> None:
    customer = make_customer(client)
    graduated = _metered(client, make_meter(client, "graduated"), **GRADUATED)
    volume = _metered(client, make_meter(client, "volume"), **VOLUME)
    sub_cent = _metered(client, make_meter(client, "tokens"), unit_amount_decimal="0.2")
    base = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": _product(client),
            "unit_amount": 4900,
            "recurring": {"interval": "month"},
        }
    )
    subscription = client.v1.subscriptions.create(
        params={
            "customer": customer,
            "items": [
                {"price": graduated.id},
                {"price": volume.id},
                {"price": sub_cent.id},
                {"price": base.id, "quantity": 1},
            ],
        }
    )
    send_usage(client, "graduated", customer, 10_000, timestamp=T0 + 60)
    send_usage(client, "graduated", customer, 3, timestamp=T0 + 120)
    send_usage(client, "volume", customer, 333, timestamp=T0 + 60)
    send_usage(client, "tokens", customer, 12_347, timestamp=T0 + 60)

    preview = client.v1.invoices.create_preview(params={"subscription": subscription.id})

    by_price = {line.pricing.price_details.price: line for line in preview.lines.data}  # type: ignore[union-attr]
    # Graduated, 10 003 units: 1000 x 0.2 + (9000 x 0.15003 + 500) + 3 x 0.1
    # = 200 + 1850.27 + 0.3 = 2050.57 -> 2051 (rounded once per line; per tier it would be 2050).
    assert by_price[graduated.id].amount == 2051
    assert by_price[graduated.id].quantity == 10_003
    # Volume, 333 units fall in the 101-1000 tier: 333 x 7.5 + 100 = 2597.5 -> 2598.
    assert by_price[volume.id].amount == 2598
    # 12 347 units at 0.2 cent ($0.002): 2469.4 -> 2469.
    assert by_price[sub_cent.id].amount == 2469
    assert by_price[sub_cent.id].pricing.unit_amount_decimal == Decimal("0.2")  # type: ignore[union-attr]
    # Licensed base price, billed in advance for the next period.
    assert by_price[base.id].amount == 4900
    assert (by_price[base.id].period.start, by_price[base.id].period.end) == (FEB_1, MAR_1)
    # Usage is billed in arrears for the period that ends.
    assert (by_price[volume.id].period.start, by_price[volume.id].period.end) == (T0, FEB_1)
    assert preview.subtotal == preview.total == preview.amount_due == 2051 + 2598 + 2469 + 4900
    assert (preview.period_start, preview.period_end) == (T0, FEB_1)
    assert preview.currency == "usd"
    parent = by_price[base.id].parent
    assert parent is not None
    assert parent.subscription_item_details is not None
    assert parent.subscription_item_details.subscription == subscription.id


@pytest.mark.parametrize(("usage", "expected"), [(0, 500), (1000, 500), (1001, 502)])
def test_graduated_flat_fee_and_tier_edges(
    client: stripe.StripeClient, usage: int, expected: int
) -> None:
    # "Flat fee plus overage": the first tier's flat fee is charged even with no usage;
    # up_to is inclusive, so unit 1001 is the first overage unit.
    customer = make_customer(client)
    price = _metered(
        client,
        make_meter(client, "calls"),
        billing_scheme="tiered",
        tiers_mode="graduated",
        tiers=[{"up_to": 1000, "flat_amount": 500}, {"up_to": "inf", "unit_amount": 2}],
    )
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price.id}]}
    )
    if usage:
        send_usage(client, "calls", customer, usage)
    preview = client.v1.invoices.create_preview(params={"subscription": subscription.id})
    assert preview.total == expected


def test_negative_cycle_usage_bills_as_zero(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    price = _metered(client, make_meter(client, "calls"), unit_amount=3)
    subscription = client.v1.subscriptions.create(
        params={"customer": customer, "items": [{"price": price.id}]}
    )
    send_usage(client, "calls", customer, 5)
    send_usage(client, "calls", customer, -9)
    preview = client.v1.invoices.create_preview(params={"subscription": subscription.id})
    assert [(line.quantity, line.amount) for line in preview.lines.data] == [(0, 0)]


def test_tiers_are_only_returned_when_expanded(client: stripe.StripeClient) -> None:
    price = _metered(client, make_meter(client, "calls"), **VOLUME)
    assert "tiers" not in client.v1.prices.retrieve(price.id).to_dict()
    expanded = client.v1.prices.retrieve(price.id, params={"expand": ["tiers"]})
    assert expanded.tiers is not None
    assert [t.up_to for t in expanded.tiers] == [100, 1000, None]
    assert expanded.tiers[1].unit_amount_decimal == Decimal("7.5")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        (
            {"recurring": {"interval": "month", "usage_type": "metered"}, "unit_amount": 1},
            "recurring[meter]",
        ),
        ({"billing_scheme": "tiered", "tiers": [{"up_to": "inf", "unit_amount": 1}]}, "tiers_mode"),
        ({"unit_amount": 1, "unit_amount_decimal": "1.5"}, "unit_amount_decimal"),
        ({"unit_amount_decimal": "0.0000000000001"}, "unit_amount_decimal"),
        (
            {
                "billing_scheme": "tiered",
                "tiers_mode": "volume",
                "tiers": [{"up_to": 10, "unit_amount": 1}],
            },
            "tiers[0][up_to]",
        ),
        ({}, "unit_amount"),
    ],
)
def test_invalid_prices_are_refused_as_stripe_does(
    client: stripe.StripeClient, params: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.prices.create(
            params={"currency": "usd", "product": _product(client), **params}  # type: ignore[typeddict-item]
        )
    assert refused.value.http_status == 400
    assert refused.value.param == param


def test_lookup_keys_are_unique_unless_transferred(client: stripe.StripeClient) -> None:
    product = _product(client)
    first = client.v1.prices.create(
        params={"currency": "usd", "product": product, "unit_amount": 100, "lookup_key": "pro"}
    )
    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        client.v1.prices.create(
            params={"currency": "usd", "product": product, "unit_amount": 200, "lookup_key": "pro"}
        )
    second = client.v1.prices.create(
        params={
            "currency": "usd",
            "product": product,
            "unit_amount": 200,
            "lookup_key": "pro",
            "transfer_lookup_key": True,
        }
    )
    found = client.v1.prices.list(params={"lookup_keys": ["pro"]})
    assert [p.id for p in found.data] == [second.id]
    assert client.v1.prices.retrieve(first.id).lookup_key is None
