"""Webhook endpoints and delivery, signed exactly as Stripe signs.

``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed by the endpoint
secret>``. ``t`` is the wall-clock time of the attempt, not the stand-in's test clock:
receivers check it against their own clock (``stripe.Webhook.construct_event``'s tolerance).
Failed attempts (non-2xx or no answer) are retried with exponential backoff; events are
delivered concurrently, so a receiver can see them out of order, as with Stripe.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from tollgate.stripe_standin import events, listing, params
from tollgate.stripe_standin.errors import invalid, missing
from tollgate.stripe_standin.routing import Call, Route, retrieve
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]


def sign(payload: str, secret: str, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


@dataclass(frozen=True)
class RetryPolicy:
    """Stripe retries for up to three days; tests want the same shape in well under a second."""

    attempts: int = 5
    first_wait: float = 0.05
    max_wait: float = 1.0
    timeout: float = 5.0


@dataclass
class Dispatcher:
    store: Store
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    deliveries: list[Json] = field(default_factory=list)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(8, thread_name_prefix="standin-webhook")
    )
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Json) -> None:
        """Called by :func:`events.emit` (under the store lock) for each new event."""
        for endpoint in self.store.all("webhook_endpoint"):
            if _wants(endpoint, event["type"]):
                event["pending_webhooks"] += 1
                self._pool.submit(self._deliver, event, endpoint["id"])

    def redeliver(self, event_id: str, endpoint_id: str | None = None) -> None:
        with self.store.lock:
            event = self.store.get("event", event_id)
            targets = [
                e
                for e in self.store.all("webhook_endpoint")
                if (endpoint_id is None and _wants(e, event["type"])) or e["id"] == endpoint_id
            ]
        for endpoint in targets:
            self._pool.submit(self._deliver, event, endpoint["id"])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _deliver(self, event: Json, endpoint_id: str) -> None:
        with self.store.lock:
            endpoint = self.store.find("webhook_endpoint", endpoint_id)
            secret = self.store.table("webhook_secret").get(endpoint_id, {}).get("secret")
            body = json.dumps(event)
        if endpoint is None or secret is None:
            return
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.attempts),
            wait=wait_exponential(multiplier=self.policy.first_wait, max=self.policy.max_wait),
            retry=retry_if_result(lambda ok: not ok),
        )
        try:
            retrying(self._attempt, event["id"], endpoint, secret, body)
        except RetryError:
            pass  # every attempt is recorded in self.deliveries; Stripe would disable later
        finally:
            with self.store.lock:
                event["pending_webhooks"] = max(event["pending_webhooks"] - 1, 0)

    def _attempt(self, event_id: str, endpoint: Json, secret: str, body: str) -> bool:
        timestamp = int(time.time())
        record: Json = {
            "event": event_id,
            "endpoint": endpoint["id"],
            "url": endpoint["url"],
            "at": timestamp,
            "status": None,
            "error": None,
        }
        try:
            response = httpx.post(
                endpoint["url"],
                content=body,
                timeout=self.policy.timeout,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": sign(body, secret, timestamp),
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            record["status"] = response.status_code
        except httpx.HTTPError as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(record)
        status = record["status"]
        return status is not None and 200 <= status < 300


def _wants(endpoint: Json, event_type: str) -> bool:
    enabled = endpoint["enabled_events"]
    return endpoint["status"] == "enabled" and ("*" in enabled or event_type in enabled)


def create_endpoint(
    store: Store, url: str, enabled_events: list[str], now: int, secret: str | None = None
) -> Json:
    if not enabled_events:
        raise missing("enabled_events")
    endpoint: Json = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": events.API_VERSION,
        "application": None,
        "created": now,
        "description": None,
        "enabled_events": enabled_events,
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": url,
    }
    secret = secret or "whsec_" + secrets.token_hex(16)
    with store.lock:
        store.add("webhook_endpoint", endpoint)
        store.table("webhook_secret")[endpoint["id"]] = {"id": endpoint["id"], "secret": secret}
    # Stripe shows the secret only in the response that creates the endpoint.
    return {**endpoint, "secret": secret}


def _create(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("url", "enabled_events", "description", "metadata", "api_version"))
    url = params.required_string(p, "url")
    if not url.startswith(("http://", "https://")):
        raise invalid("Invalid URL: must start with http:// or https://", param="url")
    created = create_endpoint(call.store, url, params.string_list(p, "enabled_events"), call.now)
    with call.store.lock:
        stored = call.store.get("webhook_endpoint", created["id"])
        stored["description"] = params.string(p, "description")
        params.apply_metadata(stored, p)
        return {**stored, "secret": created["secret"]}


def _update(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, ("url", "enabled_events", "disabled", "description", "metadata"))
    with call.store.lock:
        endpoint = call.store.get("webhook_endpoint", call.path["id"])
        if "url" in p:
            endpoint["url"] = params.required_string(p, "url")
        if "enabled_events" in p:
            endpoint["enabled_events"] = params.string_list(p, "enabled_events")
        disabled = params.boolean(p, "disabled")
        if disabled is not None:
            endpoint["status"] = "disabled" if disabled else "enabled"
        if "description" in p:
            endpoint["description"] = params.string(p, "description")
        params.apply_metadata(endpoint, p)
        return endpoint


def _delete(call: Call) -> Json:
    with call.store.lock:
        endpoint = call.store.get("webhook_endpoint", call.path["id"])
        del call.store.table("webhook_endpoint")[endpoint["id"]]
        return {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}


def _list(call: Call) -> Json:
    params.reject_unknown(call.params, listing.PAGINATION)
    with call.store.lock:
        return listing.page(
            call.store.all("webhook_endpoint"), call.params, "/v1/webhook_endpoints"
        )


ROUTES = [
    Route("POST", "/v1/webhook_endpoints", _create),
    Route("GET", "/v1/webhook_endpoints", _list),
    Route("GET", "/v1/webhook_endpoints/{id}", retrieve("webhook_endpoint")),
    Route("POST", "/v1/webhook_endpoints/{id}", _update),
    Route("DELETE", "/v1/webhook_endpoints/{id}", _delete),
]
