"""Meter events and summaries as a Stripe user sees them through the SDK."""

from __future__ import annotations

import pytest
import stripe

from tests.stripe_standin.conftest import T0, make_customer, make_meter, send_usage
from tollgate.stripe_standin import StripeStandin

DAY = 86_400


def _total(client: stripe.StripeClient, meter: str, customer: str, start: int, end: int) -> float:
    summaries = client.v1.billing.meters.event_summaries.list(
        meter, params={"customer": customer, "start_time": start, "end_time": end}
    )
    assert len(summaries.data) == 1
    return summaries.data[0].aggregated_value


def test_a_repeated_identifier_is_refused_and_counted_once(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "tokens")
    first = send_usage(client, "tokens", customer, 7, identifier="evt-1")
    assert first.identifier == "evt-1"
    with pytest.raises(stripe.InvalidRequestError) as refused:
        send_usage(client, "tokens", customer, 7, identifier="evt-1")
    assert refused.value.http_status == 400
    assert refused.value.code == "resource_already_exists"
    assert "evt-1" in str(refused.value.user_message)
    assert refused.value.headers is not None
    assert refused.value.headers["Stripe-Should-Retry"] == "false"
    assert _total(client, meter, customer, T0 - 3600, T0 + 3600) == 7


def test_an_identifier_can_be_reused_after_24_hours(
    client: stripe.StripeClient, standin: StripeStandin
) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "tokens")
    send_usage(client, "tokens", customer, 2, identifier="evt-1")
    standin.advance(DAY)
    send_usage(client, "tokens", customer, 3, identifier="evt-1")
    assert _total(client, meter, customer, T0 - 3600, T0 + 2 * DAY) == 5


def test_generated_identifiers_are_unique(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    make_meter(client, "tokens")
    first = send_usage(client, "tokens", customer, 1)
    second = send_usage(client, "tokens", customer, 1)
    assert first.identifier
    assert second.identifier
    assert first.identifier != second.identifier


@pytest.mark.parametrize(
    ("offset", "words"),
    [(-35 * DAY - 1, "past 35 calendar days"), (5 * 60 + 1, "5 minutes in the future")],
)
def test_timestamps_outside_stripes_window_are_refused(
    client: stripe.StripeClient, offset: int, words: str
) -> None:
    customer = make_customer(client)
    make_meter(client, "tokens")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        send_usage(client, "tokens", customer, 1, timestamp=T0 + offset)
    assert refused.value.param == "timestamp"
    assert words in str(refused.value.user_message)


def test_timestamps_at_the_window_edges_are_accepted(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "tokens")
    send_usage(client, "tokens", customer, 1, timestamp=T0 - 35 * DAY)
    send_usage(client, "tokens", customer, 10, timestamp=T0 + 5 * 60)
    assert _total(client, meter, customer, T0 - 36 * DAY, T0 + 3600) == 11


@pytest.mark.parametrize("value", ["1.5", "abc", "1e3", ""])
def test_values_must_be_whole_numbers(client: stripe.StripeClient, value: str) -> None:
    customer = make_customer(client)
    make_meter(client, "tokens")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        send_usage(client, "tokens", customer, value)
    assert refused.value.param == "payload[value]"


def test_an_event_without_an_active_meter_is_refused(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "tokens")
    with pytest.raises(stripe.InvalidRequestError, match="No active meter"):
        send_usage(client, "other", customer, 1)
    client.v1.billing.meters.deactivate(meter)
    with pytest.raises(stripe.InvalidRequestError, match="No active meter"):
        send_usage(client, "tokens", customer, 1)


def test_an_event_for_an_unknown_customer_is_accepted_but_not_aggregated(
    client: stripe.StripeClient,
) -> None:
    meter = make_meter(client, "tokens")
    event = send_usage(client, "tokens", "cus_missing", 5)
    assert event.payload["stripe_customer_id"] == "cus_missing"
    assert _total(client, meter, "cus_missing", T0 - 3600, T0 + 3600) == 0


@pytest.mark.parametrize(("formula", "expected"), [("sum", 12), ("count", 3), ("last", 4)])
def test_summaries_follow_the_meter_formula(
    client: stripe.StripeClient, formula: str, expected: int
) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls", formula)
    # Sent out of time order: "last" is the latest by event time, not by arrival.
    send_usage(client, "calls", customer, 4, timestamp=T0 + 120)
    send_usage(client, "calls", customer, 3, timestamp=T0 + 60)
    send_usage(client, "calls", customer, 5, timestamp=T0 + 90)
    # Outside [start, end): the end is exclusive.
    send_usage(client, "calls", customer, 100, timestamp=T0 + 180)
    assert _total(client, meter, customer, T0, T0 + 180) == expected


def test_summaries_group_by_hour_newest_first(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls")
    send_usage(client, "calls", customer, 1, timestamp=T0 - 3 * 3600 + 10)
    send_usage(client, "calls", customer, 2, timestamp=T0 - 3600 + 10)
    send_usage(client, "calls", customer, 3, timestamp=T0 - 3600 + 20)
    summaries = client.v1.billing.meters.event_summaries.list(
        meter,
        params={
            "customer": customer,
            "start_time": T0 - 4 * 3600,
            "end_time": T0,
            "value_grouping_window": "hour",
        },
    )
    assert [(s.start_time, s.aggregated_value) for s in summaries.data] == [
        (T0 - 3600, 5),
        (T0 - 3 * 3600, 1),
    ]


def test_summary_bounds_must_be_minute_aligned(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.billing.meters.event_summaries.list(
            meter, params={"customer": customer, "start_time": T0 + 1, "end_time": T0 + 120}
        )
    assert refused.value.param == "start_time"


def test_a_cancel_adjustment_removes_the_event(client: stripe.StripeClient) -> None:
    customer = make_customer(client)
    meter = make_meter(client, "calls")
    send_usage(client, "calls", customer, 4, identifier="a")
    send_usage(client, "calls", customer, 6, identifier="b")
    adjustment = client.v1.billing.meter_event_adjustments.create(
        params={"event_name": "calls", "type": "cancel", "cancel": {"identifier": "a"}}
    )
    assert adjustment.status == "pending"
    assert _total(client, meter, customer, T0 - 60, T0 + 60) == 6


def test_event_names_are_unique_among_active_meters(client: stripe.StripeClient) -> None:
    first = make_meter(client, "calls")
    with pytest.raises(stripe.InvalidRequestError) as refused:
        make_meter(client, "calls")
    assert refused.value.param == "event_name"
    client.v1.billing.meters.deactivate(first)
    second = make_meter(client, "calls")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing.meters.reactivate(first)
    active = client.v1.billing.meters.list(params={"status": "active"})
    assert [m.id for m in active.data] == [second]
    renamed = client.v1.billing.meters.update(second, params={"display_name": "API calls"})
    assert renamed.display_name == "API calls"
