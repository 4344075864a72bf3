"""``Metering.enforce_usage_limits`` in-process, asking a real Tollgate server about real usage.

Customers and subscriptions are written to the server's control database while it runs (it
re-reads control changes within a second); usage reaches the limits through the real ingest
API, either posted here or sent by the protected endpoint's own tracking dependency.
"""

# No ``from __future__ import annotations``: FastAPI evaluates the ``Annotated[..., Depends(
# metering....)]`` parameter types at import, and as strings they would name a local variable.

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.testclient import TestClient

from tests.support.server import ServerKeys, TollgateServer, free_port, wait_until
from tollgate.client import LimitCheck, Rejected, TollgateClient
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.metering import Metering

pytestmark = pytest.mark.slow  # most tests here ask a real Tollgate server


# --- the server's side: customers, plans and usage ------------------------------------------


def subscribe(server: TollgateServer, customer_id: str, plan: str) -> None:
    """Puts the customer on ``plan`` since yesterday and waits until the server knows it."""
    engine = open_control_database(server.settings.control_database_url)
    try:
        control = ControlService(engine, server.settings.catalogue(), actor="tests")
        control.create_customer(customer_id, name=customer_id)
        control.subscribe(customer_id, plan, at=datetime.now(UTC) - timedelta(days=1))
    finally:
        engine.dispose()


def wait_for_plan(client: TollgateClient, customer_id: str) -> None:
    wait_until(
        lambda: client.check_limit(customer_id, "api_calls").enforcement is not None,
        timeout=10,
        what=f"the server to see {customer_id}'s subscription",
    )


