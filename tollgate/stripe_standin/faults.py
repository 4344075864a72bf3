"""Fault injection and request counting, as the outermost ASGI layer.

A fault rule matches ``METHOD /path`` (``*`` globs allowed) and applies to the next ``count``
matching requests:

- ``429``: Stripe's rate-limit answer, before anything runs.
- ``500``: an ``api_error``, before anything runs.
- ``timeout``: the request is held for ``hold_seconds`` (longer than the client waits) and
  never executed; the client sees a timeout.
- ``lost_response``: the request runs and commits (an idempotency key records its result),
  then the connection is dropped before any response byte, as when a network path fails after
  Stripe has done the work: the case identifiers and idempotency keys exist for.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.stripe_standin.errors import StripeError, api_error, rate_limited
from tollgate.stripe_standin.store import new_id

KINDS = ("429", "500", "timeout", "lost_response")


@dataclass
class Fault:
    method: str
    path: str
    kind: str
    remaining: int
    hold_seconds: float = 30.0
    # None: the next ``remaining`` matching calls fail; else each fails with this chance
    # (seeded, so a test run is repeatable).
    rate: float | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def matches(self, method: str, path: str) -> bool:
        return self.method in ("*", method) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class Faults:
    rules: list[Fault] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        method: str,
        path: str,
        kind: str,
        count: int = 1,
        hold_seconds: float = 30.0,
        rate: float | None = None,
        seed: int = 0,
    ) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {KINDS}")
        if rate is not None and not 0 < rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        rule = Fault(method.upper(), path, kind, count, hold_seconds, rate, random.Random(seed))
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def take(self, method: str, path: str) -> Fault | None:
        """Counts the request and consumes one use of the first rule that matches it."""
        with self._lock:
            self.counts[f"{method} {path}"] += 1
            for rule in self.rules:
                if rule.remaining > 0 and rule.matches(method, path):
                    if rule.rate is not None and rule.rng.random() >= rule.rate:
                        continue
                    rule.remaining -= 1
                    return rule
            return None

    def count(self, method: str, path: str) -> int:
        with self._lock:
            return self.counts[f"{method.upper()} {path}"]


class FaultMiddleware:
    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_standin"):
            await self.app(scope, receive, send)
            return
        rule = self.faults.take(scope["method"], scope["path"])
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "429":
            await _error(send, rate_limited())
        elif rule.kind == "500":
            await _error(send, api_error())
        elif rule.kind == "timeout":
            await asyncio.sleep(rule.hold_seconds)
            await _error(send, api_error("The stand-in held this request (timeout fault)."))
        else:
            await self._lose_response(scope, receive, send)

    async def _lose_response(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def swallow(message: Message) -> None:
            return None

        await self.app(scope, receive, swallow)
        # uvicorn hands the app its cycle's bound ``send``; its transport is the connection.
        # Aborting it resets the socket, which the client sees as a connection error.
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:
            transport.abort()
            return
        # Another server: start a response and fail mid-way, which also drops the connection.
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"1000")],
            }
        )
        raise ConnectionAbortedError("lost_response fault")


async def _error(send: Send, error: StripeError) -> None:
    body = json.dumps(error.body()).encode()
    headers: list[tuple[bytes, bytes]] = [
        (b"request-id", new_id("req").encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def describe(rule: Fault) -> dict[str, Any]:
    return {
        "method": rule.method,
        "path": rule.path,
        "kind": rule.kind,
        "remaining": rule.remaining,
        "hold_seconds": rule.hold_seconds,
    }
