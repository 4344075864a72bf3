"""``/webhook-endpoints``: where a customer's notices are POSTed, signed (docs/notifications.md)."""

from typing import Annotated

from fastapi import APIRouter, Path, Response

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import control_errors, error_responses
from ingest_api.billing.models_delivery import (
    CreatedWebhookEndpoint,
    WebhookEndpointIn,
    WebhookEndpointList,
    WebhookEndpointOut,
)
from tollgate.control.webhook_endpoints import WebhookEndpoints

router = APIRouter()

EndpointId = Annotated[str, Path(min_length=1, max_length=40, description="we_...")]


def endpoints(caller: Caller) -> WebhookEndpoints:
    return WebhookEndpoints(caller.control.engine, actor=caller.control.actor, clock=caller.clock)


def create_endpoint(caller: Caller, body: WebhookEndpointIn) -> CreatedWebhookEndpoint:
    """Public: the dashboard's Settings page adds endpoints with it, in-process."""
    with control_errors():
        created = endpoints(caller).create(caller.customer_id, body.url, body.description)
    return CreatedWebhookEndpoint(
        **WebhookEndpointOut.of(created.endpoint).model_dump(), secret=created.secret
    )


def list_endpoints(caller: Caller) -> WebhookEndpointList:
    with control_errors():
        found = endpoints(caller).list(caller.customer_id)
    return WebhookEndpointList(endpoints=[WebhookEndpointOut.of(e) for e in found])


def delete_endpoint(caller: Caller, endpoint_id: str) -> None:
    with control_errors():
        endpoints(caller).delete(caller.customer_id, endpoint_id)


@router.post(
    "/webhook-endpoints",
    status_code=201,
    summary="Add a webhook endpoint",
    description=(
        "From now on every notice the customer receives (see /notification-preferences) is "
        "also POSTed to `url`, signed with the returned `secret`, which is shown only in this "
        "answer. At most 16 endpoints per customer. A URL that is not absolute http(s), or "
        "carries credentials, is 422 `invalid_value`."
    ),
    response_model=CreatedWebhookEndpoint,
    responses=error_responses(400, 401, 403, 404, 422),
)
def add_endpoint(caller: CustomerCaller, body: WebhookEndpointIn) -> CreatedWebhookEndpoint:
    return create_endpoint(caller, body)


@router.get(
    "/webhook-endpoints",
    summary="List the customer's webhook endpoints",
    description=(
        "The endpoints the customer's notices are POSTed to, oldest first. Secrets are shown "
        "only when an endpoint is created, never again."
    ),
    response_model=WebhookEndpointList,
    responses=error_responses(400, 401, 403, 404, 422),
)
def get_endpoints(caller: CustomerCaller) -> WebhookEndpointList:
    return list_endpoints(caller)


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    description=(
        "Nothing more is sent to it; deliveries still pending for it fail with 'endpoint "
        "deleted'. Another customer's endpoint is 404, as an unknown one."
    ),
    response_class=Response,
    responses=error_responses(400, 401, 403, 404, 422),
)
def remove_endpoint(caller: CustomerCaller, endpoint_id: EndpointId) -> Response:
    delete_endpoint(caller, endpoint_id)
    return Response(status_code=204)
