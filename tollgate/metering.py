"""Metering for FastAPI services: record their own usage in Tollgate.

Per endpoint, as dependencies (the original system's trackApiUsage / trackAiUsage /
trackStorageUsage)::

    metering = Metering(client)

    @app.get("/notes", dependencies=[Depends(metering.track_api_usage("notes.list"))])
    async def list_notes() -> list[Note]: ...

    @app.post("/summaries")
    async def summarize(
        body: Text, usage: Annotated[AiUsage, Depends(metering.track_ai_usage("gpt-4o-mini"))]
    ) -> Summary:
        ...
        usage.record(prompt_tokens=812, completion_tokens=64)

Or for every route at once, as ASGI middleware::

    app.add_middleware(MeteringMiddleware, client=client, feature="api")

Refusing work past a hard limit (the original system's enforceUsageLimits), before the
endpoint runs: the dependency asks Tollgate's ``POST /v1/limits/check`` and answers 429 with a
``Retry-After`` until the limit resets when the customer may not use the feature any more::

    @app.post("/summaries", dependencies=[Depends(metering.enforce_usage_limits("ai_tokens"))])
    async def summarize(
        body: Text, usage: Annotated[AiUsage, Depends(metering.track_ai_usage("gpt-4o-mini"))]
    ) -> Summary: ...

The feature there is a catalogue feature (``api_calls``, ``ai_tokens``, ``storage``): the one
the plan limits, which Tollgate derives from the events' type and unit. Past a soft limit the
request is allowed (and billed as overage). If Tollgate cannot answer, the request goes on
(``fail_open=True``, the default) or is refused with 503 (``fail_open=False``).

Rules shared by the tracking dependencies and the middleware:

* Only successful requests are metered: nothing is recorded when the endpoint raises (e.g.
  ``HTTPException(500)``) or answers with a status >= 400.
* Metering never breaks the service: a request without a customer id, a full client queue or a
  closed client is logged and the request goes on unmetered (and, for ``enforce_usage_limits``,
  unlimited).
* Recording never waits: events go to the client's queue with ``block_timeout=0``; sending
  happens on the client's background thread.

At shutdown, ``FastAPI(lifespan=metering.lifespan)`` sends what is still queued (see
``Metering.lifespan`` for why the client's atexit hook is not enough under uvicorn).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, cast

from fastapi import HTTPException, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tollgate.client import (
    ClientClosedError,
    LimitCheck,
    LimitCheckError,
    QueueFullError,
    TollgateClient,
    quantity_text,
)

__all__ = [
    "CUSTOMER_ID_HEADER",
    "AiUsage",
    "CustomerIdFrom",
    "LimitCheck",
    "Metering",
    "MeteringMiddleware",
    "StorageUsage",
    "customer_id_from_header",
]

log = logging.getLogger(__name__)

CUSTOMER_ID_HEADER: Final = "X-Customer-Id"
# Orchestrators typically SIGKILL 30 s after SIGTERM; leave the rest of shutdown some of it.
SHUTDOWN_FLUSH_SECONDS: Final = 10.0

CustomerIdFrom = Callable[[Request], str | None]
EnforceUsageLimits = Callable[[Request], Awaitable[LimitCheck | None]]


def customer_id_from_header(name: str = CUSTOMER_ID_HEADER) -> CustomerIdFrom:
    """Reads the customer id from a request header (blank counts as missing)."""

    def customer_id(request: Request) -> str | None:
        value = request.headers.get(name, "").strip()
        return value or None

    return customer_id


def route_template(request: Request) -> str:
    """The matched route's path template ("/files/{name}"), not the concrete path: bounded
    cardinality in properties, and no customer data (file names, ids) leaks into them."""
    route = request.scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else request.url.path


@dataclass
class AiUsage:
    """Token counts an endpoint reports; may be called several times (e.g. one per LLM call)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def record(self, *, prompt_tokens: int = 0, completion_tokens: int = 0) -> None:
        _check_count("prompt_tokens", prompt_tokens)
        _check_count("completion_tokens", completion_tokens)
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens


