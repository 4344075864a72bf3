"""A pure-ASGI route for ``POST /v1/events`` in front of FastAPI.

Ingest is the one hot path: FastAPI's routing and dependency machinery costs more than the
work itself for single-event requests (see docs/benchmarks.md). This middleware answers that
one route directly and hands everything else to FastAPI; the FastAPI route of the same path
stays for the OpenAPI document and calls the same ``IngestEndpoint``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ingest_api.ingest_endpoint import IngestEndpoint, too_large

_HEADERS = [(b"content-type", b"application/json")]


class IngestFastPath:
    def __init__(self, app: ASGIApp, endpoint: IngestEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/events" or scope["method"] != "POST":
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
