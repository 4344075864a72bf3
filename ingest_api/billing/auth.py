"""Who a billing request acts for: one customer, decided by the key and nothing else.

The rules, in one place:

* A customer's own key (created with ``--customer``) acts for that customer. Naming another
  customer with ``customer_id`` is refused (403 ``forbidden_customer``); naming its own is fine.
  It may use every endpoint but the admin ones (403 ``admin_key_required``).
* An admin key must name the customer with ``customer_id`` (400 ``customer_required``; 404 if
  there is no such customer).
* Service keys (ingest, read) without a customer act for nobody here: 403
  ``customer_key_required``.
* ``GET /plans`` only needs a valid key (the catalogue is public within the deployment).

Ids of other customers' subscriptions, invoices and notifications are then answered 404 by
the routes, since every lookup is made within the acting customer.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ingest_api.auth.authenticator import Authenticator
from ingest_api.billing.errors import control_errors
from ingest_api.events.errors import RequestError
from tollgate.billing.catalogue import Catalogue
from tollgate.control.api_keys import ApiKey, Scope
from tollgate.control.models import Customer
from tollgate.control.service import ControlService

Clock = Callable[[], datetime]

# Declared for the OpenAPI document only (Swagger's "Authorize", fuzzers): the key is read and
# checked by the Authenticator below, which gives the precise 401 codes.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="`Authorization: Bearer tg_<key id>_<secret>`: a customer's key, or an admin key.",
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def get_clock() -> Clock:
    """What "now" is for control-plane changes; tests override this dependency."""
    return utc_now


def _authenticate(request: Request, authorization: str | None) -> ApiKey:
    authenticator: Authenticator = request.app.state.endpoint.auth
    # Any valid key gets past this line; what it may do here is decided by the callers.
    return authenticator.authenticate(authorization, Scope.READ, Scope.INGEST, Scope.ADMIN)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated request acting for one existing customer."""

    key: ApiKey
    customer: Customer
    control: ControlService  # acting as ``api:<key id>`` in the audit log
    catalogue: Catalogue
    clock: Clock

    @property
    def customer_id(self) -> str:
        return self.customer.id

    @property
    def is_admin(self) -> bool:
        return Scope.ADMIN in self.key.scopes


CustomerIdParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=255,
        description="The customer to act for: required with an admin key; with a customer's "
        "key it may be omitted, and must otherwise be that key's own customer.",
        examples=["cus_00017"],
    ),
]
AuthorizationHeader = Annotated[str | None, Header(include_in_schema=False)]
BearerDoc = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _target_customer(key: ApiKey, named: str | None, *, admin_only: bool) -> str:
    if key.customer_id is not None:
        if admin_only:
            raise RequestError(
                403,
                "admin_key_required",
                f"The key '{key.name}' ({key.key_id}) is a customer's key; this endpoint is "
                "for operators.",
                "Use an admin key (tollgate keys create --scope admin).",
            )
        if named is not None and named != key.customer_id:
            raise RequestError(
                403,
                "forbidden_customer",
                f"The key '{key.name}' ({key.key_id}) acts for its own customer only.",
                "Omit customer_id, or use an admin key to act for other customers.",
            )
        return key.customer_id
    if Scope.ADMIN not in key.scopes:
        raise RequestError(
            403,
            "customer_key_required",
            f"The key '{key.name}' ({key.key_id}) is a service key ("
            f"{', '.join(sorted(key.scopes))}) and acts for no customer.",
            "Use a customer key (tollgate keys create --customer <id>) or an admin key.",
        )
    if named is None:
        raise RequestError(
            400,
            "customer_required",
            "An admin key must name the customer it acts for.",
            "Add ?customer_id=<id> to the request.",
        )
    return named


def _caller(
    request: Request, clock: Clock, authorization: str | None, named: str | None, *, admin: bool
) -> Caller:
    key = _authenticate(request, authorization)
    customer_id = _target_customer(key, named, admin_only=admin)
    catalogue: Catalogue = request.app.state.catalogue
    control = ControlService(
        request.app.state.control_engine, catalogue, actor=f"api:{key.key_id}", clock=clock
    )
    with control_errors():
        customer = control.get_customer(customer_id)
    return Caller(key, customer, control, catalogue, clock)


# Plain ``def`` dependencies: FastAPI runs them in its thread pool, off the event loop, so the
# key lookup and the customer read never block the ingest path.


def customer_caller(
    request: Request,
    clock: Annotated[Clock, Depends(get_clock)],
    _bearer_doc: BearerDoc,
    customer_id: CustomerIdParam = None,
    authorization: AuthorizationHeader = None,
) -> Caller:
    return _caller(request, clock, authorization, customer_id, admin=False)


def admin_caller(
    request: Request,
    clock: Annotated[Clock, Depends(get_clock)],
    _bearer_doc: BearerDoc,
    customer_id: CustomerIdParam = None,
    authorization: AuthorizationHeader = None,
) -> Caller:
    return _caller(request, clock, authorization, customer_id, admin=True)


def any_key(
    request: Request, _bearer_doc: BearerDoc, authorization: AuthorizationHeader = None
) -> ApiKey:
    return _authenticate(request, authorization)


CustomerCaller = Annotated[Caller, Depends(customer_caller)]
AdminCaller = Annotated[Caller, Depends(admin_caller)]
AnyKey = Annotated[ApiKey, Depends(any_key)]
