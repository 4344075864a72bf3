"""Errors produced while parsing an ingest request.

Two granularities:

* ``RequestError``: the request as a whole is unusable (wrong content type, malformed JSON, too
  many events, ...). Nothing from it is stored; the HTTP layer answers with ``status`` and
  ``to_json()``.
* ``Rejection``: one event inside an otherwise usable request is invalid. The other events of the
  batch are still accepted (partial acceptance); the rejection is listed in the response.
"""

from __future__ import annotations

import msgspec

_encoder = msgspec.json.Encoder()


class _ErrorBody(msgspec.Struct):
    code: str
    message: str
    hint: str


class _ErrorEnvelope(msgspec.Struct):
    error: _ErrorBody


class RequestError(Exception):
    """The whole request is unusable (nothing stored)."""

    def __init__(self, status: int, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.status = status  # a 4xx HTTP status
        self.code = code  # stable snake_case identifier, e.g. "malformed_json"
        self.message = message  # what was wrong, and where
        self.hint = hint  # how to fix it

    def to_json(self) -> bytes:
        """``{"error": {"code": ..., "message": ..., "hint": ...}}`` as UTF-8 JSON."""
        return _encoder.encode(_ErrorEnvelope(_ErrorBody(self.code, self.message, self.hint)))

    def __repr__(self) -> str:
        return f"RequestError(status={self.status}, code={self.code!r}, message={self.message!r})"


class Rejection(msgspec.Struct, omit_defaults=True):
    """One event refused inside an otherwise usable batch."""

    index: int  # position in the batch (0 for a single event)
    event_id: str | None  # if it could be read
    customer_id: str | None  # if it could be read
    field: str  # JSON path of the offending field, e.g. "quantity", "data.quantity", "$"
    reason: str  # what was wrong, naming the limit where there is one
    # "limit_exceeded": refused by a hard usage limit (the reason names the feature, the
    # limit and when it resets); None: the event itself is invalid.
    code: str | None = None
