"""The ASGI app: Stripe's v1 routes behind auth, idempotency and Stripe-shaped errors,
the ``/_standin/`` test helpers, all wrapped by the fault-injection layer."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp

from tollgate.stripe_standin import (
    catalog,
    events,
    forms,
    helpers,
    invoices,
    meters,
    prices,
    subscriptions,
    webhooks,
)
from tollgate.stripe_standin.errors import StripeError, api_error, unsupported
from tollgate.stripe_standin.faults import FaultMiddleware
from tollgate.stripe_standin.routing import Call, Route
from tollgate.stripe_standin.state import StandinState
from tollgate.stripe_standin.store import new_id

Json = dict[str, Any]
Endpoint = Callable[[Request], Awaitable[Response]]

log = logging.getLogger(__name__)

API_ROUTES: list[Route] = [
    *catalog.ROUTES,
    *prices.ROUTES,
    *meters.ROUTES,
    *subscriptions.ROUTES,
    *invoices.ROUTES,
    *webhooks.ROUTES,
    *events.ROUTES,
]

_NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."
)


def build_app(state: StandinState) -> ASGIApp:
    routes: list[BaseRoute] = [
        StarletteRoute(r.path, _endpoint(state, r), methods=[r.method]) for r in API_ROUTES
    ]
    routes += helpers.routes(state)
    routes.append(
        StarletteRoute(
            "/{rest:path}", _unsupported(state), methods=["GET", "POST", "DELETE", "PUT", "PATCH"]
        )
    )
    return FaultMiddleware(Starlette(routes=routes), state.faults)


def _authenticate(state: StandinState, request: Request) -> None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise StripeError(401, _NO_KEY)
    if not state.accepts(token.strip()):
        raise StripeError(401, f"Invalid API Key provided: {token[:8]}***{token[-4:]}")


def _json(status: int, payload: Json, headers: dict[str, str]) -> Response:
    return Response(json.dumps(payload).encode(), status, headers, media_type="application/json")


def _endpoint(state: StandinState, route: Route) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        headers = {"Request-Id": new_id("req"), "Stripe-Version": events.API_VERSION}
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        fingerprint = ""
        try:
            _authenticate(state, request)
            body = await request.body()
            params = forms.decode(request.url.query)
            params.update(forms.decode(body.decode()))
            if key:
                headers["Idempotency-Key"] = key
                fingerprint = state.idempotency.fingerprint(request.method, request.url.path, body)
                saved = state.idempotency.replay(key, fingerprint, state.clock.now())
                if saved is not None:
                    return Response(
                        saved.body,
                        saved.status,
                        {**headers, "Idempotent-Replayed": "true"},
                        media_type="application/json",
                    )
            call = Call(
                state.store,
                params,
                dict(request.path_params),
                headers["Request-Id"],
                str(request.url.path),
            )
            status, payload = 200, route.handler(call)
        except StripeError as error:
            status, payload = error.status, error.body()
            headers.update(error.headers)
        except Exception:  # a stand-in bug must still look like Stripe's 500
            log.exception("stand-in handler failed: %s %s", request.method, request.url.path)
            failure = api_error()
            status, payload = failure.status, failure.body()
            # Stripe answers a 500 it did not save as retryable.
            headers["Stripe-Should-Retry"] = "true"
        response = _json(status, payload, headers)
        if key and fingerprint:
            state.idempotency.save(
                key, fingerprint, status, bytes(response.body), state.clock.now()
            )
        return response

    return endpoint


def _unsupported(state: StandinState) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        error = unsupported(f"{request.method} {request.url.path}")
        return JSONResponse(error.body(), error.status, {"Request-Id": new_id("req")})

    return endpoint
