"""Response bodies shared by the ASGI fast path and the FastAPI routes."""

from __future__ import annotations

import msgspec

from ingest_api.events.errors import RequestError

JSON = "application/json"
_encoder = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    return _encoder.encode(value)


def error_body(error: RequestError) -> bytes:
    return error.to_json()
