"""Application factory of the ingest API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from ingest_api.auth.authenticator import Authenticator
from ingest_api.events.errors import RequestError
from ingest_api.fastpath import IngestFastPath
from ingest_api.ingest_endpoint import IngestEndpoint
from ingest_api.openapi import install_components
from ingest_api.responses import JSON
from ingest_api.routes import events, health
from ingest_api.service import IngestService
from ingest_api.settings import IngestSettings
from tollgate.control.api_keys import KeyStore
from tollgate.control.database import open_control_database


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    service = IngestService(settings)
    keys = KeyStore(open_control_database(settings.control_database_url), actor="ingest-api")
    endpoint = IngestEndpoint(service, Authenticator(keys))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(
        title="Tollgate ingest API",
        version="0.1.0",
        summary="Durable, idempotent intake of usage events for billing.",
        lifespan=lifespan,
    )
    app.state.endpoint = endpoint
    app.include_router(events.router)
    app.include_router(health.router)
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
    return IngestFastPath(app, app.state.endpoint)


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
        return Response(body, status_code=error.status_code, media_type=JSON)
