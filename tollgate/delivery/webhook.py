"""POSTing a notice to a customer's webhook endpoint, signed (``signing.py``).

A delivery is delivered when the endpoint answers 2xx in time; anything else (another status, a
redirect, which is not followed, a timeout, a refused connection) is a failed attempt that the
dispatcher retries later. Receivers deduplicate by ``Tollgate-Delivery-Id``: it is the same on
every attempt and resend of one notice to one endpoint.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

from tollgate.delivery.notice import Notice
from tollgate.delivery.signing import HEADER, sign

USER_AGENT = "Tollgate-Webhooks/1"
# Enough of a failing endpoint's answer to say what went wrong in the delivery log.
_BODY_EXCERPT = 200


class WebhookDeliveryError(Exception):
    def __init__(self, detail: str, *, status_code: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    status_code: int


def payload(notice: Notice, delivery_id: str) -> bytes:
    """The body: the notice, as an event named by its type. Compact, stable key order."""
    body: dict[str, Any] = {
        "id": delivery_id,
        "object": "event",
        "type": f"notification.{notice.type}",
        "created_at": notice.created_at.isoformat(),
        "data": notice.to_json(),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")


async def post_webhook(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: str,
    notice: Notice,
    delivery_id: str,
    attempt: int,
    timeout_seconds: float,
) -> WebhookOutcome:
    body = payload(notice, delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        HEADER: sign(secret, int(time.time()), body),
        "Tollgate-Delivery-Id": delivery_id,
        "Tollgate-Notification-Id": notice.notification_id,
        "Tollgate-Attempt": str(attempt),
    }
    try:
        response = await client.post(
            url, content=body, headers=headers, timeout=timeout_seconds, follow_redirects=False
        )
    except httpx.TimeoutException:
        raise WebhookDeliveryError(f"no answer within {timeout_seconds:g} s") from None
    except httpx.HTTPError as error:
        # Some transport errors carry no message; their kind still says what happened.
        what = str(error) or type(error).__name__
        raise WebhookDeliveryError(f"could not reach the endpoint: {what}") from None
    if not 200 <= response.status_code < 300:
        excerpt = response.text[:_BODY_EXCERPT].strip()
        raise WebhookDeliveryError(
            f"endpoint answered {response.status_code}" + (f": {excerpt}" if excerpt else ""),
            status_code=response.status_code,
        )
    return WebhookOutcome(response.status_code)
