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
    from ingest_api.stripe_webhook_endpoint import WebhookReceipt

    _, components = msgspec.json.schema_components(
        [
            NativeEvent,
            CloudEvent,
            IngestResult,
            EventStatus,
            _ErrorEnvelope,
            LimitCheckRequest,
            LimitCheckResult,
            WebhookReceipt,
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


EXAMPLE_STRIPE_EVENT = {
    "id": "evt_1QxYzA2eZvKYlo2C0a1b2c3d",
    "object": "event",
    "api_version": "2026-10-28.endive",
    "created": 1764574200,
    "type": "invoice.payment_failed",
    "livemode": False,
    "pending_webhooks": 1,
    "request": {"id": None, "idempotency_key": None},
    "data": {
        "object": {
            "id": "in_1QxYz92eZvKYlo2CkLmNoPqR",
            "object": "invoice",
            "customer": "cus_RqP3sT4uV5wX6y",
            "currency": "usd",
            "amount_due": 7900,
            "amount_paid": 0,
            "period_start": 1761955200,
            "period_end": 1764547200,
            "parent": {
                "type": "subscription_details",
                "subscription_details": {
                    "subscription": "sub_1QxYz82eZvKYlo2C",
                    "metadata": {"tollgate_subscription_id": "sub_5f0c2a9e41d3b7a8"},
                },
            },
        }
    },
}


def stripe_webhook_openapi() -> dict[str, Any]:
    receipt = {"application/json": {"schema": _ref("WebhookReceipt")}}
    return {
        "requestBody": {
            "required": True,
            "description": "The event exactly as Stripe sent it: the signature covers these "
            "bytes, so proxies must pass them on unchanged.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "description": "A Stripe event (API version 2026-10-28).",
                        "properties": {
                            "id": {"type": "string"},
                            "object": {"type": "string", "enum": ["event"]},
                            "type": {"type": "string"},
                            "created": {"type": "integer"},
                            "data": {
                                "type": "object",
                                "properties": {"object": {"type": "object"}},
                                "required": ["object"],
                            },
                        },
                        "required": ["id", "object", "type", "created", "data"],
                    },
                    "example": EXAMPLE_STRIPE_EVENT,
                }
            },
        },
        "responses": {
            "200": {
                "description": "Received: processed now, or a duplicate of an event processed "
                "before (nothing done again).",
                "content": receipt,
            },
            "400": _error(
                "Refused, nothing stored: missing_signature, invalid_signature (forged, or "
                "the body was altered), stale_signature (older than 300 s), malformed_json, "
                "invalid_event."
            ),
            "413": _error("Body larger than the limit."),
            "503": _error(
                "webhooks_not_configured (STRIPE_WEBHOOK_SECRET is not set), or "
                "storage_unavailable; Stripe retries."
            ),
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
