"""The client that services use to send usage events to Tollgate's ingest API.

    client = TollgateClient("https://tollgate.internal", api_key)
    client.track("cus_42", "api_call", "search", 1)
    client.track("cus_42", "ai_tokens", "ai_tokens", 1532, unit="token",
                 properties={"model": "gpt-4o-mini"})
    client.close()  # or use it as a context manager; it is also closed at interpreter exit

``track`` only validates the event and puts it in a bounded in-memory queue; a background thread
sends batches to ``POST /v1/events``. Every event gets its ``event_id`` when it is tracked, so
resending a batch after a timeout or a 5xx can never count an event twice: the server answers
the repeats as duplicates.

Delivery outcomes a caller can observe:

* accepted or duplicate: counted in ``stats``;
* rejected by the server (invalid event, bad key, ...): never retried, passed to ``on_rejected``
  and logged;
* failed (no answer after ``max_retries`` retries, or ``close`` timed out): passed to
  ``on_failed`` and logged at ERROR level.

Before doing metered work, a service can ask whether the customer may (the original system's
checkLimit)::

    check = client.check_limit("cus_42", "api_calls")  # in async code: await acheck_limit(...)
    if not check.allowed:
        ...  # past a hard limit until check.resets_at

``tollgate.metering``'s ``enforce_usage_limits`` does this for FastAPI endpoints.

Checks go straight to ``POST /v1/limits/check`` (no queue, no retries: their latency is on the
caller's request path) with a short timeout of their own, ``check_timeout``. Every failure,
whether an error answer or no answer at all, raises ``LimitCheckError``.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import email.utils
import json
import logging
import math
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import httpx
import tenacity

__all__ = [
    "ClientClosedError",
    "ClientStats",
    "Failed",
    "LimitCheck",
    "LimitCheckError",
    "QueueFullError",
    "Rejected",
    "TollgateClient",
]

log = logging.getLogger(__name__)

EVENTS_PATH: Final = "/v1/events"
LIMIT_CHECK_PATH: Final = "/v1/limits/check"
# The server's default limits per request (TOLLGATE_MAX_BATCH_EVENTS, TOLLGATE_MAX_BODY_BYTES).
MAX_BATCH_EVENTS: Final = 1000
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
# A Retry-After larger than this is treated as this: a misconfigured proxy must not park the
# sender for hours while the queue fills up.
MAX_RETRY_AFTER_SECONDS: Final = 300.0
# Statuses that say "try again later"; every 5xx is retried as well. Retrying is always safe
# because the server deduplicates on (customer_id, event_id).
RETRYABLE_STATUSES: Final = frozenset({408, 429})
# Statuses whose body is an ingest answer ({"accepted", "duplicates", "rejected"}).
ANSWER_STATUSES: Final = frozenset({200, 207, 422})
USER_AGENT: Final = "tollgate-python-client/0.1"


class QueueFullError(Exception):
    """``track`` waited ``block_timeout`` seconds and the queue still had no room."""


class ClientClosedError(RuntimeError):
    """``track`` or a limit check was called on a client that is closing or closed."""


class LimitCheckError(Exception):
    """A limit check got no usable answer.

    ``status`` is the HTTP status of Tollgate's answer, or None when there was none (connection
    refused, timeout, ...). ``code`` is Tollgate's error code (``invalid_api_key``,
    ``unknown_feature``, ...) or, without one, ``unreachable``, ``http_error`` or
    ``invalid_answer``.
    """

    def __init__(self, status: int | None, code: str, message: str, hint: str = "") -> None:
        where = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"limit check failed ({where}, {code}): {message}")
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint

    @property
    def unavailable(self) -> bool:
        """True when Tollgate gave no usable answer (network, timeout, 408/429, 5xx, an answer
        that is not a limit check), as opposed to a refusal of the check itself (bad key,
        unknown feature, ...: a 4xx) that a retry would not change."""
        if self.status is None or self.status in RETRYABLE_STATUSES:
            return True
        return not 400 <= self.status < 500


@dataclass(frozen=True, slots=True)
class LimitCheck:
    """Tollgate's answer to "may this customer use ``quantity`` more of ``feature`` now?".

    ``allowed`` is False only when the quantity would pass a hard limit; past a soft limit it
    is True and ``reason`` says so. ``limit``, ``remaining``, ``enforcement`` and
    ``resets_at`` are None when no limit applies (unlimited plan, feature not in the plan, no
    subscription). ``used`` is live: it includes every event Tollgate has accepted so far.
    """

    customer_id: str
    feature: str
    quantity: Decimal
    allowed: bool
    used: Decimal  # in the current limit window
    limit: Decimal | None
    remaining: Decimal | None
    enforcement: Literal["hard", "soft"] | None
    resets_at: datetime | None  # timezone-aware: when the window (and the usage) resets
    reason: str

    def seconds_until_reset(self, now: datetime | None = None) -> int | None:
        """Whole seconds (rounded up, at least 1) until ``resets_at``; None without a reset."""
        if self.resets_at is None:
            return None
        remaining = (self.resets_at - (now or datetime.now(UTC))).total_seconds()
        return max(1, math.ceil(remaining))


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event the server refused; it is not retried (resending would be refused again)."""

    event_id: str
    customer_id: str
    # The offending field, e.g. "quantity"; None when the whole request was refused (e.g. 401).
    field: str | None
    reason: str
    status: int  # the HTTP status of the answer
    event: Mapping[str, object]  # the event as sent, e.g. for a dead-letter file


