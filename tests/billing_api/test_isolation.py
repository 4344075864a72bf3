"""Who may see and change what, endpoint by endpoint.

Every billing endpoint is listed in ``ENDPOINTS``; each check runs over all of them: no key or
a bad key is 401; a service key is 403; customer A's key naming customer B is 403; A's key on
B's subscription, invoice or notification ids is 404; the admin endpoints refuse customer keys;
an admin key must name an existing customer. After every refused request B's billing state is
exactly what it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.billing_api.world import Tenant, World
from tests.support.server import wait_until
from tollgate.control.api_keys import KeyStore


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # may hold {subscription} and {invoice}
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    admin: bool = False
    scoped: bool = True  # acts for a customer (all but GET /plans)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


ENDPOINTS = [
    Endpoint("GET", "/plans", scoped=False),
    Endpoint("GET", "/summary"),
    Endpoint("GET", "/usage"),
    Endpoint("GET", "/limits"),
    Endpoint("POST", "/subscription", body={"plan": "starter"}),
    Endpoint("PUT", "/subscription/{subscription}", body={"plan": "enterprise"}),
    Endpoint("DELETE", "/subscription/{subscription}", params={"at_period_end": "false"}),
    Endpoint("GET", "/invoices"),
    Endpoint("GET", "/invoices/{invoice}"),
    Endpoint("GET", "/notifications"),
    Endpoint("POST", "/notifications/mark-read", body={"notification_ids": ["{notification}"]}),
    Endpoint("POST", "/estimate", body={"usage": {"api_calls": "1000"}}),
    Endpoint("POST", "/prorate", body={"plan": "enterprise"}),
    Endpoint("PUT", "/admin/limits", body={"limits": {"api_calls": {"value": "1"}}}, admin=True),
    Endpoint("PUT", "/admin/limits/from-plan", body={"plan": "free"}, admin=True),
]
SCOPED = [e for e in ENDPOINTS if e.scoped]
CUSTOMER = [e for e in SCOPED if not e.admin]
ADMIN = [e for e in ENDPOINTS if e.admin]


def _names_an_id(endpoint: Endpoint) -> bool:
    text = f"{endpoint.path} {endpoint.body}"
    return any(f"{{{kind}}}" in text for kind in ("subscription", "invoice", "notification"))


# Endpoints that name one of the customer's objects by id.
BY_ID = [
    *(e for e in ENDPOINTS if _names_an_id(e)),
    Endpoint("POST", "/prorate", body={"plan": "enterprise", "subscription_id": "{subscription}"}),
]


def _ids(endpoints: list[Endpoint]) -> list[str]:
    return [str(endpoint) for endpoint in endpoints]


@dataclass(frozen=True)
class Victim:
    """Customer B, whose ids the requests use."""

    id: str
    subscription: str
    invoice: str
    notification: str


@pytest.fixture(scope="module")
def victim(world: World) -> Victim:
    acme = world.tenants["acme"]
    invoices = world.as_admin("GET", "/invoices", acme.id).json()["invoices"]
    notices = world.as_admin("GET", "/notifications", acme.id, include_read="true").json()
    assert acme.subscription_id is not None
    return Victim(
        acme.id, acme.subscription_id, invoices[0]["id"], notices["notifications"][0]["id"]
    )


@pytest.fixture(scope="module")
def attacker(world: World) -> Tenant:
    """Customer A, with a subscription of its own (requests here never change it)."""
    return world.tenant("starter")


def _fill(value: Any, victim: Victim) -> Any:
    if isinstance(value, str):
        return value.format(
            subscription=victim.subscription,
            invoice=victim.invoice,
            notification=victim.notification,
        )
    if isinstance(value, list):
        return [_fill(item, victim) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, victim) for key, item in value.items()}
    return value


def _call(
    world: World,
    endpoint: Endpoint,
    victim: Victim,
    *,
    key: str | None,
    customer_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> Any:
    params = dict(endpoint.params)
    if customer_id is not None:
        params["customer_id"] = customer_id
    return world.request(
        endpoint.method,
        _fill(endpoint.path, victim),
        key,
        json=_fill(endpoint.body, victim),
        params=params,
        headers=headers,
    )


def _state(world: World, customer_id: str) -> tuple[Any, ...]:
    """Everything of a customer's billing the API can change, and its audit trail."""
    control = world.control()
    subscriptions = control.list_subscriptions(customer_id)
    return (
        control.get_customer(customer_id),
        subscriptions,
        [control.plan_history(s.id) for s in subscriptions],
        [control.plan_changes(s.id) for s in subscriptions],
        control.limit_overrides(customer_id),
        control.read_notifications(customer_id),
        control.effective_limits(customer_id),
        [
            control.audit_entries(entity=entity, entity_id=entity_id, limit=1000)
            for entity, entity_id in [("limits", customer_id), ("customer", customer_id)]
            + [("subscription", s.id) for s in subscriptions]
        ],
    )


def _error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids(ENDPOINTS))
@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_api_key"),
        ("Basic dXNlcjpwYXNz", "malformed_authorization"),
        ("Bearer ", "malformed_authorization"),
        ("Bearer tg_00000000_not-a-key", "invalid_api_key"),
    ],
    ids=["no key", "basic auth", "empty bearer", "unknown key"],
)
def test_a_missing_or_wrong_key_is_401(
    world: World, victim: Victim, endpoint: Endpoint, authorization: str | None, code: str
) -> None:
    before = _state(world, victim.id)
    headers = {"Authorization": authorization} if authorization else {}
    response = _call(world, endpoint, victim, key=None, customer_id=victim.id, headers=headers)
    _error(response, 401, code)
    assert _state(world, victim.id) == before


