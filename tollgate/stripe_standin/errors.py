"""Stripe-shaped errors: ``{"error": {"type", "code", "message", "param"}}`` with Stripe's statuses.

Handlers raise :class:`StripeError`; the app turns it into the JSON body and status the SDK
maps to its exception classes (400/404 -> InvalidRequestError, 401 -> AuthenticationError,
429 -> RateLimitError, 5xx -> APIError).
"""

from __future__ import annotations

from typing import Any


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> StripeError:
    return StripeError(400, message, param=param, code=code)


def missing(param: str) -> StripeError:
    return StripeError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def not_found(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def unsupported(what: str) -> StripeError:
    """Anything outside the stand-in's scope fails loudly rather than half-working."""
    return StripeError(400, f"{what} is not supported by the Stripe stand-in.")


def api_error(message: str = "An unknown error occurred") -> StripeError:
    return StripeError(500, message, type_="api_error")


def rate_limited() -> StripeError:
    # Stripe answers 429 with type invalid_request_error and code rate_limit.
    return StripeError(
        429,
        "Request rate limit exceeded. You can learn more about rate limits here "
        "https://stripe.com/docs/rate-limits.",
        code="rate_limit",
    )
