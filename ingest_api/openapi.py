"""OpenAPI pieces generated from the msgspec types the API really uses.

FastAPI derives schemas from pydantic models; our hot path speaks msgspec, so instead of a
second, hand-kept set of pydantic models the schemas are generated from the msgspec types and
merged into FastAPI's document.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI

from ingest_api.events.errors import _ErrorEnvelope
from ingest_api.events.native import NativeEvent

REF_TEMPLATE = "#/components/schemas/{name}"

EXAMPLE_EVENT = {
    "event_id": "req-2026-11-24-000042",
    "customer_id": "cus_00017",
    "event_type": "ai_tokens",
    "feature": "ai_tokens",
    "quantity": "1532",
    "unit": "token",
    "timestamp": "2026-11-24T09:30:00Z",
    "properties": {"model": "gpt-4o-mini", "token_type": "completion"},
}
EXAMPLE_CLOUDEVENT = {
    "specversion": "1.0",
    "id": "req-2026-11-24-000042",
    "source": "notes-service",
    "type": "ai_tokens",
    "subject": "cus_00017",
    "time": "2026-11-24T09:30:00Z",
    "data": {
        "feature": "ai_tokens",
        "quantity": "1532",
        "unit": "token",
        "properties": {"model": "gpt-4o-mini", "token_type": "completion"},
    },
}


def _components() -> dict[str, Any]:
    from ingest_api.events.cloudevents import CloudEvent
    from ingest_api.limit_check_endpoint import LimitCheckRequest, LimitCheckResult
    from ingest_api.service import EventStatus, IngestResult

    _, components = msgspec.json.schema_components(
        [
            NativeEvent,
            CloudEvent,
            IngestResult,
            EventStatus,
            _ErrorEnvelope,
            LimitCheckRequest,
            LimitCheckResult,
        ],
        ref_template=REF_TEMPLATE,
    )
    return components


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(name=name)}


def _one_or_many(name: str) -> dict[str, Any]:
    return {"oneOf": [_ref(name), {"type": "array", "items": _ref(name), "minItems": 1}]}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _ref("_ErrorEnvelope")}},
    }


def ingest_openapi() -> dict[str, Any]:
    result = {"application/json": {"schema": _ref("IngestResult")}}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _one_or_many("NativeEvent"),
                    "examples": {
                        "single": {"value": EXAMPLE_EVENT},
                        "batch": {"value": [EXAMPLE_EVENT, {**EXAMPLE_EVENT, "event_id": "e2"}]},
                    },
                },
                "application/cloudevents+json": {
                    "schema": _ref("CloudEvent"),
                    "example": EXAMPLE_CLOUDEVENT,
                },
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": _ref("CloudEvent"), "minItems": 1},
                    "example": [EXAMPLE_CLOUDEVENT],
                },
            },
        },
        "responses": {
            "200": {"description": "Every event accepted or a duplicate.", "content": result},
            "207": {"description": "Some events rejected; the rest stored.", "content": result},
            "422": {"description": "Every event rejected; nothing stored.", "content": result},
            "400": _error("The body is not valid JSON, or not events."),
            "401": _error("Missing or invalid API key."),
            "403": _error("The key lacks the ingest scope."),
            "413": _error("Body or batch larger than the limit."),
            "415": _error("Unsupported Content-Type."),
            "503": _error("Storage unavailable; nothing acknowledged. Retry."),
        },
    }


def status_openapi() -> dict[str, Any]:
    status = {"application/json": {"schema": _ref("EventStatus")}}
    return {
        "responses": {
            "200": {"description": "Accepted or rejected, with the history.", "content": status},
            "404": {"description": "Not seen within the dedup window.", "content": status},
            "401": _error("Missing or invalid API key."),
            "403": _error("The key lacks the read or ingest scope, or acts for another customer."),
            "400": _error("customer_id missing or invalid."),
        }
    }


def limit_check_openapi() -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": _ref("LimitCheckRequest"),
                    "example": {
                        "customer_id": "cus_00017",
                        "feature": "ai_tokens",
                        "quantity": "1532",
                    },
                }
            },
        },
        "responses": {
            "200": {
                "description": "The answer, allowed or not.",
                "content": {
                    "application/json": {
                        "schema": _ref("LimitCheckResult"),
                        "example": {
                            "customer_id": "cus_00017",
                            "feature": "ai_tokens",
                            "quantity": "1532",
                            "allowed": False,
                            "used": "99000",
                            "limit": "100000",
                            "remaining": "1000",
                            "enforcement": "hard",
                            "resets_at": "2026-12-01T00:00:00Z",
                            "reason": "hard limit reached: ...",
                        },
                    }
                },
            },
            "400": _error("The body is not a limit check (missing fields, bad quantity)."),
            "401": _error("Missing or invalid API key."),
            "403": _error("The key lacks the scope, or acts for another customer."),
            "404": _error("The feature is not in the catalogue."),
        },
    }


def install_components(app: FastAPI) -> None:
    """Adds the msgspec-generated schemas to FastAPI's generated document, once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {}).setdefault("schemas", {}).update(_components())
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