@dataclass
class StorageUsage:
    """Bytes an endpoint reports; when it reports none, the request's Content-Length is used."""

    bytes: int | None = None

    def record(self, *, bytes_: int) -> None:
        _check_count("bytes_", bytes_)
        self.bytes = (self.bytes or 0) + bytes_


def _check_count(name: str, value: int) -> None:
    # Raised in the endpoint, where the bug is, rather than as a rejection much later.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")


def _content_length(request: Request) -> int | None:
    try:
        length = int(request.headers.get("content-length", ""))
    except ValueError:
        return None
    return length if length >= 0 else None


def _succeeded(response: Response) -> bool:
    # FastAPI injects a Response whose status_code is None (despite its type) unless the
    # endpoint set one on it; an endpoint that returns its own Response object is not seen here.
    status = cast("int | None", response.status_code)
    return status is None or status < 400


class _Recorder:
    """Sends one event for a customer without ever raising into the request."""

    def __init__(self, client: TollgateClient, customer_id_from: CustomerIdFrom) -> None:
        self.client = client
        self.customer_id_from = customer_id_from

    def customer_id(self, request: Request, outcome: str = "request not metered") -> str | None:
        try:
            customer_id = self.customer_id_from(request)
        except Exception:
            log.exception("metering: customer_id_from raised; %s", outcome)
            return None
        if customer_id is None:
            log.warning(
                "metering: no customer id on %s %s; %s",
                request.method,
                request.url.path,
                outcome,
            )
        return customer_id

    def record(
        self,
        customer_id: str,
        event_type: str,
        feature: str,
        quantity: int | Decimal,
        unit: str,
        properties: Mapping[str, str],
    ) -> None:
        try:
            self.client.track(
                customer_id,
                event_type,
                feature,
                quantity,
                unit=unit,
                properties=properties,
                block_timeout=0,
            )
        except (QueueFullError, ClientClosedError) as error:
            # Tollgate unreachable for long, or a request still running after shutdown began.
            log.error(
                "metering: %s/%s for %s not recorded, usage lost: %s",
                event_type,
                feature,
                customer_id,
                error,
            )
        except Exception:
            log.exception(
                "metering: %s/%s for %s not recorded, usage lost", event_type, feature, customer_id
            )


