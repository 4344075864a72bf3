"""Typed FastAPI dependencies: the running service and the authenticated key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from ingest_api.auth.authenticator import Authenticator
from ingest_api.ingest_endpoint import IngestEndpoint
from ingest_api.service import IngestService
from tollgate.control.api_keys import ApiKey, Scope


def get_endpoint(request: Request) -> IngestEndpoint:
    endpoint: IngestEndpoint = request.app.state.endpoint
    return endpoint


def get_service(endpoint: Annotated[IngestEndpoint, Depends(get_endpoint)]) -> IngestService:
    return endpoint.service


def get_authenticator(endpoint: Annotated[IngestEndpoint, Depends(get_endpoint)]) -> Authenticator:
    return endpoint.auth


def require_read(
    auth: Annotated[Authenticator, Depends(get_authenticator)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ApiKey:
    # Services debugging their own events hold ingest keys, so those may read event status too.
    return auth.authenticate(authorization, Scope.READ, Scope.INGEST)


ServiceDep = Annotated[IngestService, Depends(get_service)]
EndpointDep = Annotated[IngestEndpoint, Depends(get_endpoint)]
ReadKey = Annotated[ApiKey, Depends(require_read)]
