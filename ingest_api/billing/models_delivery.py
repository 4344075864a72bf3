"""Bodies of ``/webhook-endpoints`` and ``/deliveries``: where notices go, and how it went."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tollgate.control.deliveries import Delivery
from tollgate.control.webhook_endpoints import WebhookEndpoint

DeliveryStatus = Literal["pending", "sending", "delivered", "failed"]


class WebhookEndpointIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://example.com/tollgate", "description": "alerts"}]
        },
    )

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Absolute http(s) URL that notices are POSTed to (https in production).",
    )
    description: str | None = Field(default=None, max_length=200)


class WebhookEndpointOut(BaseModel):
    id: str = Field(examples=["we_3f1c2a9b8d7e6f5a4b3c2d1e"])
    url: str
    description: str | None
    enabled: bool
    created_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> "WebhookEndpointOut":
        return cls(
            id=endpoint.endpoint_id,
            url=endpoint.url,
            description=endpoint.description,
            enabled=endpoint.enabled,
            created_at=endpoint.created_at,
        )


class CreatedWebhookEndpoint(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret (whsec_...), shown only now: keep it to verify the "
        "Tollgate-Signature header (docs/notifications.md).",
    )


class WebhookEndpointList(BaseModel):
    endpoints: list[WebhookEndpointOut]


class AttemptOut(BaseModel):
    attempt: int
    trigger: Literal["first", "retry", "recovery", "resend"]
    started_at: datetime
    finished_at: datetime | None
    outcome: Literal["delivered", "failed", "interrupted"] | None = Field(
        description="null while the attempt runs; interrupted: the sender stopped mid-attempt "
        "(the next attempt carries the same delivery id)."
    )
    status_code: int | None = Field(description="The endpoint's HTTP status or SMTP reply code.")
    error: str | None
    duration_ms: int | None


class DeliveryOut(BaseModel):
    id: str = Field(examples=["dlv_6b8e2f0c1d3a5e7f9b1c3d5e"])
    notification_id: str
    notification_type: str
    title: str
    customer_id: str
    channel: Literal["email", "webhook"]
    target: str = Field(description="The e-mail address, or the webhook endpoint's id.")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried.")
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None
    attempt_log: list[AttemptOut] = Field(description="Every attempt, first first.")

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryOut":
        return cls(
            id=delivery.delivery_id,
            notification_id=delivery.notification_id,
            notification_type=delivery.notification_type,
            title=delivery.title,
            customer_id=delivery.customer_id,
            channel=delivery.channel,
            target=delivery.target,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
            last_error=delivery.last_error,
            attempt_log=[
                AttemptOut(
                    attempt=a.attempt,
                    trigger=a.trigger,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    outcome=a.outcome,
                    status_code=a.status_code,
                    error=a.error,
                    duration_ms=a.duration_ms,
                )
                for a in delivery.attempt_log
            ],
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut] = Field(description="Newest first.")
