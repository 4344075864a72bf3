"""Injected faults surface as the SDK exceptions a Stripe user would see."""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_standin.conftest import T0, make_customer, make_meter, send_usage
from tollgate.stripe_standin import StripeStandin


def _customers(client: stripe.StripeClient) -> int:
    return len(client.v1.customers.list(params={"limit": 100}).data)


def test_429_is_a_rate_limit_error(client: stripe.StripeClient, standin: StripeStandin) -> None:
    standin.inject_fault("POST", "/v1/customers", "429")
    with pytest.raises(stripe.RateLimitError) as raised:
        make_customer(client)
    assert raised.value.http_status == 429
    error = raised.value.error
    assert error is not None
    assert (error.type, error.code) == ("invalid_request_error", "rate_limit")
    assert _customers(client) == 0
    make_customer(client)  # the fault was for one call only
    assert _customers(client) == 1


def test_500_is_an_api_error_and_the_sdk_retries_it(standin: StripeStandin) -> None:
    standin.inject_fault("POST", "/v1/customers", "500", count=2)
    with pytest.raises(stripe.APIError) as raised:
        make_customer(standin.client())
    assert raised.value.http_status == 500
    assert standin.request_count("POST", "/v1/customers") == 1
    # One 500 left: a client with retries gets through on its second attempt.
    make_customer(standin.client(max_network_retries=2))
    assert standin.request_count("POST", "/v1/customers") == 3


def test_timeout_is_a_connection_error_and_commits_nothing(standin: StripeStandin) -> None:
    standin.inject_fault("POST", "/v1/customers", "timeout", hold_seconds=5)
    with pytest.raises(stripe.APIConnectionError) as raised:
        make_customer(standin.client(timeout=0.3))
    assert raised.value.should_retry
    assert _customers(standin.client()) == 0


def test_lost_response_is_a_connection_error_but_the_write_is_kept(
    standin: StripeStandin,
) -> None:
    standin.inject_fault("POST", "/v1/customers", "lost_response")
    with pytest.raises(stripe.APIConnectionError):
        make_customer(standin.client())
    assert _customers(standin.client()) == 1


def test_a_retried_lost_response_is_replayed_not_repeated(standin: StripeStandin) -> None:
    standin.inject_fault("POST", "/v1/customers", "lost_response")
    # The SDK puts one Idempotency-Key on every attempt of a POST.
    customer = make_customer(standin.client(max_network_retries=2))
    assert standin.request_count("POST", "/v1/customers") == 2
    assert [c.id for c in standin.client().v1.customers.list().data] == [customer]


def test_a_lost_meter_event_resent_as_a_new_request_hits_the_identifier(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls")
    standin.inject_fault("POST", "/v1/billing/meter_events", "lost_response")
    with pytest.raises(stripe.APIConnectionError):
        send_usage(client, "calls", customer, 5, identifier="batch-1")
    with pytest.raises(stripe.InvalidRequestError) as duplicate:
        send_usage(client, "calls", customer, 5, identifier="batch-1")
    assert duplicate.value.code == "resource_already_exists"
    summary = client.v1.billing.meters.event_summaries.list(
        meter, params={"customer": customer, "start_time": T0 - 60, "end_time": T0 + 60}
    )
    assert summary.data[0].aggregated_value == 5


def test_faults_match_globs_and_can_be_cleared(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    standin.inject_fault("GET", "/v1/customers/*", "500", count=5)
    customer = make_customer(client)
    with pytest.raises(stripe.APIError):
        client.v1.customers.retrieve(customer)
    standin.clear_faults()
    assert client.v1.customers.retrieve(customer).id == customer
    assert standin.request_count("GET", f"/v1/customers/{customer}") == 2
