"""``POST /webhooks/stripe``: Stripe's events about invoices and subscriptions, applied once.

The HTTP side only: the secret, the body limit, and turning ``tollgate.stripe_webhooks``'
answers into statuses and the API's error body. Verification and processing live there.
"""

from __future__ import annotations

import logging

import msgspec
from pydantic import SecretStr
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool

from ingest_api.events.errors import RequestError
from ingest_api.ingest_endpoint import Reply, too_large
from ingest_api.responses import encode
from tollgate.stripe_webhooks.objects import MalformedEventError
from tollgate.stripe_webhooks.processor import WebhookProcessor
from tollgate.stripe_webhooks.verify import RejectedWebhookError, invalid_event, verified_event

log = logging.getLogger(__name__)


class WebhookReceipt(msgspec.Struct):
    received: bool
    # True: this event id was processed before; nothing was done again.
    duplicate: bool
    # What processing did: applied, stale (older than an event already applied to the same
    # object), ignored_type, ignored_unknown_customer, ignored_unknown_subscription, rejected.
    outcome: str | None = None


NOT_CONFIGURED = RequestError(
    503,
    "webhooks_not_configured",
    "Stripe webhooks are not configured on this server, so no event can be verified.",
    "Set STRIPE_WEBHOOK_SECRET to the endpoint's signing secret (whsec_..., shown in the "
    "Stripe dashboard under Developers > Webhooks, or printed by `stripe listen`) and "
    "restart the server.",
)
STORAGE_UNAVAILABLE = RequestError(
    503,
    "storage_unavailable",
    "The control database could not record the event; nothing of it was applied.",
    "Stripe retries on its own; the operator should check the control database.",
)


class StripeWebhookEndpoint:
    def __init__(
        self,
        processor: WebhookProcessor,
        secret: SecretStr | None,
        *,
        tolerance_seconds: int,
        max_body_bytes: int,
    ) -> None:
        self._processor = processor
        self._secret = secret.get_secret_value().strip() if secret is not None else ""
        self._tolerance = tolerance_seconds
        self._max_body_bytes = max_body_bytes

    async def handle(self, body: bytes, signature: str | None) -> Reply:
        try:
            receipt = await self._receive(body, signature)
        except RequestError as error:
            return Reply(error.status, error.to_json())
        return Reply(200, encode(receipt))

    async def _receive(self, body: bytes, signature: str | None) -> WebhookReceipt:
        if not self._secret:
            raise NOT_CONFIGURED
        if len(body) > self._max_body_bytes:
            raise too_large(self._max_body_bytes)
        try:
            event = verified_event(body, signature, self._secret, self._tolerance)
            processed = await run_in_threadpool(self._processor.process, event)
        except RejectedWebhookError as rejected:
            raise _bad_request(rejected) from None
        except MalformedEventError as error:
            raise _bad_request(invalid_event(str(error))) from None
        except DBAPIError:
            log.exception("a Stripe webhook event could not be recorded")
            raise STORAGE_UNAVAILABLE from None
        return WebhookReceipt(
            received=True, duplicate=processed.duplicate, outcome=processed.outcome
        )


def _bad_request(rejected: RejectedWebhookError) -> RequestError:
    return RequestError(400, rejected.code, rejected.message, rejected.hint)
