"""In-memory state of the stand-in: Stripe objects as the JSON dicts the API returns.

One re-entrant lock guards everything: requests run on the server's thread while tests read
state from theirs, and a handler that emits events re-enters it.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tollgate.stripe_standin.errors import not_found

Json = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """An id shaped like Stripe's: a type prefix, an underscore and 24 random characters."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(24))


class Clock:
    """Unix seconds, following the wall clock until a test pins it (like a Stripe test clock)."""

    def __init__(self, now: int | None = None) -> None:
        self._pinned = now

    def now(self) -> int:
        return self._pinned if self._pinned is not None else int(time.time())

    def set(self, now: int) -> None:
        self._pinned = now

    def advance(self, seconds: int) -> None:
        self._pinned = self.now() + seconds


@dataclass
class Store:
    clock: Clock = field(default_factory=Clock)
    lock: threading.RLock = field(default_factory=threading.RLock)
    # One table per object type, keyed by id; insertion order is creation order.
    tables: dict[str, dict[str, Json]] = field(default_factory=dict)
    # Meter events are kept apart: they have no id in Stripe's API, only an identifier.
    meter_events: list[Json] = field(default_factory=list)
    # Called with each new event (the webhook dispatcher); set by the app.
    on_event: Callable[[Json], None] | None = None

    def table(self, kind: str) -> dict[str, Json]:
        return self.tables.setdefault(kind, {})

    def add(self, kind: str, obj: Json) -> Json:
        self.table(kind)[obj["id"]] = obj
        return obj

    def get(self, kind: str, object_id: str, *, param: str = "id") -> Json:
        obj = self.table(kind).get(object_id)
        if obj is None:
            raise not_found(_NOUNS.get(kind, kind), object_id, param=param)
        return obj

    def find(self, kind: str, object_id: str) -> Json | None:
        return self.table(kind).get(object_id)

    def all(self, kind: str) -> list[Json]:
        return list(self.table(kind).values())


# How Stripe names each type in "No such ..." messages.
_NOUNS = {
    "customer": "customer",
    "product": "product",
    "price": "price",
    "billing.meter": "billing meter",
    "subscription": "subscription",
    "subscription_item": "subscription item",
    "invoice": "invoice",
    "invoiceitem": "invoiceitem",
    "event": "event",
    "webhook_endpoint": "webhook endpoint",
}
