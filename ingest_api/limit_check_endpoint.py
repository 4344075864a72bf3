"""``POST /v1/limits/check``: may this customer use this much of a feature now?

One function for the ASGI fast path and the FastAPI route (as ``IngestEndpoint``), because
services call it before every piece of metered work and its latency is on their request path.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

import msgspec

from ingest_api.auth.authenticator import Authenticator
from ingest_api.events.errors import RequestError
from ingest_api.ingest_endpoint import Reply
from ingest_api.responses import encode
from tollgate.control.api_keys import Scope
from tollgate.control.errors import UnknownFeatureError
from tollgate.limits.engine import LimitEngine


class LimitCheckRequest(msgspec.Struct, forbid_unknown_fields=True):
    customer_id: str
    feature: str
    # Decimal text or a JSON number; the amount of work about to be done.
    quantity: str | int = "1"


class LimitCheckResult(msgspec.Struct):
    customer_id: str
    feature: str
    quantity: str
    allowed: bool
    used: str  # in the limit window, live: the last pipeline run plus events accepted since
    limit: str | None  # None: unlimited
    remaining: str | None
    enforcement: str | None  # hard | soft
    resets_at: datetime | None
    reason: str
    # The as-of moment of the pipeline run whose count ``used`` starts from (events accepted
    # since are added); None before the first run.
    usage_as_of: datetime | None = None


_decoder = msgspec.json.Decoder(LimitCheckRequest)


def _invalid(message: str) -> RequestError:
    return RequestError(
        400,
        "invalid_request",
        message,
        'Send {"customer_id": "...", "feature": "...", "quantity": "1"}; see /docs.',
    )


class LimitCheckEndpoint:
    def __init__(self, engine: LimitEngine, auth: Authenticator) -> None:
        self.engine = engine
        self.auth = auth

    def handle(self, authorization: str | None, body: bytes) -> Reply:
        try:
            return Reply(200, encode(self._check(authorization, body)))
        except RequestError as error:
            return Reply(error.status, error.to_json())

    def _check(self, authorization: str | None, body: bytes) -> LimitCheckResult:
        key = self.auth.authenticate(authorization, Scope.INGEST, Scope.READ)
        try:
            request = _decoder.decode(body)
        except msgspec.DecodeError as error:
            raise _invalid(f"the body is not a limit check: {error}") from None
        if not 0 < len(request.customer_id) <= 255:
            raise _invalid("customer_id must be 1 to 255 characters")
        if not key.may_act_for(request.customer_id):
            raise RequestError(
                403,
                "forbidden_customer",
                f"this key acts for customer '{key.customer_id}' and cannot check limits of "
                f"'{request.customer_id}'",
                "Use the customer's own key, or a service key.",
            )
        quantity = _quantity(request.quantity)
        try:
            check = self.engine.check(request.customer_id, request.feature, quantity)
        except UnknownFeatureError as error:
            raise RequestError(
                404, "unknown_feature", str(error), "Use a feature the catalogue defines."
            ) from None
        return LimitCheckResult(
            check.customer_id,
            check.feature,
            _text(check.quantity),
            check.allowed,
            _text(check.used),
            None if check.limit is None else _text(check.limit),
            None if check.remaining is None else _text(check.remaining),
            None if check.enforcement is None else check.enforcement.value,
            check.resets_at,
            check.reason,
            self.engine.published.as_of,
        )


def _quantity(value: str | int) -> Decimal:
    try:
        quantity = Decimal(value)
    except InvalidOperation:
        raise _invalid(f"quantity {value!r} is not a number") from None
    if not quantity.is_finite() or quantity < 0 or quantity >= Decimal(10) ** 18:
        raise _invalid(f"quantity {value!r} must be a finite number from 0 to below 10^18")
    if quantity.as_tuple().exponent < -9:  # type: ignore[operator]
        raise _invalid(f"quantity {value!r} has more than 9 fractional digits")
    return quantity


def _text(value: Decimal) -> str:
    return f"{value.normalize():f}"
