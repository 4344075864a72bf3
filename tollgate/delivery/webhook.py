"""POSTing a notice to a customer's webhook endpoint, signed (``signing.py``).

A delivery is delivered when the endpoint answers 2xx in time; anything else (another status, a
redirect, which is not followed, a timeout, a refused connection) is a failed attempt that the
dispatcher retries later. Receivers deduplicate by ``Tollgate-Delivery-Id``: it is the same on
every attempt and resend of one notice to one endpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
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
    def __init__(
        self, detail: str, *, status_code: int | None = None, retryable: bool = True
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code
        self.retryable = retryable


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
    allow_private: bool = False,
) -> WebhookOutcome:
    """One attempt, within ``timeout_seconds`` from start to finish (httpx's own timeout is
    per network read: an endpoint dripping its answer could hold an attempt for ever)."""
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
        async with asyncio.timeout(timeout_seconds):
            if not allow_private:
                await refuse_private_addresses(url)
            request = client.build_request(
                "POST", url, content=body, headers=headers, timeout=timeout_seconds
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                excerpt = b""
                if not 200 <= response.status_code < 300:
                    async for chunk in response.aiter_bytes():
                        excerpt += chunk
                        if len(excerpt) >= _BODY_EXCERPT:
                            break
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        raise WebhookDeliveryError(f"no answer within {timeout_seconds:g} s") from None
    except httpx.InvalidURL as error:
        raise WebhookDeliveryError(
            f"the endpoint URL is invalid: {error}", retryable=False
        ) from None
    except httpx.HTTPError as error:
        # Some transport errors carry no message; their kind still says what happened.
        what = str(error) or type(error).__name__
        raise WebhookDeliveryError(f"could not reach the endpoint: {what}") from None
    if not 200 <= response.status_code < 300:
        text = excerpt[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
        raise WebhookDeliveryError(
            f"endpoint answered {response.status_code}" + (f": {text}" if text else ""),
            status_code=response.status_code,
        )
    return WebhookOutcome(response.status_code)


async def refuse_private_addresses(url: str) -> None:
    """Refuses an endpoint whose host is, or resolves to, a loopback, private, link-local or
    otherwise non-public address: customers choose the URLs, and the dispatcher runs inside
    the deployment's network (the metadata service, the database ...). Checked before each
    attempt, as Svix's egress proxy does; TOLLGATE_DELIVERY_ALLOW_PRIVATE_ENDPOINTS lifts it
    (the demo, tests, a receiver inside your own network)."""
    host = httpx.URL(url).host
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as error:
        raise WebhookDeliveryError(f"cannot resolve {host}: {error}") from None
    for *_, address in found:
        ip = ipaddress.ip_address(address[0])
        if not ip.is_global or ip.is_multicast:
            raise WebhookDeliveryError(
                f"{host} resolves to {ip}, which is not a public address; endpoints inside "
                "the network need TOLLGATE_DELIVERY_ALLOW_PRIVATE_ENDPOINTS=true",
                retryable=False,
            )