@dataclass(frozen=True, slots=True)
class Failed:
    """An event that got no answer: retries were exhausted or the client was closed first."""

    event_id: str
    customer_id: str
    reason: str
    event: Mapping[str, object]


# What the on_rejected / on_failed callbacks receive lists of.
_Report = TypeVar("_Report", Rejected, Failed)


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Counts of events (not requests), except ``retries``."""

    sent: int = 0  # events sent at least once
    accepted: int = 0  # stored by this client's requests
    duplicates: int = 0  # already stored (e.g. by a request whose answer was lost)
    rejected: int = 0  # refused by the server; see on_rejected
    failed: int = 0  # never answered; see on_failed
    retries: int = 0  # requests re-sent after a retryable failure


@dataclass(frozen=True, slots=True)
class _Queued:
    event_id: str
    customer_id: str
    # Encoded at track time: encoding errors surface in the caller, and bytes are compact.
    body: bytes
    enqueued_at: float  # time.monotonic(); flush_interval counts from here

    def payload(self) -> dict[str, object]:
        """The event as sent (for reports; decoded only then)."""
        event: dict[str, object] = json.loads(self.body)
        return event


# --- what a request can end with ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Answer:
    """An ingest answer: every event of the batch is accepted, a duplicate or rejected."""

    status: int
    accepted: int
    duplicates: int
    rejected: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class _Refused:
    """The whole request was refused with a non-retryable status."""

    status: int
    code: str
    message: str

    def reason(self) -> str:
        return f"HTTP {self.status} {self.code}: {self.message}"


class _RetryableError(Exception):
    """An answer that says "try again": 408, 429, 5xx, or a 2xx body we could not read."""

    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.retry_after = retry_after


class _AbortedError(Exception):
    """close() timed out: stop sending and report what is left as failed."""


# --- validation and encoding of one event ---------------------------------------------------


def _require_str(name: str, value: object) -> str:
    # json.dumps would happily encode an int id as a JSON number, which the server then
    # rejects asynchronously; failing here points at the calling line instead.
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def quantity_text(quantity: object) -> str:
    """The quantity as the exact decimal string the server expects (never a float).

    Range and precision (>= 0, < 10^18, <= 9 fractional digits) are checked by the server, the
    single source of truth for those rules; a violation comes back through ``on_rejected``.
    """
    # bool is an int subclass; True as a quantity is always a bug.
    if isinstance(quantity, float | bool) or not isinstance(quantity, Decimal | int | str):
        raise TypeError(
            f"quantity must be a Decimal, int or str, got {type(quantity).__name__}: "
            "pass Decimal or str (floats cannot represent most decimal amounts exactly)"
        )
    try:
        value = quantity if isinstance(quantity, Decimal) else Decimal(quantity)
    except InvalidOperation:
        raise ValueError(f"quantity {quantity!r} is not a decimal number") from None
    if not value.is_finite():
        raise ValueError(f"quantity must be finite, got {quantity!r}")
    # "f" never uses exponent notation: Decimal("1E+3") is sent as "1000".
    return format(value, "f")


def _timestamp_text(timestamp: datetime | None) -> str:
    if timestamp is None:
        # Stamped at track time, not at send time: an event may wait in the queue or in
        # retries, and the usage happened now.
        return datetime.now(UTC).isoformat()
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware, e.g. datetime.now(UTC)")
    return timestamp.isoformat()


def _properties(properties: Mapping[str, str] | None) -> dict[str, str] | None:
    if properties is None:
        return None
    for key, value in properties.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"properties must map str to str, got {key!r}: {value!r}")
    return dict(properties)


def build_payload(
    customer_id: str,
    event_type: str,
    feature: str,
    quantity: object,
    *,
    event_id: str | None = None,
    unit: str | None = None,
    properties: Mapping[str, str] | None = None,
    timestamp: datetime | None = None,
    source: str | None = None,
) -> dict[str, object]:
    """One event in the JSON form of ``POST /v1/events`` (optional fields left out when None)."""
    payload: dict[str, object] = {
        "event_id": uuid.uuid4().hex if event_id is None else _require_str("event_id", event_id),
        "customer_id": _require_str("customer_id", customer_id),
        "event_type": _require_str("event_type", event_type),
        "feature": _require_str("feature", feature),
        "quantity": quantity_text(quantity),
        "timestamp": _timestamp_text(timestamp),
    }
    optional = {
        "unit": None if unit is None else _require_str("unit", unit),
        "properties": _properties(properties),
        "source": source,
    }
    payload.update({name: value for name, value in optional.items() if value is not None})
    return payload


def encode_event(payload: Mapping[str, object]) -> bytes:
    """UTF-8 JSON of one event; ValueError for text that is not valid Unicode (e.g. a lone
    surrogate), which the server would refuse together with the rest of its batch."""
    try:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"the event contains text that is not valid Unicode: {error}") from None


def _batch_body(batch: Sequence[_Queued]) -> bytes:
    return b"[" + b",".join(item.body for item in batch) + b"]"


# --- reading answers ------------------------------------------------------------------------


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def _json_object(response: httpx.Response) -> dict[str, object] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_parts(body: dict[str, object] | None, response: httpx.Response) -> tuple[str, str]:
    error = body.get("error") if body is not None else None
    if isinstance(error, dict):
        return str(error.get("code", "error")), str(error.get("message", ""))
    return "http_error", response.text[:200] or response.reason_phrase


def _as_answer(status: int, body: dict[str, object] | None) -> _Answer | None:
    if body is None:
        return None
    accepted, duplicates, rejected = (body.get(k) for k in ("accepted", "duplicates", "rejected"))
    if not (isinstance(accepted, int) and isinstance(duplicates, int)):
        return None
    if not isinstance(rejected, list):
        return None
    return _Answer(status, accepted, duplicates, [r for r in rejected if isinstance(r, dict)])


def read_response(response: httpx.Response) -> _Answer | _Refused:
    """What a response means for its batch; raises ``_RetryableError`` for "try again"."""
    status = response.status_code
    body = _json_object(response)
    if status in RETRYABLE_STATUSES or status >= 500:
        _, message = _error_parts(body, response)
        raise _RetryableError(
            status, message, parse_retry_after(response.headers.get("retry-after"))
        )
    answer = _as_answer(status, body) if status in ANSWER_STATUSES else None
    if answer is not None:
        return answer
    if 200 <= status < 300:
        # A 2xx we cannot read (e.g. from a misbehaving proxy) proves nothing was stored;
        # resending is safe thanks to dedup.
        raise _RetryableError(status, "unreadable answer", None)
    code, message = _error_parts(body, response)
    return _Refused(status, code, message)


# --- limit checks ---------------------------------------------------------------------------


def limit_check_body(customer_id: str, feature: str, quantity: object) -> bytes:
    """The JSON body of ``POST /v1/limits/check``; TypeError/ValueError for bad arguments."""
    payload = {
        "customer_id": _require_str("customer_id", customer_id),
        "feature": _require_str("feature", feature),
        "quantity": quantity_text(quantity),
    }
    return encode_event(payload)


def read_limit_check(response: httpx.Response) -> LimitCheck:
    """A limit check answer, or LimitCheckError for an error answer or one we cannot read."""
    body = _json_object(response)
    if response.status_code != 200:
        code, message = _error_parts(body, response)
        error = body.get("error") if body is not None else None
        hint = str(error.get("hint", "")) if isinstance(error, dict) else ""
        raise LimitCheckError(response.status_code, code, message, hint)
    if body is None:
        raise LimitCheckError(200, "invalid_answer", "the answer is not a JSON object")
    try:
        return _limit_check(body)
    except (KeyError, TypeError, ValueError, InvalidOperation) as error:
        raise LimitCheckError(
            200, "invalid_answer", f"the answer is not a limit check: {_describe(error)}"
        ) from None


def _limit_check(body: dict[str, object]) -> LimitCheck:
    allowed = body["allowed"]
    if not isinstance(allowed, bool):
        raise TypeError(f"allowed must be a boolean, got {allowed!r}")
    enforcement: Literal["hard", "soft"] | None
    match body.get("enforcement"):
        case "hard":
            enforcement = "hard"
        case "soft":
            enforcement = "soft"
        case None:
            enforcement = None
        case other:
            raise ValueError(f"unknown enforcement {other!r}")
    resets_text = body.get("resets_at")
    resets_at = None
    if resets_text is not None:
        resets_at = datetime.fromisoformat(_answer_str("resets_at", resets_text))
        if resets_at.tzinfo is None or resets_at.utcoffset() is None:
            raise ValueError(f"resets_at has no time zone: {resets_text!r}")
    return LimitCheck(
        customer_id=_answer_str("customer_id", body["customer_id"]),
        feature=_answer_str("feature", body["feature"]),
        quantity=_answer_decimal("quantity", body["quantity"]),
        allowed=allowed,
        used=_answer_decimal("used", body["used"]),
        limit=_optional_decimal("limit", body.get("limit")),
        remaining=_optional_decimal("remaining", body.get("remaining")),
        enforcement=enforcement,
        resets_at=resets_at,
        reason=_answer_str("reason", body.get("reason", "")),
    )


def _answer_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {value!r}")
    return value


def _answer_decimal(name: str, value: object) -> Decimal:
    # Decimal text as Tollgate sends it; a JSON number would have gone through a float.
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TypeError(f"{name} must be decimal text, got {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _optional_decimal(name: str, value: object) -> Decimal | None:
    return None if value is None else _answer_decimal(name, value)


# --- tenacity policy ------------------------------------------------------------------------


class _WaitRetryAfter(tenacity.wait.wait_base):
    """The server's Retry-After when it sent one, else the fallback (exponential with jitter)."""

    def __init__(self, fallback: tenacity.wait.wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _RetryableError) and error.retry_after is not None:
            return error.retry_after
        return float(self.fallback(retry_state))


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class TollgateClient:
    """Sends usage events in batches from a background thread; see the module docstring.

    Args:
        base_url: Tollgate's ingest API, e.g. ``http://127.0.0.1:8000``.
        api_key: a key with the ``ingest`` scope.
        batch_size: events per request (at most 1,000, the server's limit).
        max_body_bytes: request body size the batches stay under (the server's limit; a 413
            from a server configured lower is handled by splitting the batch).
        flush_interval: longest time in seconds an event waits in the queue before it is sent.
        max_queue: events held in memory at most; ``track`` blocks when they are reached.
        max_retries: re-sends of a batch after 429, 5xx or network errors before giving up.
        timeout: seconds for one HTTP request sending events.
        check_timeout: seconds for one limit check (``check_limit``/``acheck_limit``); short,
            because a service waits for it before answering its own caller.
        block_timeout: default seconds ``track`` waits for room before raising QueueFullError.
        backoff_initial, backoff_max: exponential backoff (with jitter) bounds in seconds.
        source: sent as every event's ``source`` (e.g. the service name) when not None.
        exit_timeout: seconds the ``atexit`` hook waits for outstanding events.
        on_rejected: called from the sender thread with events the server refused.
        on_failed: called from the sender thread with events that got no answer.
        transport: an httpx transport (tests, proxies, custom TLS).
        async_transport: the same for ``acheck_limit``'s ``httpx.AsyncClient``.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        batch_size: int = 100,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        flush_interval: float = 1.0,
        max_queue: int = 100_000,
        max_retries: int = 8,
        timeout: float = 10.0,
        check_timeout: float = 2.0,
        block_timeout: float = 5.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        source: str | None = None,
        exit_timeout: float = 30.0,
        on_rejected: Callable[[list[Rejected]], None] | None = None,
        on_failed: Callable[[list[Failed]], None] | None = None,
        transport: httpx.BaseTransport | None = None,
        async_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        _check_settings(batch_size, flush_interval, max_queue, max_retries, block_timeout)
        if max_body_bytes < 1024:
            raise ValueError(f"max_body_bytes must be at least 1024, got {max_body_bytes}")
        self.base_url = base_url.rstrip("/")
        self._batch_size = batch_size
        self._max_body_bytes = max_body_bytes
        self._flush_interval = flush_interval
        self._max_queue = max_queue
        self._max_retries = max_retries
        self._block_timeout = block_timeout
        self._source = source
        self._exit_timeout = exit_timeout
        self._on_rejected = on_rejected
        self._on_failed = on_failed
        if check_timeout <= 0:
            raise ValueError(f"check_timeout must be positive, got {check_timeout}")
        self._check_timeout = check_timeout
        self._headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        self._http = httpx.Client(
            base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport
        )
        # acheck_limit's clients, one per event loop: an httpx.AsyncClient's connections belong
        # to the loop that opened them (a service has one loop; tests may run several).
        self._async_transport = async_transport
        self._async_lock = threading.Lock()
        self._async_http: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, httpx.AsyncClient
        ] = weakref.WeakKeyDictionary()
        # One lock, three conditions: the sender waits for work, producers for room, and
        # flush() for answers; separate conditions avoid waking everybody on every event.
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)
        self._answers = threading.Condition(self._lock)
        self._queue: deque[_Queued] = deque()
        self._tracked = 0  # events ever enqueued
        self._answered = 0  # events whose outcome is known (in queue order: one sender)
        self._flush_target = 0  # send partial batches until _answered reaches this
        self._closing = False
        self._closed = False
        self._abort = threading.Event()
        self._stats = ClientStats()
        self._retrying = self._retry_policy(backoff_initial, backoff_max)
        self._sender = threading.Thread(target=self._run, name="tollgate-client", daemon=True)
        self._sender.start()
        # The sender is a daemon thread (it must not keep the process alive), so without this
        # hook events still in the queue at exit would be lost.
        atexit.register(self._close_at_exit)

    # --- public API ---------------------------------------------------------------------

    def track(
        self,
        customer_id: str,
        event_type: str,
        feature: str,
        quantity: Decimal | int | str,
        *,
        unit: str | None = None,
        properties: Mapping[str, str] | None = None,
        timestamp: datetime | None = None,
        event_id: str | None = None,
        block_timeout: float | None = None,
    ) -> str:
        """Queue one event for sending and return its ``event_id``.

        ``quantity`` must be exact: Decimal, int or a decimal string; a float raises TypeError.
        ``timestamp`` defaults to now (must be timezone-aware). ``event_id`` defaults to a new
        uuid4 hex; pass your own to make re-tracking the same usage idempotent.
        ``block_timeout`` overrides the client's: 0 never waits (raises QueueFullError at once).

        Raises QueueFullError when the queue stays full, ClientClosedError after ``close``.
        """
        payload = build_payload(
            customer_id,
            event_type,
            feature,
            quantity,
            event_id=event_id,
            unit=unit,
            properties=properties,
            timestamp=timestamp,
            source=self._source,
        )
        event_id = str(payload["event_id"])
        item = _Queued(event_id, customer_id, encode_event(payload), time.monotonic())
        self._enqueue(item, self._block_timeout if block_timeout is None else block_timeout)
        return item.event_id

    def check_limit(
        self,
        customer_id: str,
        feature: str,
        quantity: Decimal | int | str = 1,
        *,
        timeout: float | None = None,
    ) -> LimitCheck:
        """Ask Tollgate whether ``customer_id`` may use ``quantity`` more of ``feature`` now.

        ``feature`` is a catalogue feature (``api_calls``, ``ai_tokens``, ``storage``), not an
        event's free-form feature name. Blocks for at most ``timeout`` seconds (default: the
        client's ``check_timeout``); from async code use ``acheck_limit``. Not retried.

        Raises LimitCheckError when Tollgate refuses the check (``status`` 400/401/403/404) or
        cannot answer (``status`` None, 429 or 5xx; ``unavailable`` is True then), and
        ClientClosedError after ``close``.
        """
        body = limit_check_body(customer_id, feature, quantity)
        self._check_open()
        try:
            response = self._http.post(
                LIMIT_CHECK_PATH,
                content=body,
                timeout=self._check_timeout if timeout is None else timeout,
            )
        except httpx.RequestError as error:
            raise LimitCheckError(None, "unreachable", _describe(error)) from error
        except RuntimeError as error:  # httpx: the client was closed meanwhile
            raise ClientClosedError("the Tollgate client is closed") from error
        return read_limit_check(response)

    async def acheck_limit(
        self,
        customer_id: str,
        feature: str,
        quantity: Decimal | int | str = 1,
    ) -> LimitCheck:
        """``check_limit`` for async code: never blocks the event loop.

        Bounded by the client's ``check_timeout`` (wrap it in ``asyncio.timeout`` for less).
        Uses an ``httpx.AsyncClient`` per event loop, created on first use; ``aclose_checks``
        closes the running loop's one (``Metering.lifespan`` does it at shutdown).
        """
        body = limit_check_body(customer_id, feature, quantity)
        self._check_open()
        http = self._async_client()
        try:
            response = await http.post(LIMIT_CHECK_PATH, content=body)
        except httpx.RequestError as error:
            raise LimitCheckError(None, "unreachable", _describe(error)) from error
        except RuntimeError as error:  # httpx: the client was closed meanwhile
            raise ClientClosedError("the Tollgate client is closed") from error
        return read_limit_check(response)

    async def aclose_checks(self) -> None:
        """Close the connections ``acheck_limit`` opened on the running event loop.

        Call it before that loop ends; a later ``acheck_limit`` on it opens new ones.
        """
        loop = asyncio.get_running_loop()
        with self._async_lock:
            http = self._async_http.pop(loop, None)
        if http is not None:
            await http.aclose()

    def flush(self, timeout: float | None = None) -> bool:
        """Send what is queued now and wait until every event tracked so far is answered
        (accepted, duplicate, rejected or failed). False if ``timeout`` passed first."""
        self._not_from_sender("flush")
        with self._lock:
            target = self._tracked
            self._flush_target = max(self._flush_target, target)
            self._work.notify()
            return self._answers.wait_for(lambda: self._answered >= target, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new events, deliver the queued ones and stop the sender thread.

        Waits at most ``timeout`` seconds (None: until all retries are done); events not
        delivered by then are reported as failed. True if everything was answered in time.
        """
        self._not_from_sender("close")
        with self._lock:
            if self._closed:
                return True
            self._closing = True
            self._work.notify()
            self._room.notify_all()  # producers blocked on a full queue get ClientClosedError
        delivered = self.flush(timeout)
        if not delivered:
            self._abort.set()
        # After an abort this waits for at most the one request in flight.
        self._sender.join()
        self._http.close()
        with self._async_lock:
            # Their loops may be gone (aclose needs the loop): dropping them is all we can do.
            self._async_http.clear()
        with self._lock:
            self._closed = True
        atexit.unregister(self._close_at_exit)
        return delivered

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the delivery counters."""
        with self._lock:
            return self._stats

    @property
    def queued(self) -> int:
        """Events waiting in the queue (not counting a batch being sent)."""
        with self._lock:
            return len(self._queue)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- limit checks -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closing:
            raise ClientClosedError("the Tollgate client is closed; no limit checks are made")

    def _async_client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        with self._async_lock:
            http = self._async_http.get(loop)
            if http is None:
                http = httpx.AsyncClient(
                    base_url=self.base_url,
                    headers=self._headers,
                    timeout=self._check_timeout,
                    transport=self._async_transport,
                )
                self._async_http[loop] = http
            return http

    # --- producer side ------------------------------------------------------------------

    def _enqueue(self, item: _Queued, block_timeout: float) -> None:
        with self._lock:
            has_room = self._room.wait_for(
                lambda: self._closing or len(self._queue) < self._max_queue, block_timeout
            )
            if self._closing:
                raise ClientClosedError("the Tollgate client is closed; no events are accepted")
            if not has_room:
                raise QueueFullError(
                    f"{self._max_queue} events are waiting to be sent to {self.base_url} "
                    f"(still full after {block_timeout}s); is Tollgate reachable?"
                )
            self._queue.append(item)
            self._tracked += 1
            # The sender needs waking for the first event (to start the flush_interval clock)
            # and for a full batch; in between it is already waiting on a deadline.
            if len(self._queue) in (1, self._batch_size):
                self._work.notify()

    # --- sender thread ------------------------------------------------------------------

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            try:
                if self._abort.is_set():
                    self._give_up(batch, "the client was closed before the events were sent")
                else:
                    self._count(sent=len(batch))
                    self._deliver(batch)
            except Exception as error:
                # A bug here must neither kill the sender nor leave flush() waiting forever.
                log.exception("Tollgate client: unexpected error while sending a batch")
                self._give_up(batch, f"unexpected client error: {_describe(error)}")
            finally:
                self._mark_answered(len(batch))

    def _next_batch(self) -> list[_Queued] | None:
        """Wait for a batch worth sending; None once closing and the queue is empty."""
        with self._lock:
            while not self._batch_ready():
                if self._closing and not self._queue:
                    return None
                self._work.wait(self._time_until_due())
            batch = self._take_batch()
            self._room.notify(len(batch))
            return batch

    def _take_batch(self) -> list[_Queued]:
        """Up to batch_size events whose JSON array fits in max_body_bytes (at least one)."""
        batch = [self._queue.popleft()]
        body_bytes = 2 + len(batch[0].body)  # "[" + event + "]"
        while self._queue and len(batch) < self._batch_size:
            body_bytes += 1 + len(self._queue[0].body)  # "," + event
            if body_bytes > self._max_body_bytes:
                break
            batch.append(self._queue.popleft())
        return batch

    def _batch_ready(self) -> bool:
        if not self._queue:
            return False
        if len(self._queue) >= self._batch_size or self._closing:
            return True
        if self._answered < self._flush_target:
            return True
        return self._time_until_due() == 0.0

    def _time_until_due(self) -> float | None:
        """Seconds until the oldest queued event has waited flush_interval (None: queue empty)."""
        if not self._queue:
            return None
        due = self._queue[0].enqueued_at + self._flush_interval
        return max(0.0, due - time.monotonic())

    def _mark_answered(self, count: int) -> None:
        with self._lock:
            self._answered += count
            self._answers.notify_all()

    def _deliver(self, batch: list[_Queued]) -> None:
        try:
            result = self._retrying(self._post, _batch_body(batch))
        except _AbortedError:
            self._give_up(batch, "the client was closed before the events were delivered")
            return
        except (httpx.TransportError, _RetryableError) as error:
            if self._abort.is_set():
                reason = f"the client was closed while retrying ({_describe(error)})"
            else:
                reason = f"no answer after {self._max_retries + 1} attempts: {_describe(error)}"
            self._give_up(batch, reason)
            return
        if isinstance(result, _Refused) and result.status == 413 and len(batch) > 1:
            # The body exceeded the server's byte limit: halves are smaller, and the events
            # themselves may be fine. A single event that is still too large is rejected.
            middle = len(batch) // 2
            self._deliver(batch[:middle])
            self._deliver(batch[middle:])
            return
        if isinstance(result, _Refused):
            reason = result.reason()
            self._reject(batch, [_rejected(item, None, reason, result.status) for item in batch])
            return
        self._record_answer(batch, result)

    def _post(self, body: bytes) -> _Answer | _Refused:
        if self._abort.is_set():
            raise _AbortedError
        return read_response(self._http.post(EVENTS_PATH, content=body))

    def _record_answer(self, batch: list[_Queued], answer: _Answer) -> None:
        rejected = [_match_rejection(batch, entry, answer.status) for entry in answer.rejected]
        answered = answer.accepted + answer.duplicates + len(rejected)
        if answered != len(batch):
            log.warning(
                "Tollgate answered for %d events but %d were sent (HTTP %d)",
                answered,
                len(batch),
                answer.status,
            )
        self._count(accepted=answer.accepted, duplicates=answer.duplicates)
        if rejected:
            self._reject(batch, rejected)

    def _reject(self, batch: Sequence[_Queued], reports: list[Rejected]) -> None:
        self._count(rejected=len(reports))
        first = reports[0]
        log.warning(
            "Tollgate rejected %d of %d events (HTTP %d); first: event_id=%s customer_id=%s "
            "field=%s reason=%s",
            len(reports),
            len(batch),
            first.status,
            first.event_id,
            first.customer_id,
            first.field,
            first.reason,
        )
        _call_safely(self._on_rejected, reports)

    def _give_up(self, batch: list[_Queued], reason: str) -> None:
        reports = [Failed(i.event_id, i.customer_id, reason, i.payload()) for i in batch]
        self._count(failed=len(reports))
        log.error(
            "Tollgate client: %d events were not delivered (%s); first event_id=%s",
            len(reports),
            reason,
            reports[0].event_id,
        )
        _call_safely(self._on_failed, reports)

    def _retry_policy(self, initial: float, maximum: float) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type((httpx.TransportError, _RetryableError)),
            stop=(
                tenacity.stop_after_attempt(self._max_retries + 1)
                | tenacity.stop_when_event_set(self._abort)
            ),
            # initial * 2^n plus up to `initial` of jitter, so that many clients cut off by the
            # same outage do not come back in lockstep.
            wait=_WaitRetryAfter(
                tenacity.wait_exponential_jitter(multiplier=initial, jitter=initial, max=maximum)
            ),
            sleep=self._sleep,
            before_sleep=self._before_retry,
            reraise=True,
        )

    def _sleep(self, seconds: float) -> None:
        # Waiting on the abort event lets close(timeout) cut a long backoff short.
        self._abort.wait(seconds)

    def _before_retry(self, retry_state: tenacity.RetryCallState) -> None:
        self._count(retries=1)
        outcome = retry_state.outcome
        wait = retry_state.next_action.sleep if retry_state.next_action else 0.0
        log.warning(
            "Tollgate request failed (%s); retry %d of %d in %.2fs",
            _describe(outcome.exception() if outcome else None),
            retry_state.attempt_number,
            self._max_retries,
            wait,
        )

    # --- helpers ------------------------------------------------------------------------

    def _count(self, **increments: int) -> None:
        with self._lock:
            current = self._stats
            self._stats = dataclasses.replace(
                current, **{name: getattr(current, name) + n for name, n in increments.items()}
            )

    def _not_from_sender(self, operation: str) -> None:
        # From a callback, waiting for the sender would wait for ourselves.
        if threading.current_thread() is self._sender:
            raise RuntimeError(f"{operation}() cannot be called from on_rejected/on_failed")

    def _close_at_exit(self) -> None:
        if not self.close(self._exit_timeout):
            log.error(
                "Tollgate client: events still unsent after %ss at interpreter exit were lost",
                self._exit_timeout,
            )


def _check_settings(
    batch_size: int, flush_interval: float, max_queue: int, max_retries: int, block_timeout: float
) -> None:
    if not 1 <= batch_size <= MAX_BATCH_EVENTS:
        raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}, got {batch_size}")
    if flush_interval <= 0:
        raise ValueError(f"flush_interval must be positive, got {flush_interval}")
    if max_queue < 1:
        raise ValueError(f"max_queue must be at least 1, got {max_queue}")
    if max_retries < 0:
        raise ValueError(f"max_retries must not be negative, got {max_retries}")
    if block_timeout < 0:
        raise ValueError(f"block_timeout must not be negative, got {block_timeout}")


def _rejected(item: _Queued, field: str | None, reason: str, status: int) -> Rejected:
    return Rejected(item.event_id, item.customer_id, field, reason, status, item.payload())


def _match_rejection(batch: list[_Queued], entry: dict[str, object], status: int) -> Rejected:
    """A server rejection entry, joined with the queued event it is about."""
    field = entry.get("field")
    field_text = str(field) if field is not None else None
    reason = str(entry.get("reason", ""))
    index = entry.get("index")
    if isinstance(index, int) and 0 <= index < len(batch):
        return _rejected(batch[index], field_text, reason, status)
    # Not expected from Tollgate; keep what the server said rather than drop the report.
    event_id, customer_id = entry.get("event_id"), entry.get("customer_id")
    return Rejected(str(event_id), str(customer_id), field_text, reason, status, {})


def _call_safely(callback: Callable[[list[_Report]], None] | None, reports: list[_Report]) -> None:
    if callback is None:
        return
    try:
        callback(reports)
    except Exception:
        # The user's callback must not stop delivery of later batches.
        log.exception("Tollgate client: the %s callback raised", callback)
