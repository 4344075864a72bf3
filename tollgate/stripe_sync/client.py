"""The one way Tollgate talks to Stripe: the official SDK, and one retry rule for every call.

Retries are ours, not the SDK's (``max_network_retries=0``), so that every call follows the
rule Stripe documents for meter events and everything else: 429 is answered with exponential
backoff and jitter; 5xx answers, timeouts and lost connections are retried with the same
request (same identifier, same idempotency key), so a write Stripe kept is never made twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import stripe
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from tollgate.stripe_sync.settings import StripeSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_client(settings: StripeSettings) -> stripe.StripeClient | None:
    """A client for Stripe (or the stand-in at ``api_base``); None when no key is set."""
    if settings.secret_key is None:
        return None
    base = settings.api_base.rstrip("/") if settings.api_base else None
    return stripe.StripeClient(
        settings.secret_key.get_secret_value(),
        base_addresses=(
            {"api": base, "connect": base, "files": base, "meter_events": base} if base else None
        ),
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings.timeout_seconds),
    )


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, stripe.RateLimitError | stripe.APIConnectionError):
        return True
    if isinstance(error, stripe.APIError):
        return True  # 5xx: Stripe may or may not have kept the write; retry it as it was
    if isinstance(error, stripe.StripeError):
        status = error.http_status
        return status is not None and (status == 429 or status >= 500)
    return False


def call(
    operation: Callable[[], T],
    *,
    attempts: int,
    max_wait_seconds: float = 20.0,
    wait_multiplier: float = 0.25,
) -> T:
    """Runs ``operation`` (one Stripe request, always built the same way) until it succeeds,
    fails for good, or ``attempts`` run out."""
    retrying = Retrying(
        retry=retry_if_exception(is_retryable),
        wait=wait_random_exponential(multiplier=wait_multiplier, max=max_wait_seconds),
        stop=stop_after_attempt(attempts),
        before_sleep=before_sleep_log(log, logging.WARNING),
        reraise=True,
    )
    return retrying(operation)


def metadata_of(obj: stripe.StripeObject) -> dict[str, str]:
    """A Stripe object's metadata as a plain dict (SDK objects are not dicts since v15)."""
    return dict(obj.to_dict().get("metadata") or {})
