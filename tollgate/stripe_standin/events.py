"""Stripe events (``evt_…``): recorded for ``/v1/events`` and handed to webhook delivery."""

from __future__ import annotations

import copy
from typing import Any

from tollgate.stripe_standin import listing, params
from tollgate.stripe_standin.routing import Call, Route, retrieve
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]

API_VERSION = "2026-10-28.endive"


def emit(
    store: Store,
    type_: str,
    obj: Json,
    *,
    request_id: str | None = None,
    previous: Json | None = None,
) -> Json:
    """Records an event with a snapshot of ``obj`` (later changes must not leak into it)."""
    data: Json = {"object": copy.deepcopy(obj)}
    if previous:
        data["previous_attributes"] = copy.deepcopy(previous)
    with store.lock:
        event: Json = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": store.clock.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": request_id, "idempotency_key": None},
            "type": type_,
        }
        store.add("event", event)
        if store.on_event is not None:
            store.on_event(event)
    return event


def _list(call: Call) -> Json:
    params.reject_unknown(call.params, (*listing.PAGINATION, "type", "types"))
    wanted = {*params.string_list(call.params, "types")}
    single = params.string(call.params, "type")
    if single:
        wanted.add(single)
    events = [e for e in call.store.all("event") if not wanted or e["type"] in wanted]
    return listing.page(events, call.params, "/v1/events")


ROUTES = [
    Route("GET", "/v1/events", _list),
    Route("GET", "/v1/events/{id}", retrieve("event")),
]
