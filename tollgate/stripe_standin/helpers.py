"""``/_standin/`` routes: test controls that are not part of Stripe's API (JSON in, JSON out).

- ``GET|POST /_standin/clock`` ``{"now": unix}`` or ``{"advance": seconds}``
- ``GET|POST|DELETE /_standin/faults`` ``{"method", "path", "kind", "count", "hold_seconds"}``
- ``GET /_standin/requests``: how many requests each ``METHOD /path`` received
- ``POST /_standin/webhook_endpoints`` ``{"url", "enabled_events", "secret"?}``
- ``GET /_standin/deliveries``; ``POST /_standin/events/{id}/redeliver`` ``{"endpoint"?}``
- ``POST /_standin/subscriptions/{id}/close_period`` ``{"outcome": "paid"|"failed"}``
- ``POST /_standin/invoices/{id}/pay`` and ``.../fail``
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from tollgate.stripe_standin.errors import StripeError, invalid
from tollgate.stripe_standin.faults import describe
from tollgate.stripe_standin.state import StandinState

Json = dict[str, Any]
Action = Callable[[StandinState, Request, Json], Any]


async def _body(request: Request) -> Json:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise invalid("The /_standin/ helpers take a JSON body.") from None
    if not isinstance(value, dict):
        raise invalid("The /_standin/ helpers take a JSON object.")
    return value


def _wrap(state: StandinState, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            result = action(state, request, await _body(request))
        except StripeError as error:
            return JSONResponse(error.body(), error.status)
        except (KeyError, TypeError, ValueError) as error:
            return JSONResponse(invalid(f"Bad helper request: {error}").body(), 400)
        return JSONResponse(result)

    return endpoint


def _clock(state: StandinState, request: Request, body: Json) -> Json:
    if request.method == "POST":
        if "now" in body:
            state.clock.set(int(body["now"]))
        elif "advance" in body:
            state.clock.advance(int(body["advance"]))
        else:
            raise invalid("Give now or advance.")
    return {"now": state.clock.now()}


def _faults(state: StandinState, request: Request, body: Json) -> Json:
    if request.method == "DELETE":
        state.faults.clear()
    elif request.method == "POST":
        state.faults.add(
            str(body["method"]),
            str(body["path"]),
            str(body["kind"]),
            int(body.get("count", 1)),
            float(body.get("hold_seconds", 30.0)),
        )
    return {"faults": [describe(rule) for rule in state.faults.rules]}


def _requests(state: StandinState, request: Request, body: Json) -> Json:
    return {"requests": dict(state.faults.counts)}


def _endpoint(state: StandinState, request: Request, body: Json) -> Json:
    return state.add_webhook_endpoint(
        str(body["url"]), body.get("enabled_events"), body.get("secret")
    )


def _deliveries(state: StandinState, request: Request, body: Json) -> Json:
    return {"deliveries": list(state.dispatcher.deliveries)}


def _redeliver(state: StandinState, request: Request, body: Json) -> Json:
    state.dispatcher.redeliver(request.path_params["id"], body.get("endpoint"))
    return {"redelivering": request.path_params["id"]}


def _close_period(state: StandinState, request: Request, body: Json) -> Json:
    return state.close_period(request.path_params["id"], str(body.get("outcome", "paid")))


def _pay(state: StandinState, request: Request, body: Json) -> Json:
    return state.settle_invoice(request.path_params["id"], "paid")


def _fail(state: StandinState, request: Request, body: Json) -> Json:
    return state.settle_invoice(request.path_params["id"], "failed")


_ROUTES: list[tuple[str, list[str], Action]] = [
    ("/_standin/clock", ["GET", "POST"], _clock),
    ("/_standin/faults", ["GET", "POST", "DELETE"], _faults),
    ("/_standin/requests", ["GET"], _requests),
    ("/_standin/webhook_endpoints", ["POST"], _endpoint),
    ("/_standin/deliveries", ["GET"], _deliveries),
    ("/_standin/events/{id}/redeliver", ["POST"], _redeliver),
    ("/_standin/subscriptions/{id}/close_period", ["POST"], _close_period),
    ("/_standin/invoices/{id}/pay", ["POST"], _pay),
    ("/_standin/invoices/{id}/fail", ["POST"], _fail),
]


def routes(state: StandinState) -> list[BaseRoute]:
    return [Route(path, _wrap(state, action), methods=methods) for path, methods, action in _ROUTES]
