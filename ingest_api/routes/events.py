"""``/v1/events``: post usage events, and ask what became of one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from ingest_api.deps import EndpointDep, ReadKey, ServiceDep
from ingest_api.events.errors import RequestError
from ingest_api.openapi import ingest_openapi, status_openapi
from ingest_api.responses import JSON, encode

router = APIRouter(prefix="/v1/events", tags=["events"])


@router.post(
    "",
    summary="Post one usage event or a batch",
    description=(
        "Accepts one event (a JSON object) or a batch (a JSON array), in the native form or as "
        "CloudEvents 1.0. Answers only after every accepted event is fsync'd to the write-ahead "
        "log. Valid events of a batch are stored even when others are rejected: 200 when all "
        "were accepted or duplicates, 207 when some were rejected, 422 when all were. Requires "
        "a key with the `ingest` scope. See docs/events.md."
    ),
    response_class=Response,
    openapi_extra=ingest_openapi(),
)
async def post_events(request: Request, endpoint: EndpointDep) -> Response:
    # Normally answered by IngestFastPath before routing; this is the same handler for apps
    # built without the fast path, and the place the OpenAPI document describes it.
    reply = await endpoint.handle(
        request.headers.get("authorization"),
        request.headers.get("content-type"),
        await request.body(),
    )
    return Response(reply.body, status_code=reply.status, media_type=JSON)


@router.get(
    "/{event_id}",
    summary="What became of an event",
    description=(
        "Tells whether the event with this id was accepted (and counted once), rejected (and "
        "why), or is unknown within the dedup window. Requires a `read` or `ingest` key."
    ),
    response_class=Response,
    openapi_extra=status_openapi(),
)
async def get_event_status(
    service: ServiceDep,
    key: ReadKey,
    event_id: Annotated[str, Path(min_length=1, max_length=255)],
    customer_id: Annotated[
        str, Query(min_length=1, max_length=255, description="The event's customer_id.")
    ],
) -> Response:
    if not key.may_act_for(customer_id):
        error = RequestError(
            403,
            "forbidden_customer",
            f"this key acts for customer '{key.customer_id}' and cannot read events of "
            f"'{customer_id}'",
            "Use the customer's own key, or a service key.",
        )
        return Response(error.to_json(), status_code=403, media_type=JSON)
    status = await service.status(event_id, customer_id)
    code = 404 if status.status == "unknown" else 200
    return Response(encode(status), status_code=code, media_type=JSON)