def test_a_revoked_key_is_401(world: World, victim: Victim) -> None:
    tenant = world.tenant("starter")
    assert world.request("GET", "/summary", tenant.key).status_code == 200
    KeyStore(world.engine, actor="tests").revoke(tenant.key.split("_")[1])
    # PostgreSQL servers re-read the keys within a second (KeyStore.version).
    wait_until(
        lambda: world.request("GET", "/summary", tenant.key).status_code == 401,
        timeout=5,
        what="the revocation to take effect",
    )
    for endpoint in ENDPOINTS:
        _error(_call(world, endpoint, victim, key=tenant.key), 401, "invalid_api_key")


@pytest.mark.parametrize("endpoint", SCOPED, ids=_ids(SCOPED))
@pytest.mark.parametrize("service", ["ingest", "read"])
def test_service_keys_act_for_no_customer(
    world: World, victim: Victim, endpoint: Endpoint, service: str
) -> None:
    key = world.ingest_key if service == "ingest" else world.read_key
    before = _state(world, victim.id)
    for customer_id in (victim.id, None):
        response = _call(world, endpoint, victim, key=key, customer_id=customer_id)
        _error(response, 403, "customer_key_required")
        assert "customer key" in response.json()["error"]["hint"]
    assert _state(world, victim.id) == before


@pytest.mark.parametrize("endpoint", CUSTOMER, ids=_ids(CUSTOMER))
def test_a_customer_key_naming_another_customer_is_403(
    world: World, victim: Victim, attacker: Tenant, endpoint: Endpoint
) -> None:
    before = _state(world, victim.id)
    mine = _state(world, attacker.id)
    response = _call(world, endpoint, victim, key=attacker.key, customer_id=victim.id)
    _error(response, 403, "forbidden_customer")
    # ... and so is naming a customer that does not exist: nothing is revealed either way.
    response = _call(world, endpoint, victim, key=attacker.key, customer_id="cus_nobody")
    _error(response, 403, "forbidden_customer")
    assert _state(world, victim.id) == before
    assert _state(world, attacker.id) == mine


@pytest.mark.parametrize("endpoint", ADMIN, ids=_ids(ADMIN))
@pytest.mark.parametrize("naming", ["itself", "nobody", "another customer"])
def test_customer_keys_may_not_use_admin_endpoints(
    world: World, victim: Victim, attacker: Tenant, endpoint: Endpoint, naming: str
) -> None:
    customer_id = {"itself": attacker.id, "nobody": None, "another customer": victim.id}[naming]
    before, mine = _state(world, victim.id), _state(world, attacker.id)
    response = _call(world, endpoint, victim, key=attacker.key, customer_id=customer_id)
    _error(response, 403, "admin_key_required")
    assert _state(world, victim.id) == before
    assert _state(world, attacker.id) == mine


@pytest.mark.parametrize("endpoint", BY_ID, ids=_ids(BY_ID))
def test_another_customers_ids_are_404(
    world: World, victim: Victim, attacker: Tenant, endpoint: Endpoint
) -> None:
    before, mine = _state(world, victim.id), _state(world, attacker.id)
    response = _call(world, endpoint, victim, key=attacker.key)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] in {
        "unknown_subscription",
        "unknown_invoice",
        "unknown_notification",
    }
    # The admin acting for A gets the same answer: ids are looked up within the customer.
    response = _call(world, endpoint, victim, key=world.admin_key, customer_id=attacker.id)
    assert response.status_code == 404, response.text
    assert _state(world, victim.id) == before
    assert _state(world, attacker.id) == mine


def test_a_404_for_another_customers_id_reads_like_a_missing_one(
    world: World, victim: Victim, attacker: Tenant
) -> None:
    theirs = world.request("GET", f"/invoices/{victim.invoice}", attacker.key).json()
    missing = world.request("GET", "/invoices/inv_000000000000000000000000", attacker.key).json()
    assert theirs["error"]["code"] == missing["error"]["code"]
    assert theirs["error"]["message"].replace(victim.invoice, "X") == missing["error"][
        "message"
    ].replace("inv_000000000000000000000000", "X")


@pytest.mark.parametrize("endpoint", SCOPED, ids=_ids(SCOPED))
def test_an_admin_key_must_name_an_existing_customer(
    world: World, victim: Victim, endpoint: Endpoint
) -> None:
    before = _state(world, victim.id)
    _error(_call(world, endpoint, victim, key=world.admin_key), 400, "customer_required")
    response = _call(world, endpoint, victim, key=world.admin_key, customer_id="cus_nobody")
    _error(response, 404, "unknown_customer")
    assert _state(world, victim.id) == before


READS = [e for e in CUSTOMER if e.method == "GET" and not _names_an_id(e)]


@pytest.mark.parametrize("endpoint", READS, ids=_ids(READS))
def test_a_customer_key_may_name_its_own_customer(
    world: World, attacker: Tenant, endpoint: Endpoint
) -> None:
    """Omitting customer_id and naming one's own are the same request."""
    implicit = world.request(endpoint.method, endpoint.path, attacker.key, params=endpoint.params)
    explicit = world.request(
        endpoint.method,
        endpoint.path,
        attacker.key,
        params={**endpoint.params, "customer_id": attacker.id},
    )
    assert implicit.status_code == explicit.status_code == 200
    drop = {"computed_at"}
    assert {k: v for k, v in implicit.json().items() if k not in drop} == {
        k: v for k, v in explicit.json().items() if k not in drop
    }
