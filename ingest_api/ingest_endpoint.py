"""``POST /v1/events``: the one function both the fast path and the FastAPI route call."""

from __future__ import annotations

from dataclasses import dataclass

from ingest_api.auth.authenticator import Authenticator
from ingest_api.events.errors import RequestError
from ingest_api.responses import encode
from ingest_api.service import IngestService
from tollgate.control.api_keys import Scope


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes


def too_large(limit: int) -> RequestError:
    return RequestError(
        413,
        "payload_too_large",
        f"The request body is larger than the {limit}-byte limit.",
        "Split the events into smaller batches (TOLLGATE_MAX_BODY_BYTES sets the limit).",
    )


class IngestEndpoint:
    def __init__(self, service: IngestService, auth: Authenticator) -> None:
        self.service = service
        self.auth = auth
        self.max_body_bytes = service.settings.max_body_bytes

    async def handle(
        self, authorization: str | None, content_type: str | None, body: bytes
    ) -> Reply:
        try:
            self.auth.authenticate(authorization, Scope.INGEST)
            if len(body) > self.max_body_bytes:
                raise too_large(self.max_body_bytes)
            result = await self.service.ingest(body, content_type)
        except RequestError as error:
            return Reply(error.status, error.to_json())
        return Reply(result.status, encode(result))
