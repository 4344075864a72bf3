"""Customers' webhook endpoints: where their notices are POSTed, and the secret that signs them.

The secret is shown once, when the endpoint is created (as Stripe does); listings leave it out.
Every change writes an audit row in its own transaction, as ``ControlService`` changes do.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, delete, func, insert, select

from tollgate.control import audit
from tollgate.control.database import read_transaction, write_transaction
from tollgate.control.errors import InvalidValueError, NotFoundError, UnknownCustomerError
from tollgate.control.schema import customers, webhook_endpoints
from tollgate.delivery.signing import new_secret

MAX_ENDPOINTS_PER_CUSTOMER = 16
URL_MAX_CHARS = 2000


@dataclass(frozen=True, slots=True)
class WebhookEndpoint:
    endpoint_id: str
    customer_id: str
    url: str
    description: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # whsec_...: shown this once


class UnknownEndpointError(NotFoundError):
    def __init__(self, endpoint_id: str) -> None:
        super().__init__(f"no webhook endpoint '{endpoint_id}' for this customer")


class WebhookEndpoints:
    def __init__(
        self, engine: Engine, *, actor: str, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.engine = engine
        self.actor = actor
        self._clock = clock or (lambda: datetime.now(UTC))

    def create(self, customer_id: str, url: str, description: str | None = None) -> CreatedEndpoint:
        url = check_url(url)
        if description is not None and len(description) > 200:
            raise InvalidValueError("a description is at most 200 characters")
        now = self._clock()
        endpoint_id = "we_" + secrets.token_hex(12)
        secret = new_secret()
        row: dict[str, Any] = {
            "endpoint_id": endpoint_id,
            "customer_id": customer_id,
            "url": url,
            "secret": secret,
            "description": description,
            "enabled": True,
            "created_at": now,
            "updated_at": now,
        }
        with write_transaction(self.engine) as db:
            # Locked (PostgreSQL; SQLite's writers are serialised already), so that two adds
            # at once cannot both pass the count below.
            _require_customer(db, customer_id, lock=True)
            count = db.execute(
                select(func.count())
                .select_from(webhook_endpoints)
                .where(webhook_endpoints.c.customer_id == customer_id)
            ).scalar_one()
            if count >= MAX_ENDPOINTS_PER_CUSTOMER:
                raise InvalidValueError(
                    f"customer '{customer_id}' has {count} webhook endpoints, the most allowed; "
                    "delete one first"
                )
            db.execute(insert(webhook_endpoints).values(row))
            self._audit(db, "webhook_endpoint.create", endpoint_id, None, _public(row))
        return CreatedEndpoint(_endpoint(row), secret)

    def list(self, customer_id: str) -> list[WebhookEndpoint]:
        with read_transaction(self.engine) as db:
            _require_customer(db, customer_id)
            rows = (
                db.execute(
                    select(webhook_endpoints)
                    .where(webhook_endpoints.c.customer_id == customer_id)
                    .order_by(webhook_endpoints.c.created_at, webhook_endpoints.c.endpoint_id)
                )
                .mappings()
                .all()
            )
        return [_endpoint(row) for row in rows]

    def delete(self, customer_id: str, endpoint_id: str) -> None:
        """Removes it; deliveries still pending for it fail ("endpoint deleted")."""
        key = (webhook_endpoints.c.endpoint_id == endpoint_id) & (
            webhook_endpoints.c.customer_id == customer_id
        )
        with write_transaction(self.engine) as db:
            row = db.execute(select(webhook_endpoints).where(key)).mappings().first()
            if row is None:
                raise UnknownEndpointError(endpoint_id)
            db.execute(delete(webhook_endpoints).where(key))
            self._audit(db, "webhook_endpoint.delete", endpoint_id, _public(row), None)

    def _audit(
        self,
        db: Any,
        action: str,
        endpoint_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        audit.record(
            db,
            at=self._clock(),
            actor=self.actor,
            action=action,
            entity="webhook_endpoint",
            entity_id=endpoint_id,
            before=before,
            after=after,
        )


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host. Plain http is allowed (local receivers, the demo);
    https is what a production endpoint should use, since the body is readable on the way."""
    if not isinstance(url, str) or len(url) > URL_MAX_CHARS:
        raise InvalidValueError(f"a webhook URL is text of at most {URL_MAX_CHARS} characters")
    url = url.strip()
    example = "give e.g. https://example.com/tollgate"
    if any(not c.isprintable() or c.isspace() for c in url):
        raise InvalidValueError(f"{url!r} contains spaces or control characters; {example}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
        httpx.URL(url)
    except (ValueError, httpx.InvalidURL):
        raise InvalidValueError(f"{url!r} is not a valid URL; {example}") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidValueError(f"{url!r} is not an absolute http(s) URL; {example}")
    if parts.username or parts.password:
        raise InvalidValueError(
            "a webhook URL must not carry credentials; the signature is the proof"
        )
    return url


def _require_customer(db: Any, customer_id: str, *, lock: bool = False) -> None:
    query = select(customers.c.id).where(customers.c.id == customer_id)
    if db.execute(query.with_for_update() if lock else query).first() is None:
        raise UnknownCustomerError(customer_id)


def _public(row: Any) -> dict[str, Any]:
    return {key: value for key, value in dict(row).items() if key != "secret"}


def _endpoint(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint(**_public(row))
