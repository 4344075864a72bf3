"""``/v1/limits/check``: the original system's checkLimit, over HTTP."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from ingest_api.limit_check_endpoint import LimitCheckEndpoint
from ingest_api.openapi import limit_check_openapi
from ingest_api.responses import JSON

router = APIRouter(prefix="/v1/limits", tags=["limits"])


@router.post(
    "/check",
    summary="May this customer use this much of a feature now?",
    description=(
        "Answers allowed or not, with the limit, the usage in the current window (the last "
        "pipeline run plus every event accepted since, so a hard limit bites within a second "
        "of the event that crossed it), what remains, whether the limit is hard or soft and "
        "when it resets. Refuses only past a hard limit; past a soft one it allows and says "
        "so. Requires an `ingest` or `read` key; a customer's own key may check only that "
        "customer."
    ),
    response_class=Response,
    openapi_extra=limit_check_openapi(),
)
async def check_limit(request: Request) -> Response:
    endpoint: LimitCheckEndpoint = request.app.state.limit_check
    reply = endpoint.handle(request.headers.get("authorization"), await request.body())
    return Response(reply.body, status_code=reply.status, media_type=JSON)
