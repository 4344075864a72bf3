"""Response bodies shared by the ASGI fast path and the FastAPI routes."""

from __future__ import annotations

import msgspec

JSON = "application/json"
_encoder = msgspec.json.Encoder()


def encode(value: object) -> bytes:
    return _encoder.encode(value)
