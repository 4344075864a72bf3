"""What a handler gets (:class:`Call`) and how a module declares its endpoints (:class:`Route`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tollgate.stripe_standin.store import Store

Json = dict[str, Any]


@dataclass(frozen=True)
class Call:
    store: Store
    params: Json
    path: dict[str, str]
    request_id: str
    url: str

    @property
    def now(self) -> int:
        return self.store.clock.now()


Handler = Callable[[Call], Json]


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Starlette path syntax, e.g. "/v1/customers/{id}"
    handler: Handler


def retrieve(kind: str) -> Handler:
    """The plain ``GET /v1/<things>/{id}`` handler for objects stored as ``kind``."""

    def handler(call: Call) -> Json:
        with call.store.lock:
            return call.store.get(kind, call.path["id"])

    return handler
