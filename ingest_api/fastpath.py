"""Pure-ASGI routes for ``POST /v1/events`` and ``POST /v1/limits/check`` in front of FastAPI.

These are the hot paths: FastAPI's routing and dependency machinery costs more than the work
itself for single-event requests and limit checks (see docs/benchmarks.md). This middleware
answers those two routes directly and hands everything else to FastAPI; the FastAPI routes of
the same paths stay for the OpenAPI document and call the same endpoint objects.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest_api.ingest_endpoint import IngestEndpoint, too_large
from ingest_api.limit_check_endpoint import LimitCheckEndpoint

_HEADERS = [(b"content-type", b"application/json")]
# A limit check is a few short fields.
_LIMIT_CHECK_MAX_BYTES = 16 * 1024


class IngestFastPath:
    def __init__(
        self, app: ASGIApp, endpoint: IngestEndpoint, limit_check: LimitCheckEndpoint
    ) -> None:
        self.app = app
        self.endpoint = endpoint
        self.limit_check = limit_check

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/v1/limits/check":
            await self._check_limit(scope, receive, send)
            return
        if scope["path"] != "/v1/events":
            await self.app(scope, receive, send)
            return
        authorization = content_type = content_length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"content-length":
                content_length = value
        limit = self.endpoint.max_body_bytes
        if content_length is not None and content_length.isdigit() and int(content_length) > limit:
            # Refuse before reading: an oversized body is never buffered.
            error = too_large(limit)
            await _reply(send, error.status, error.to_json())
            return
        body = await _read_body(receive, limit)
        if body is None:
            error = too_large(limit)
            await _reply(send, error.status, error.to_json())
            return
        reply = await self.endpoint.handle(authorization, content_type, body)
        await _reply(send, reply.status, reply.body)

    async def _check_limit(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
        body = await _read_body(receive, _LIMIT_CHECK_MAX_BYTES)
        if body is None:
            error = too_large(_LIMIT_CHECK_MAX_BYTES)
            await _reply(send, error.status, error.to_json())
            return
        reply = self.limit_check.handle(authorization, body)
        await _reply(send, reply.status, reply.body)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _reply(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": body})