def post_api_calls(server: TollgateServer, key: str, customer_id: str, calls: int) -> Any:
    """``calls`` API calls in one event through the real ingest API; its answer's body."""
    event = {
        "event_id": uuid.uuid4().hex,
        "customer_id": customer_id,
        "event_type": "api_call",
        "feature": "tests",
        "quantity": str(calls),
        "unit": "call",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    response = httpx.post(
        f"{server.url}/v1/events",
        json=[event],
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- the service's side ---------------------------------------------------------------------


def limited_app(metering: Metering) -> FastAPI:
    app = FastAPI(lifespan=metering.lifespan)

    @app.get(
        "/search",
        dependencies=[
            Depends(metering.enforce_usage_limits("api_calls")),
            Depends(metering.track_api_usage("search")),
        ],
    )
    async def search() -> dict[str, list[str]]:
        return {"results": []}

    @app.get(
        "/strict",
        dependencies=[Depends(metering.enforce_usage_limits("api_calls", fail_open=False))],
    )
    async def strict() -> dict[str, str]:
        return {"status": "served"}

    @app.get("/standing")
    async def standing(
        request: Request,
        check: Annotated[LimitCheck | None, Depends(metering.enforce_usage_limits("api_calls"))],
    ) -> dict[str, object]:
        kept = request.state.limit_checks["api_calls"] if check is not None else None
        return {
            "checked": check is not None,
            "same_as_state": kept is check,
            "allowed": None if check is None else check.allowed,
            "used": None if check is None else str(check.used),
            "enforcement": None if check is None else check.enforcement,
            "reason": None if check is None else check.reason,
        }

    return app


@pytest.fixture
def tollgate(shared_server: TollgateServer, shared_keys: ServerKeys) -> Iterator[TollgateClient]:
    # Sends tracked usage quickly, as a busy service's full batches would.
    with TollgateClient(shared_server.url, shared_keys.ingest, flush_interval=0.05) as client:
        yield client


def unreachable_client() -> TollgateClient:
    return TollgateClient(
        f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "tg_unused",
        check_timeout=1.0,
        backoff_initial=0.01,
        backoff_max=0.05,
    )


def as_customer(customer_id: str) -> dict[str, str]:
    return {"X-Customer-Id": customer_id}


# --- hard limits ----------------------------------------------------------------------------


def test_allowed_under_a_hard_limit_and_429_with_retry_after_once_it_is_reached(
    shared_server: TollgateServer, shared_keys: ServerKeys, tollgate: TollgateClient
) -> None:
    customer = as_customer("cus_hard")
    subscribe(shared_server, "cus_hard", "free")  # api_calls: hard limit 1,000
    wait_for_plan(tollgate, "cus_hard")
    assert post_api_calls(shared_server, shared_keys.ingest, "cus_hard", 998)["accepted"] == 1

    with TestClient(limited_app(Metering(tollgate))) as http:
        # 998 used: allowed, and the endpoint's own tracking bills the call.
        assert http.get("/search", headers=customer).status_code == 200
        assert tollgate.flush(timeout=30)
        assert tollgate.check_limit("cus_hard", "api_calls").used == 999

        # The last call the plan allows, then the limit: usage is live, so the request after
        # the one whose event reached the limit is refused without waiting for any pipeline.
        assert http.get("/search", headers=customer).status_code == 200
        # The deadline covers the client's send interval on a loaded machine; the server side
        # ("refused on the very next request") is held without any wait below.
        wait_until(
            lambda: http.get("/search", headers=customer).status_code == 429,
            timeout=5.0,
            what="the endpoint to refuse past the hard limit",
        )
        before = datetime.now(UTC)
        refused = http.get("/search", headers=customer)
        after = datetime.now(UTC)

    assert refused.status_code == 429
    detail = refused.json()["detail"]
    assert detail["error"] == "usage_limit_exceeded"
    assert (detail["feature"], detail["limit"], detail["used"]) == ("api_calls", "1000", "1000")
    assert (detail["remaining"], detail["enforcement"]) == ("0", "hard")
    assert "api_calls" in detail["message"]
    resets_at = datetime.fromisoformat(detail["resets_at"])
    assert resets_at > after
    assert resets_at == tollgate.check_limit("cus_hard", "api_calls").resets_at
    retry_after = int(refused.headers["Retry-After"])
    assert (resets_at - after).total_seconds() <= retry_after
    assert retry_after <= (resets_at - before).total_seconds() + 1
    # Polls that slipped in before the limit was counted were billed as far as the plan
    # allows, and refused by the ingest API past it; refused requests were never billed.
    assert tollgate.flush(timeout=30)
    assert tollgate.check_limit("cus_hard", "api_calls").used == 1000


def test_the_request_after_usage_posted_to_the_ingest_api_is_refused_at_once(
    shared_server: TollgateServer, shared_keys: ServerKeys, tollgate: TollgateClient
) -> None:
    customer = as_customer("cus_batch")
    subscribe(shared_server, "cus_batch", "free")
    wait_for_plan(tollgate, "cus_batch")

    with TestClient(limited_app(Metering(tollgate))) as http:
        assert http.get("/standing", headers=customer).json()["used"] == "0"
        # Another service of the same customer uses the rest of the plan ...
        assert post_api_calls(shared_server, shared_keys.ingest, "cus_batch", 1000)["accepted"]
        # ... and this one refuses the very next request: no delay, no polling needed.
        assert http.get("/search", headers=customer).status_code == 429
        assert http.get("/standing", headers=customer).status_code == 429


def test_a_refused_quantity_is_judged_against_what_remains(
    shared_server: TollgateServer, shared_keys: ServerKeys, tollgate: TollgateClient
) -> None:
    subscribe(shared_server, "cus_bulk", "free")
    wait_for_plan(tollgate, "cus_bulk")
    post_api_calls(shared_server, shared_keys.ingest, "cus_bulk", 950)
    metering = Metering(tollgate)
    app = FastAPI(lifespan=metering.lifespan)

    @app.post("/bulk", dependencies=[Depends(metering.enforce_usage_limits("api_calls", 100))])
    async def bulk() -> None: ...

    @app.post("/small", dependencies=[Depends(metering.enforce_usage_limits("api_calls", 50))])
    async def small() -> None: ...

    with TestClient(app) as http:
        refused = http.post("/bulk", headers=as_customer("cus_bulk"))
        assert refused.status_code == 429
        assert refused.json()["detail"]["requested"] == "100"
        assert refused.json()["detail"]["remaining"] == "50"
        assert http.post("/small", headers=as_customer("cus_bulk")).status_code == 200


# --- what is allowed ------------------------------------------------------------------------


def test_a_soft_limit_passed_is_allowed_and_the_check_is_on_the_request(
    shared_server: TollgateServer, shared_keys: ServerKeys, tollgate: TollgateClient
) -> None:
    subscribe(shared_server, "cus_soft", "starter")  # api_calls: soft limit 10,000
    wait_for_plan(tollgate, "cus_soft")
    assert post_api_calls(shared_server, shared_keys.ingest, "cus_soft", 10_000)["accepted"]

    with TestClient(limited_app(Metering(tollgate))) as http:
        assert http.get("/search", headers=as_customer("cus_soft")).status_code == 200
        standing = http.get("/standing", headers=as_customer("cus_soft"))

    assert standing.status_code == 200
    body = standing.json()
    assert body["checked"] is True
    assert body["same_as_state"] is True
    assert (body["allowed"], body["enforcement"]) == (True, "soft")
    assert Decimal(body["used"]) >= 10_000
    assert "soft limit" in body["reason"]


def test_customers_without_a_subscription_are_not_limited(tollgate: TollgateClient) -> None:
    with TestClient(limited_app(Metering(tollgate))) as http:
        standing = http.get("/standing", headers=as_customer("cus_nobody")).json()

    assert (standing["checked"], standing["allowed"], standing["enforcement"]) == (
        True,
        True,
        None,
    )
    assert "no active subscription" in standing["reason"]


def test_requests_without_a_customer_pass_through_unchecked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Failing closed against an unreachable Tollgate: any check attempted would answer 503.
    client = unreachable_client()
    try:
        with TestClient(limited_app(Metering(client, fail_open=False))) as http:
            assert http.get("/strict").status_code == 200
            assert http.get("/standing").json()["checked"] is False
    finally:
        client.close(timeout=1)

    assert "no customer id on GET /strict; request not limited" in caplog.text


# --- when Tollgate cannot answer ------------------------------------------------------------


def test_an_unreachable_tollgate_fails_open_by_default_and_closed_when_configured(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = unreachable_client()
    customer = as_customer("cus_any")
    try:
        with TestClient(limited_app(Metering(client))) as http:
            assert http.get("/search", headers=customer).status_code == 200
            assert "request allowed (fail open)" in caplog.text
            # Per dependency: /strict fails closed even though the Metering fails open.
            closed = http.get("/strict", headers=customer)
        with TestClient(limited_app(Metering(client, fail_open=False))) as http:
            closed_everywhere = http.get("/search", headers=customer)
    finally:
        client.close(timeout=1)

    assert closed.status_code == 503
    assert closed.json()["detail"]["error"] == "usage_limits_unavailable"
    assert closed.json()["detail"]["feature"] == "api_calls"
    assert closed_everywhere.status_code == 503
    assert "request refused (fail closed)" in caplog.text
    assert "no answer, unreachable" in caplog.text


def test_a_check_tollgate_refuses_fails_open_with_an_error_logged(
    shared_server: TollgateServer, caplog: pytest.LogCaptureFixture
) -> None:
    rejected: list[Rejected] = []
    with TollgateClient(shared_server.url, "tg_revoked", on_rejected=rejected.extend) as client:
        with TestClient(limited_app(Metering(client))) as http:
            served = http.get("/search", headers=as_customer("cus_any"))
            refused = http.get("/strict", headers=as_customer("cus_any"))
        client.flush(timeout=30)

    assert served.status_code == 200
    assert refused.status_code == 503
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "limit check" in r.message]
    assert errors
    assert "HTTP 401, invalid_api_key" in errors[0].message
    # The tracked call was refused by the ingest API with the same bad key, not lost silently.
    assert [r.status for r in rejected] == [401]


def test_a_closed_client_is_treated_as_an_unreachable_tollgate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = unreachable_client()
    client.close()
    with TestClient(limited_app(Metering(client))) as http:
        assert http.get("/strict", headers=as_customer("cus_any")).status_code == 503
        assert http.get("/standing", headers=as_customer("cus_any")).json()["checked"] is False

    assert "the Tollgate client is closed" in caplog.text


def test_a_bad_quantity_is_refused_where_the_route_is_declared() -> None:
    client = unreachable_client()
    try:
        with pytest.raises(TypeError, match="floats cannot represent"):
            Metering(client).enforce_usage_limits("api_calls", 1.5)  # type: ignore[arg-type]
    finally:
        client.close(timeout=1)
