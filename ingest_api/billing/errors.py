"""Errors of the billing API: the app's ``{"error": {...}}`` envelope, documented and raised.

Control-plane errors become HTTP statuses here and nowhere else (``control_errors``), so every
route answers the same refusal with the same status and code.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel, Field

from ingest_api.events.errors import RequestError
from tollgate.billing.pricing import PricingError
from tollgate.control.errors import (
    ConflictError,
    ControlError,
    NotFoundError,
    UnknownCustomerError,
    UnknownFeatureError,
    UnknownPlanNameError,
    UnknownSubscriptionError,
)


class ErrorBody(BaseModel):
    code: str = Field(description="Stable snake_case identifier.", examples=["forbidden_customer"])
    message: str = Field(description="What was wrong.")
    hint: str = Field(description="How to put it right.")


class ErrorEnvelope(BaseModel):
    """Every error of the API has this shape (the ingest routes' too)."""

    error: ErrorBody


_DESCRIPTIONS = {
    400: "The request is malformed: a parameter or body field is missing, of the wrong type or "
    "out of range; or an admin key did not name the customer (`customer_required`).",
    401: "No API key, a malformed Authorization header, or an unknown or revoked key.",
    403: "The key may not do this: a customer's key naming another customer "
    "(`forbidden_customer`), a service key without a customer (`customer_key_required`), or a "
    "customer's key on an admin endpoint (`admin_key_required`).",
    404: "No such customer, plan, feature, subscription, invoice or notification for this "
    "customer. Ids belonging to other customers are answered 404 too, never 403.",
    409: "The change contradicts the current state (already subscribed, already on that plan, "
    "already canceled, changes out of time order ...).",
    422: "A well-formed value the billing rules refuse (e.g. a limit with too many decimals).",
}
# FastAPI would otherwise document its own 422 body, which this app never sends (its
# validation errors are 400 with the envelope).
_NOT_SENT_422 = "Not sent by this endpoint: malformed requests are answered 400."


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for ``statuses``, each with the error envelope."""
    responses: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }
    responses.setdefault(422, {"model": ErrorEnvelope, "description": _NOT_SENT_422})
    return responses


def not_found(code: str, message: str, hint: str) -> RequestError:
    return RequestError(404, code, message, hint)


def conflict(
    message: str, hint: str = "See the current state with GET /api/billing/summary."
) -> RequestError:
    return RequestError(409, "conflict", message, hint)


@contextmanager
def control_errors() -> Iterator[None]:
    """Turns the control plane's and pricing engine's refusals into HTTP errors."""
    try:
        yield
    except UnknownCustomerError as error:
        raise not_found(
            "unknown_customer", str(error), "Check the customer_id parameter."
        ) from None
    except UnknownSubscriptionError as error:
        raise unknown_subscription(error.subscription_id) from None
    except UnknownPlanNameError as error:
        raise not_found("unknown_plan", str(error), "See GET /api/billing/plans.") from None
    except UnknownFeatureError as error:
        raise not_found("unknown_feature", str(error), "See GET /api/billing/plans.") from None
    except NotFoundError as error:
        raise not_found("not_found", str(error), "Check the ids in the request.") from None
    except ConflictError as error:
        raise conflict(str(error)) from None
    except (ControlError, PricingError) as error:
        raise RequestError(
            422, "invalid_value", str(error), "Correct the value as the message says."
        ) from None


def unknown_subscription(subscription_id: str) -> RequestError:
    # The same answer whether the id does not exist or is another customer's, so a caller
    # cannot learn which ids exist.
    return not_found(
        "unknown_subscription",
        f"no subscription '{subscription_id}' for this customer",
        "See the customer's subscription in GET /api/billing/summary.",
    )
