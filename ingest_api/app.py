"""Application factory of the ingest API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from ingest_api import billing
from ingest_api.auth.authenticator import Authenticator
from ingest_api.events.errors import RequestError
from ingest_api.fastpath import IngestFastPath
from ingest_api.ingest_endpoint import IngestEndpoint
from ingest_api.limit_check_endpoint import LimitCheckEndpoint
from ingest_api.live_limits import LiveLimits
from ingest_api.openapi import install_components
from ingest_api.responses import JSON
from ingest_api.routes import events, health, stripe_webhooks
from ingest_api.routes import limits as limits_routes
from ingest_api.service import IngestService
from ingest_api.settings import IngestSettings
from ingest_api.stripe_webhook_endpoint import StripeWebhookEndpoint
from tollgate.control.api_keys import KeyStore
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.delivery.service import delivery_service
from tollgate.limits.change_feed import ChangeFeed
from tollgate.limits.engine import LimitEngine
from tollgate.stripe_webhooks.processor import WebhookProcessor
from tollgate.warehouse.reader import PublishedMarts


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    control_engine = open_control_database(settings.control_database_url)
    catalogue = settings.catalogue()
    marts = PublishedMarts(settings.marts_dir)
    control = ControlService(control_engine, catalogue, actor="ingest-api")
    limits = LimitEngine(control, catalogue)
    live = (
        LiveLimits(limits, marts, ChangeFeed(control_engine), catalogue, settings.events_dir)
        if settings.enforce_limits
        else None
    )
    service = IngestService(settings, live=live)
    keys = KeyStore(control_engine, actor="ingest-api")
    endpoint = IngestEndpoint(service, Authenticator(keys))

    delivery = delivery_service(control, marts)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        if delivery is not None:
            delivery.start()
        try:
            yield
        finally:
            if delivery is not None:
                await asyncio.to_thread(delivery.stop)
            await service.stop()

    app = FastAPI(
        title="Tollgate ingest API",
        version="0.1.0",
        summary="Durable, idempotent intake of usage events for billing.",
        lifespan=lifespan,
    )
    app.state.endpoint = endpoint
    app.state.limit_check = LimitCheckEndpoint(limits, endpoint.auth)
    # What the billing API's routes use (ingest_api/billing/): one of each per process.
    app.state.control_engine = control_engine
    app.state.catalogue = catalogue
    app.state.marts = marts
    app.state.limits = limits
    app.state.stripe_webhooks = StripeWebhookEndpoint(
        WebhookProcessor(control),
        settings.stripe_webhook_secret,
        tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
        max_body_bytes=settings.max_body_bytes,
    )
    app.include_router(events.router)
    app.include_router(limits_routes.router)
    app.include_router(health.router)
    app.include_router(billing.router)
    app.include_router(stripe_webhooks.router)
    _install_error_handlers(app)
    install_components(app)
    return app


def create_asgi(settings: IngestSettings | None = None) -> ASGIApp:
    """What the server runs: the app, behind the ingest fast path unless it is switched off.

    The fast path wraps the whole FastAPI app rather than sitting in its middleware stack, so
    ingest requests skip that stack entirely.
    """
    app = create_app(settings)
    if not app.state.endpoint.service.settings.fast_path:
        return app
    return IngestFastPath(app, app.state.endpoint, app.state.limit_check)


def _install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"error": {"code", "message", "hint"}}``, like the hot path's."""

    @app.exception_handler(RequestError)
    async def request_error(_: Request, error: RequestError) -> Response:
        return Response(error.to_json(), status_code=error.status, media_type=JSON)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        body = RequestError(
            400, "invalid_request", problems, "Correct the named parameters and retry."
        ).to_json()
        # 400, not FastAPI's 422: on this API 422 means "every event in the batch was
        # rejected" and carries the ingest result, so one status keeps one body shape.
        return Response(body, status_code=400, media_type=JSON)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> Response:
        body = RequestError(
            error.status_code, "http_error", str(error.detail), "See /docs for the API."
        ).to_json()
        # Keep the headers the error carries (Allow on a 405, WWW-Authenticate ...).
        return Response(body, status_code=error.status_code, media_type=JSON, headers=error.headers)
