"""``/webhooks/stripe``: where Stripe sends its events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from ingest_api.openapi import stripe_webhook_openapi
from ingest_api.responses import JSON
from ingest_api.stripe_webhook_endpoint import StripeWebhookEndpoint

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post(
    "/stripe",
    summary="Receive a Stripe event",
    description=(
        "Stripe calls this endpoint; nothing else should. The `Stripe-Signature` header is "
        "verified against the raw body with `STRIPE_WEBHOOK_SECRET` (signatures older than "
        "300 s are refused). Each event id is processed once, whatever the retries, and an "
        "event older than one already applied to the same invoice or subscription is recorded "
        "but changes nothing. Handled: `invoice.payment_succeeded`, `invoice.payment_failed`, "
        "`customer.subscription.updated`, `customer.subscription.deleted`; other types are "
        "acknowledged and ignored. No API key: the signature is the authentication. See "
        "docs/api.md."
    ),
    response_class=Response,
    openapi_extra=stripe_webhook_openapi(),
)
async def receive_stripe_event(
    request: Request,
    stripe_signature: Annotated[
        str | None,
        Header(
            alias="Stripe-Signature",
            description='`t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, as '
            "Stripe sends it.",
        ),
    ] = None,
) -> Response:
    endpoint: StripeWebhookEndpoint = request.app.state.stripe_webhooks
    reply = await endpoint.handle(await request.body(), stripe_signature)
    return Response(reply.body, status_code=reply.status, media_type=JSON)
