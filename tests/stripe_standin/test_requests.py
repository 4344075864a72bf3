"""Authentication, idempotency keys and Stripe-shaped errors."""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_standin.conftest import make_customer
from tollgate.stripe_standin import StripeStandin


def test_a_bad_key_is_an_authentication_error(standin: StripeStandin) -> None:
    with pytest.raises(stripe.AuthenticationError) as raised:
        make_customer(standin.client(api_key="sk_live_nope"))
    assert raised.value.http_status == 401


def test_an_idempotency_key_replays_the_first_response(client: stripe.StripeClient) -> None:
    first = client.v1.customers.create(params={"name": "Ada"}, options={"idempotency_key": "k1"})
    again = client.v1.customers.create(params={"name": "Ada"}, options={"idempotency_key": "k1"})
    assert again.id == first.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert str(again.last_response.request_id).startswith("req_")
    assert len(client.v1.customers.list().data) == 1


def test_an_idempotency_key_reused_with_other_params_is_refused(
    client: stripe.StripeClient,
) -> None:
    client.v1.customers.create(params={"name": "Ada"}, options={"idempotency_key": "k1"})
    with pytest.raises(stripe.IdempotencyError) as raised:
        client.v1.customers.create(params={"name": "Bob"}, options={"idempotency_key": "k1"})
    assert raised.value.http_status == 400
    assert "k1" in str(raised.value.user_message)


def test_a_missing_object_is_a_404_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.customers.retrieve("cus_nope")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")


def test_unknown_parameters_and_endpoints_fail_loudly(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.customers.create(params={"name": "Ada", "tax_exempt": "none"})
    assert (unknown.value.code, unknown.value.param) == ("parameter_unknown", "tax_exempt")
    with pytest.raises(stripe.InvalidRequestError, match="not supported by the Stripe stand-in"):
        client.v1.payment_intents.create(params={"amount": 100, "currency": "usd"})


def test_customers_update_metadata_key_by_key_and_delete(client: stripe.StripeClient) -> None:
    customer = client.v1.customers.create(params={"name": "Ada", "metadata": {"a": "1", "b": "2"}})
    updated = client.v1.customers.update(customer.id, params={"metadata": {"a": "", "c": "3"}})
    assert updated.metadata is not None
    assert updated.metadata.to_dict() == {"b": "2", "c": "3"}
    deleted = client.v1.customers.delete(customer.id)
    assert deleted.deleted is True


def test_products_take_custom_ids_and_filter(client: stripe.StripeClient) -> None:
    client.v1.products.create(params={"id": "plan_pro", "name": "Pro"})
    client.v1.products.create(params={"name": "Old", "active": False})
    with pytest.raises(stripe.InvalidRequestError, match="already exists"):
        client.v1.products.create(params={"id": "plan_pro", "name": "Pro"})
    active = client.v1.products.list(params={"active": True})
    assert [p.id for p in active.data] == ["plan_pro"]
    by_id = client.v1.products.list(params={"ids": ["plan_pro"]})
    assert [p.name for p in by_id.data] == ["Pro"]
