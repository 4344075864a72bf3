"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingest_api.deps import ServiceDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The server accepts events (WAL replayed, log writable)",
    responses={503: {"description": "Starting up, or the write-ahead log failed."}},
)
async def readyz(service: ServiceDep, response: Response) -> dict[str, str]:
    if service.ready:
        return {"status": "ready"}
    response.status_code = 503
    return {"status": "not ready"}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(service: ServiceDep) -> Response:
    return Response(generate_latest(service.metrics.registry), media_type=CONTENT_TYPE_LATEST)