class Metering:
    """Factory of FastAPI dependencies that meter endpoints into Tollgate.

    ``customer_id_from`` says whom to bill for a request (default: the X-Customer-Id header);
    returning None leaves the request unmetered (logged). ``fail_open`` is what
    ``enforce_usage_limits`` does when Tollgate cannot answer a limit check: let the request
    through (True, the default) or refuse it with 503 (False).
    """

    def __init__(
        self,
        client: TollgateClient,
        customer_id_from: CustomerIdFrom | None = None,
        *,
        fail_open: bool = True,
    ) -> None:
        self.client = client
        self.fail_open = fail_open
        self._recorder = _Recorder(client, customer_id_from or customer_id_from_header())

    def track_api_usage(
        self, feature: str, unit: str = "call"
    ) -> Callable[[Request, Response], AsyncIterator[None]]:
        """One ``api_call`` event (quantity 1) per successful request."""
        recorder = self._recorder

        async def track_api_usage(request: Request, response: Response) -> AsyncIterator[None]:
            # An exception from the endpoint is raised here, at the yield, and skips the rest.
            yield
            if not _succeeded(response):
                return
            customer_id = recorder.customer_id(request)
            if customer_id is not None:
                properties = {"method": request.method, "route": route_template(request)}
                recorder.record(customer_id, "api_call", feature, 1, unit, properties)

        return track_api_usage

    def track_ai_usage(self, model: str) -> Callable[[Request, Response], AsyncIterator[AiUsage]]:
        """Yields an ``AiUsage``; afterwards one ``ai_tokens`` event per non-zero token type."""
        recorder = self._recorder

        async def track_ai_usage(request: Request, response: Response) -> AsyncIterator[AiUsage]:
            usage = AiUsage()
            yield usage
            if not _succeeded(response):
                return
            counts = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
            if not any(counts.values()):
                return
            customer_id = recorder.customer_id(request)
            if customer_id is None:
                return
            for token_type, tokens in counts.items():
                if tokens:
                    properties = {"model": model, "token_type": token_type}
                    recorder.record(
                        customer_id, "ai_tokens", "ai_tokens", tokens, "token", properties
                    )

        return track_ai_usage

    def track_storage_usage(
        self, operation: str
    ) -> Callable[[Request, Response], AsyncIterator[StorageUsage]]:
        """Yields a ``StorageUsage``; afterwards one ``storage`` event with the bytes recorded,
        or the request's Content-Length when the endpoint recorded none."""
        recorder = self._recorder

        async def track_storage_usage(
            request: Request, response: Response
        ) -> AsyncIterator[StorageUsage]:
            usage = StorageUsage()
            yield usage
            if not _succeeded(response):
                return
            size = usage.bytes if usage.bytes is not None else _content_length(request)
            if size is None:
                log.warning(
                    "metering: %s %s recorded no bytes and sent no Content-Length; not metered",
                    request.method,
                    request.url.path,
                )
                return
            customer_id = recorder.customer_id(request)
            if customer_id is not None and size:
                properties = {"operation": operation}
                recorder.record(customer_id, "storage", "storage", size, "byte", properties)

        return track_storage_usage

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """A FastAPI lifespan that sends queued events when the service shuts down.

        Use it (``FastAPI(lifespan=metering.lifespan)``) or call ``client.flush`` in your own
        lifespan: uvicorn ends a SIGTERM'd process by re-raising the signal after its graceful
        shutdown, so neither ``finally`` blocks after ``uvicorn.run`` nor the client's atexit
        hook run, and events still queued then would be lost.
        """
        yield
        # Limit checks' connections belong to this event loop, which ends with the service.
        await self.client.aclose_checks()
        # flush() blocks; keep the event loop free for other shutdown work meanwhile.
        if not await asyncio.to_thread(self.client.flush, SHUTDOWN_FLUSH_SECONDS):
            log.error("metering: events still unsent %ss into shutdown", SHUTDOWN_FLUSH_SECONDS)

    def enforce_usage_limits(
        self,
        feature: str,
        quantity: Decimal | int | str = 1,
        *,
        fail_open: bool | None = None,
    ) -> EnforceUsageLimits:
        """A dependency that refuses the request when the customer is past a hard limit of
        ``feature`` (the original system's enforceUsageLimits).

        Before the endpoint runs, it asks Tollgate whether the customer (read as the tracking
        dependencies do) may use ``quantity`` more of ``feature``, a catalogue feature such as
        ``api_calls``. Tollgate's usage is live: it counts events as it accepts them, so the
        request after the one that reached the limit is refused.

        * Refused (past a hard limit): ``HTTPException(429)`` with a ``Retry-After`` header in
          seconds until the limit window resets, and a detail naming the feature, the limit,
          the usage and the reset time. 429 rather than 403: the customer is authorised to use
          the endpoint, they have used up a quota that refills at a known time, which is what
          429 Too Many Requests with Retry-After says (RFC 6585, RFC 9110 10.2.3); clients and
          proxies already handle it as "not now, retry later", while 403 reads as "never,
          whatever you do" and carries no time to retry at.
        * Allowed (within the limit, past a soft limit, unlimited, or no subscription): the
          request goes on. The ``LimitCheck`` is the dependency's value and is also kept in
          ``request.state.limit_checks[feature]``, e.g. to warn about a soft limit passed.
        * No customer id: the request goes on, unlimited (logged), as it goes on unmetered.
        * Tollgate cannot answer or refuses the check (unreachable, timeout, 5xx, a bad key,
          an unknown feature): logged; with ``fail_open`` (default: the ``Metering``'s, True)
          the request goes on, else it is refused with 503. Metering must not take the service
          down with Tollgate; fail closed where serving unpaid work is worse than not serving.

        Refused requests never reach the endpoint, so a tracking dependency on the same route
        does not bill them.
        """
        quantity_text(quantity)  # a bad quantity is a bug at the route, not at request time
        recorder = self._recorder
        client = self.client

        async def enforce_usage_limits(request: Request) -> LimitCheck | None:
            customer_id = recorder.customer_id(request, "request not limited")
            if customer_id is None:
                return None
            try:
                check = await client.acheck_limit(customer_id, feature, quantity)
            except Exception as error:
                open_ = self.fail_open if fail_open is None else fail_open
                _check_failed(customer_id, feature, error, fail_open=open_)
                return None
            checks = getattr(request.state, "limit_checks", None)
            if not isinstance(checks, dict):
                checks = {}
                request.state.limit_checks = checks
            checks[feature] = check
            if not check.allowed:
                raise _limit_exceeded(check)
            return check

        return enforce_usage_limits


