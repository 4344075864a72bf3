"""``/deliveries``: each notice's delivery by e-mail and webhook, with every attempt; resending.

Customers see their own (``/deliveries``); operators see everyone's (``/admin/deliveries``).
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from ingest_api.billing.auth import AnyKey, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.models_delivery import DeliveryList, DeliveryOut, DeliveryStatus
from ingest_api.events.errors import RequestError
from tollgate.control.api_keys import Scope
from tollgate.control.deliveries import DeliveryLedger

router = APIRouter()

Limit = Annotated[int, Query(ge=1, le=500, description="At most this many, newest first.")]
StatusFilter = Annotated[DeliveryStatus | None, Query(description="Only deliveries in it.")]
DeliveryId = Annotated[str, Path(min_length=1, max_length=64, description="dlv_...")]


@router.get(
    "/deliveries",
    summary="The customer's notice deliveries",
    description=(
        "Every delivery of the customer's notices by e-mail and webhook, newest first, with "
        "each attempt (when, outcome, HTTP status or SMTP code, error)."
    ),
    response_model=DeliveryList,
    responses=error_responses(400, 401, 403, 404, 422),
)
def customer_deliveries(
    caller: CustomerCaller, status: StatusFilter = None, limit: Limit = 100
) -> DeliveryList:
    with control_errors():
        found = DeliveryLedger(caller.control.engine).log(
            customer_id=caller.customer_id, status=status, limit=limit
        )
    return DeliveryList(deliveries=[DeliveryOut.of(d) for d in found])


@router.post(
    "/deliveries/{delivery_id}/resend",
    status_code=202,
    summary="Send a delivery again",
    description=(
        "Queues the delivery for an attempt now, with the same delivery id (receivers that "
        "deduplicate by Tollgate-Delivery-Id see it as the same notice). Delivered and failed "
        "deliveries may be resent; one pending or sending is 409."
    ),
    response_model=DeliveryOut,
    responses=error_responses(400, 401, 403, 404, 409, 422),
)
def resend(caller: CustomerCaller, delivery_id: DeliveryId) -> DeliveryOut:
    with control_errors():
        delivery = DeliveryLedger(caller.control.engine).resend(
            delivery_id, actor=caller.control.actor, customer_id=caller.customer_id
        )
    return DeliveryOut.of(delivery)


@router.get(
    "/admin/deliveries",
    summary="Every customer's notice deliveries (admin keys only)",
    description=(
        "The delivery log across every customer, newest first, each delivery with its "
        "attempts; `customer_id` narrows it to one customer. Needs an admin key."
    ),
    response_model=DeliveryList,
    responses=error_responses(400, 401, 403, 422),
)
def all_deliveries(
    request: Request,
    key: AnyKey,
    customer_id: Annotated[str | None, Query(max_length=255)] = None,
    status: StatusFilter = None,
    limit: Limit = 100,
) -> DeliveryList:
    if Scope.ADMIN not in key.scopes:
        raise RequestError(
            403,
            "admin_key_required",
            f"The key '{key.name}' ({key.key_id}) may not read every customer's deliveries.",
            "Use an admin key (tollgate keys create --scope admin).",
        )
    found = DeliveryLedger(request.app.state.control_engine).log(
        customer_id=customer_id, status=status, limit=limit
    )
    return DeliveryList(deliveries=[DeliveryOut.of(d) for d in found])
