"""Is this request a webhook event Stripe signed, recently? The official SDK decides.

``stripe.Webhook.construct_event`` checks the ``Stripe-Signature`` header (``t=<unix>,v1=<hex
HMAC-SHA256 of "t.raw_body">``) against the endpoint's secret on the raw body, exactly as
received (never re-serialised JSON, whose bytes would differ), and refuses a timestamp older
than the tolerance. Each refusal becomes a ``RejectedWebhookError`` with a stable code.
"""

from __future__ import annotations

import stripe

from tollgate.stripe_webhooks.objects import MalformedEventError, WebhookEvent

DEFAULT_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE  # 300, Stripe's default


class RejectedWebhookError(Exception):
    """The request is not an acceptable Stripe event; nothing of it is stored."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def verified_event(
    body: bytes,
    signature: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookEvent:
    """The event in ``body`` if ``signature`` proves Stripe sent it within ``tolerance`` s."""
    if not signature:
        raise RejectedWebhookError(
            "missing_signature",
            "the request has no Stripe-Signature header",
            "Only Stripe can call this endpoint: it signs every event it sends.",
        )
    if not signature.isascii():  # hmac.compare_digest refuses non-ASCII text with a TypeError
        raise _invalid_signature()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the body is not UTF-8 text") from None
    try:
        event = stripe.Webhook.construct_event(text, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError:
        raise _signature_refused(text, signature, secret, tolerance) from None
    except (ValueError, AttributeError) as error:  # not JSON, or JSON but not an event object
        raise _malformed(f"the body is not a Stripe event: {error}") from None
    try:
        return WebhookEvent.from_stripe(event)
    except MalformedEventError as error:
        raise invalid_event(str(error)) from None


def invalid_event(message: str) -> RejectedWebhookError:
    return RejectedWebhookError(
        "invalid_event",
        f"the signed event is not one this endpoint can read: {message}",
        "Send Stripe events of API version 2026-10-28 or compatible (see docs/api.md).",
    )


def _signature_refused(
    text: str, signature: str, secret: str, tolerance: int
) -> RejectedWebhookError:
    """Stale if the signature is right but old; invalid otherwise."""
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance=None)
    except stripe.SignatureVerificationError:
        return _invalid_signature()
    return RejectedWebhookError(
        "stale_signature",
        f"the Stripe-Signature timestamp is more than {tolerance} s old",
        "A replayed or delayed request: Stripe retries with a fresh signature. Check that "
        "this server's clock is right.",
    )


def _invalid_signature() -> RejectedWebhookError:
    return RejectedWebhookError(
        "invalid_signature",
        "the Stripe-Signature header does not match the body and this endpoint's secret",
        "Set STRIPE_WEBHOOK_SECRET to the signing secret (whsec_...) of this endpoint in the "
        "Stripe dashboard, and pass the body on unchanged.",
    )


def _malformed(message: str) -> RejectedWebhookError:
    return RejectedWebhookError(
        "malformed_json", message, "Stripe sends each event as one JSON object (see /docs)."
    )