def _check_failed(customer_id: str, feature: str, error: Exception, *, fail_open: bool) -> None:
    """Logs a limit check that got no answer; raises 503 unless failing open."""
    outcome = "request allowed (fail open)" if fail_open else "request refused (fail closed)"
    if isinstance(error, LimitCheckError) and not error.unavailable:
        # A bad key or an unknown feature: configuration, not an outage; it won't heal itself.
        log.error(
            "metering: limit check of %s for %s refused: %s; %s",
            feature,
            customer_id,
            error,
            outcome,
        )
    elif isinstance(error, LimitCheckError | ClientClosedError):
        log.warning(
            "metering: limit check of %s for %s failed: %s; %s",
            feature,
            customer_id,
            error,
            outcome,
        )
    else:
        log.exception(
            "metering: limit check of %s for %s failed; %s", feature, customer_id, outcome
        )
    if not fail_open:
        raise HTTPException(
            503,
            detail={
                "error": "usage_limits_unavailable",
                "message": f"usage limits of {feature} cannot be checked now; try again later",
                "feature": feature,
            },
        ) from error


def _limit_exceeded(check: LimitCheck) -> HTTPException:
    """429 for a check that refused: what was exceeded, and when to come back."""
    detail: dict[str, str | None] = {
        "error": "usage_limit_exceeded",
        "message": check.reason,
        "feature": check.feature,
        "limit": _decimal_text(check.limit),
        "used": _decimal_text(check.used),
        "remaining": _decimal_text(check.remaining),
        "requested": _decimal_text(check.quantity),
        "enforcement": check.enforcement,
        "resets_at": None if check.resets_at is None else check.resets_at.isoformat(),
    }
    retry_after = check.seconds_until_reset()
    headers = None if retry_after is None else {"Retry-After": str(retry_after)}
    return HTTPException(429, detail=detail, headers=headers)


def _decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class MeteringMiddleware:
    """Pure ASGI middleware: one ``api_call`` event per successful HTTP request, every route.

    For services that want blanket metering. The route template and method go into the
    properties; requests answered with status >= 400 (including 404 for unknown paths) or that
    raised are not metered.
    """

    def __init__(
        self,
        app: ASGIApp,
        client: TollgateClient,
        *,
        feature: str = "api",
        unit: str = "call",
        customer_id_from: CustomerIdFrom | None = None,
    ) -> None:
        self.app = app
        self.feature = feature
        self.unit = unit
        self._recorder = _Recorder(client, customer_id_from or customer_id_from_header())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: list[int] = []

        async def send_watching_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        # An exception propagates from here and skips metering, as for the dependencies.
        await self.app(scope, receive, send_watching_status)
        if status and status[0] < 400:
            self._record(Request(scope))

    def _record(self, request: Request) -> None:
        customer_id = self._recorder.customer_id(request)
        if customer_id is None:
            return
        # The router stored the matched route in the scope, which we share.
        properties = {"method": request.method, "route": route_template(request)}
        self._recorder.record(customer_id, "api_call", self.feature, 1, self.unit, properties)
