"""Billing meters, meter events (with Stripe's acceptance rules), adjustments and summaries.

Rules from Stripe's docs: event timestamps must lie within the past 35 calendar days and at
most 5 minutes ahead; values are whole numbers (negative ones are allowed, and a negative
cycle total bills as 0); identifiers are unique over a rolling 24 hours (a repeat is refused
with 400, as Stripe answers "An event already exists with identifier ..."); an event whose
customer does not exist is accepted (Stripe reports it asynchronously) but never aggregated.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tollgate.stripe_standin import listing, params
from tollgate.stripe_standin.errors import StripeError, invalid, missing
from tollgate.stripe_standin.routing import Call, Route, retrieve
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]

PAST_WINDOW = 35 * 86_400
FUTURE_WINDOW = 5 * 60
IDENTIFIER_WINDOW = 24 * 3_600
_WHOLE = re.compile(r"-?\d+")
_WINDOWS = {"hour": 3_600, "day": 86_400}


# --- meters -----------------------------------------------------------------------------


def _active_with_event_name(store: Store, event_name: str) -> Json | None:
    return next(
        (
            m
            for m in store.all("billing.meter")
            if m["event_name"] == event_name and m["status"] == "active"
        ),
        None,
    )


def _create_meter(call: Call) -> Json:
    p = call.params
    params.reject_unknown(
        p,
        (
            "display_name",
            "event_name",
            "default_aggregation",
            "customer_mapping",
            "value_settings",
            "event_time_window",
        ),
    )
    display_name = params.required_string(p, "display_name")
    event_name = params.required_string(p, "event_name")
    aggregation = params.mapping(p, "default_aggregation") or {}
    formula = params.choice(aggregation, "formula", ("sum", "count", "last"))
    if formula is None:
        raise missing("default_aggregation[formula]")
    mapping = params.mapping(p, "customer_mapping") or {}
    params.reject_unknown(mapping, ("type", "event_payload_key"))
    params.choice(mapping, "type", ("by_id",))
    value_settings = params.mapping(p, "value_settings") or {}
    params.reject_unknown(value_settings, ("event_payload_key",))
    if params.string(p, "event_time_window") is not None:
        raise invalid(
            "Pre-aggregated meters (event_time_window) are not supported by the Stripe stand-in.",
            param="event_time_window",
        )
    meter: Json = {
        "id": new_id("mtr"),
        "object": "billing.meter",
        "created": call.now,
        "customer_mapping": {
            "event_payload_key": params.string(mapping, "event_payload_key")
            or "stripe_customer_id",
            "type": "by_id",
        },
        "default_aggregation": {"formula": formula},
        "display_name": display_name,
        "event_name": event_name,
        "event_time_window": None,
        "livemode": False,
        "status": "active",
        "status_transitions": {"deactivated_at": None},
        "updated": call.now,
        "value_settings": {
            "event_payload_key": params.string(value_settings, "event_payload_key") or "value"
        },
    }
    with call.store.lock:
        _require_free_event_name(call.store, event_name)
        return call.store.add("billing.meter", meter)


def _require_free_event_name(store: Store, event_name: str) -> None:
    holder = _active_with_event_name(store, event_name)
    if holder is not None:
        raise invalid(
            f"An active meter (`{holder['id']}`) already uses the event_name `{event_name}`.",
            param="event_name",
            code="resource_already_exists",
        )


def _update_meter(call: Call) -> Json:
    # Stripe: once created, only the display name of a meter can change.
    params.reject_unknown(call.params, ("display_name",))
    with call.store.lock:
        meter = call.store.get("billing.meter", call.path["id"])
        name = params.string(call.params, "display_name")
        if name is not None:
            meter["display_name"] = name
            meter["updated"] = call.now
        return meter


def _list_meters(call: Call) -> Json:
    params.reject_unknown(call.params, (*listing.PAGINATION, "status"))
    status = params.choice(call.params, "status", ("active", "inactive"))
    with call.store.lock:
        found = [
            m for m in call.store.all("billing.meter") if status is None or m["status"] == status
        ]
        return listing.page(found, call.params, "/v1/billing/meters")


def _set_status(call: Call, status: str) -> Json:
    params.reject_unknown(call.params, ())
    with call.store.lock:
        meter = call.store.get("billing.meter", call.path["id"])
        if meter["status"] == status:
            raise invalid(f"This meter is already {status}.")
        if status == "active":
            _require_free_event_name(call.store, meter["event_name"])
        meter["status"] = status
        meter["status_transitions"]["deactivated_at"] = call.now if status == "inactive" else None
        meter["updated"] = call.now
        return meter


def _deactivate(call: Call) -> Json:
    return _set_status(call, "inactive")


def _reactivate(call: Call) -> Json:
    return _set_status(call, "active")


# --- meter events -----------------------------------------------------------------------


def _recent_event(store: Store, identifier: str, now: int) -> Json | None:
    return next(
        (
            e
            for e in reversed(store.meter_events)
            if e["identifier"] == identifier and now - e["created"] < IDENTIFIER_WINDOW
        ),
        None,
    )


def _check_timestamp(timestamp: int, now: int) -> None:
    if timestamp < now - PAST_WINDOW:
        raise invalid(
            "Timestamp must be within the past 35 calendar days; "
            f"{timestamp} is {(now - timestamp) // 86_400} days ago.",
            param="timestamp",
        )
    if timestamp > now + FUTURE_WINDOW:
        raise invalid(
            f"Timestamp must be at most 5 minutes in the future; {timestamp} is "
            f"{timestamp - now} seconds ahead.",
            param="timestamp",
        )


def _create_meter_event(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("event_name", "payload", "identifier", "timestamp"))
    event_name = params.required_string(p, "event_name")
    payload = params.mapping(p, "payload")
    if payload is None:
        raise missing("payload")
    identifier = params.string(p, "identifier") or str(uuid.uuid4())
    if len(identifier) > 100:
        raise invalid("identifier must be at most 100 characters.", param="identifier")
    now = call.now
    timestamp = params.integer(p, "timestamp")
    timestamp = now if timestamp is None else timestamp
    _check_timestamp(timestamp, now)
    with call.store.lock:
        meter = _active_with_event_name(call.store, event_name)
        if meter is None:
            raise invalid(
                f"No active meter was found for event_name `{event_name}`.", param="event_name"
            )
        customer_key = meter["customer_mapping"]["event_payload_key"]
        value_key = meter["value_settings"]["event_payload_key"]
        customer = params.string(payload, customer_key)
        if customer is None:
            raise missing(f"payload[{customer_key}]")
        value = _value(payload, value_key, meter["default_aggregation"]["formula"])
        if _recent_event(call.store, identifier, now) is not None:
            raise StripeError(
                400,
                f"An event already exists with identifier {identifier}.",
                code="resource_already_exists",
                param="identifier",
                headers={"Stripe-Should-Retry": "false"},
            )
        call.store.meter_events.append(
            {
                "identifier": identifier,
                "event_name": event_name,
                "meter": meter["id"],
                "customer": customer,
                "value": value,
                "timestamp": timestamp,
                "created": now,
                "payload": dict(payload),
                "cancelled": False,
                # Stripe accepts the event and reports an unknown customer asynchronously.
                "billable": call.store.find("customer", customer) is not None,
            }
        )
    return {
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": False,
        "payload": dict(payload),
        "timestamp": timestamp,
    }


def _value(payload: Json, key: str, formula: str) -> int:
    raw = payload.get(key)
    if raw is None:
        if formula == "count":
            return 1  # a count meter does not need a value
        raise missing(f"payload[{key}]")
    if not isinstance(raw, str) or not _WHOLE.fullmatch(raw):
        raise invalid(
            f"payload[{key}] must be a whole number; got {raw!r}.", param=f"payload[{key}]"
        )
    return int(raw)


def _create_adjustment(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("event_name", "type", "cancel"))
    event_name = params.required_string(p, "event_name")
    params.choice(p, "type", ("cancel",), default="cancel")
    cancel = params.mapping(p, "cancel") or {}
    identifier = params.string(cancel, "identifier")
    if identifier is None:
        raise missing("cancel[identifier]")
    with call.store.lock:
        event = _recent_event(call.store, identifier, call.now)
        if event is None or event["event_name"] != event_name:
            raise invalid(
                f"No meter event with identifier {identifier} was received for "
                f"`{event_name}` in the last 24 hours.",
                param="cancel[identifier]",
            )
        event["cancelled"] = True
    return {
        "object": "billing.meter_event_adjustment",
        "cancel": {"identifier": identifier},
        "event_name": event_name,
        "livemode": False,
        "status": "pending",
        "type": "cancel",
    }


# --- aggregation ------------------------------------------------------------------------


def aggregate(store: Store, meter: Json, customer: str, start: int, end: int) -> int:
    """The meter's formula over the customer's events with ``start <= timestamp < end``."""
    events = _counted(store, meter, customer, start, end)
    formula = meter["default_aggregation"]["formula"]
    if formula == "count":
        return len(events)
    if formula == "last":
        # Latest by event time; among equal timestamps the one received last wins.
        ordered = sorted(enumerate(events), key=lambda pair: (pair[1]["timestamp"], pair[0]))
        return int(ordered[-1][1]["value"]) if ordered else 0
    return sum(int(e["value"]) for e in events)


def _summaries(call: Call) -> Json:
    p = call.params
    params.reject_unknown(
        p, (*listing.PAGINATION, "customer", "start_time", "end_time", "value_grouping_window")
    )
    customer = params.required_string(p, "customer")
    start = params.required_integer(p, "start_time")
    end = params.required_integer(p, "end_time")
    window = params.choice(p, "value_grouping_window", tuple(_WINDOWS))
    for name, moment in (("start_time", start), ("end_time", end)):
        step = _WINDOWS[window] if window else 60
        if moment % step:
            unit = window or "minute"
            raise invalid(f"{name} must be aligned with {unit} boundaries.", param=name)
    if end <= start:
        raise invalid("end_time must be after start_time.", param="end_time")
    with call.store.lock:
        meter = call.store.get("billing.meter", call.path["id"])
        step = _WINDOWS[window] if window else end - start
        bounds = [(s, min(s + step, end)) for s in range(start, end, step)]
        summaries = [
            _summary(meter, s, e, aggregate(call.store, meter, customer, s, e))
            for s, e in bounds
            if window is None or _counted(call.store, meter, customer, s, e)
        ]
    # Stored oldest first; page() lists newest first as Stripe does.
    url = f"/v1/billing/meters/{meter['id']}/event_summaries"
    return listing.page(summaries, p, url)


def _counted(store: Store, meter: Json, customer: str, start: int, end: int) -> list[Json]:
    """Events that count: this meter's, this customer's, not cancelled, in ``[start, end)``."""
    return [
        e
        for e in store.meter_events
        if e["meter"] == meter["id"]
        and e["customer"] == customer
        and e["billable"]
        and not e["cancelled"]
        and start <= e["timestamp"] < end
    ]


def _summary(meter: Json, start: int, end: int, value: int) -> Json:
    return {
        "id": f"mtrusg_{meter['id']}_{start}_{end}",
        "object": "billing.meter_event_summary",
        "aggregated_value": value,
        "end_time": end,
        "livemode": False,
        "meter": meter["id"],
        "start_time": start,
    }


ROUTES = [
    Route("POST", "/v1/billing/meters", _create_meter),
    Route("GET", "/v1/billing/meters", _list_meters),
    Route("GET", "/v1/billing/meters/{id}", retrieve("billing.meter")),
    Route("POST", "/v1/billing/meters/{id}", _update_meter),
    Route("POST", "/v1/billing/meters/{id}/deactivate", _deactivate),
    Route("POST", "/v1/billing/meters/{id}/reactivate", _reactivate),
    Route("GET", "/v1/billing/meters/{id}/event_summaries", _summaries),
    Route("POST", "/v1/billing/meter_events", _create_meter_event),
    Route("POST", "/v1/billing/meter_event_adjustments", _create_adjustment),
]
