"""Limits bite in real time: the ingest API refuses past hard limits and notes soft ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.limits.conftest import LiveApp
from tests.support.server import wait_until
from tollgate.billing.catalogue.model import Enforcement
from tollgate.control.models import When


def test_the_event_that_would_pass_a_hard_limit_is_refused_and_the_rest_stored(
    live_app: LiveApp,
) -> None:
    live_app.subscribe("cus_free", "free")  # api_calls: hard limit 1000
    assert live_app.post_usage("cus_free", 700, 200).status_code == 200

    response = live_app.post_usage("cus_free", 50, 100, 50)

    assert response.status_code == 207
    body = response.json()
    assert body["accepted"] == 2
    (refused,) = body["rejected"]
    assert refused["index"] == 1
    assert refused["code"] == "limit_exceeded"
    reason = refused["reason"]
    assert "api_calls" in reason
    assert "limit of 1000" in reason
    resets_at = live_app.check("cus_free")["resets_at"]
    assert resets_at.replace("+00:00", "Z") in reason
    # 700 + 200 + 50 + 50: the refused 100 was never counted.
    assert live_app.check("cus_free")["used"] == "1000"


def test_a_batch_refused_whole_is_422_and_each_event_names_the_limit(live_app: LiveApp) -> None:
    live_app.subscribe("cus_full", "free")
    assert live_app.post_usage("cus_full", 1000).status_code == 200

    response = live_app.post_usage("cus_full", 1, 1)

    assert response.status_code == 422
    assert [r["code"] for r in response.json()["rejected"]] == ["limit_exceeded"] * 2
    assert live_app.check("cus_full")["used"] == "1000"


def test_a_refused_event_is_judged_again_when_retried_after_the_limit_is_raised(
    live_app: LiveApp,
) -> None:
    live_app.subscribe("cus_retry", "free")
    assert live_app.post_usage("cus_retry", 1000).status_code == 200
    event = {
        "event_id": uuid.uuid4().hex,
        "customer_id": "cus_retry",
        "event_type": "api_call",
        "feature": "tests",
        "quantity": "10",
        "unit": "call",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    refused = live_app.http.post("/v1/events", json=event, headers=live_app.headers)
    assert refused.status_code == 422
    status = live_app.http.get(
        f"/v1/events/{event['event_id']}",
        params={"customer_id": "cus_retry"},
        headers=live_app.headers,
    ).json()
    assert status["status"] == "rejected"

    live_app.control.set_limit("cus_retry", "api_calls", 2000, Enforcement.HARD)
    wait_until(
        lambda: live_app.check("cus_retry")["limit"] == "2000",
        timeout=5,
        what="the raised limit to reach the ingest API",
    )
    retried = live_app.http.post("/v1/events", json=event, headers=live_app.headers)

    assert retried.status_code == 200
    assert retried.json()["accepted"] == 1
    assert live_app.check("cus_retry")["used"] == "1010"


def test_a_soft_limit_accepts_and_says_so(live_app: LiveApp) -> None:
    live_app.subscribe("cus_soft", "starter")  # api_calls: soft limit 10,000
    assert live_app.post_usage("cus_soft", 9_990).status_code == 200

    response = live_app.post_usage("cus_soft", 5, 20)

    assert response.status_code == 200
    body = response.json()
    assert body["accepted"] == 2
    assert body["rejected"] == []
    (notice,) = body["notices"]
    assert notice["index"] == 1
    assert notice["code"] == "soft_limit_exceeded"
    assert "10015" in notice["message"]
    check = live_app.check("cus_soft")
    assert check["allowed"] is True
    assert check["used"] == "10015"
    assert check["enforcement"] == "soft"


def test_the_limit_check_answers_with_live_usage(live_app: LiveApp) -> None:
    live_app.subscribe("cus_check", "free")
    assert live_app.post_usage("cus_check", 990).status_code == 200

    within = live_app.check("cus_check", quantity=10)
    past = live_app.check("cus_check", quantity=11)

    assert within["allowed"] is True
    assert (within["used"], within["limit"], within["remaining"]) == ("990", "1000", "10")
    assert within["enforcement"] == "hard"
    assert past["allowed"] is False
    assert "hard limit" in past["reason"]


def test_usage_in_other_units_counts_in_the_feature_unit(live_app: LiveApp) -> None:
    # Storage on starter: 10 GB soft; 2,500 MB and 3 GB are 5.5 GB.
    live_app.subscribe("cus_units", "starter")
    live_app.post_usage("cus_units", 2500, event_type="storage", unit="MB")
    live_app.post_usage("cus_units", 3, event_type="storage", unit="GB")

    assert Decimal(live_app.check("cus_units", "storage")["used"]) == Decimal("5.5")


def test_customers_without_a_subscription_are_not_limited(live_app: LiveApp) -> None:
    response = live_app.post_usage("cus_nobody", 5_000)

    assert response.status_code == 200
    check = live_app.check("cus_nobody")
    assert check["allowed"] is True
    assert check["limit"] is None


def test_a_plan_change_takes_effect_within_a_second(live_app: LiveApp) -> None:
    live_app.subscribe("cus_upgrade", "free")
    assert live_app.post_usage("cus_upgrade", 1000).status_code == 200
    assert live_app.post_usage("cus_upgrade", 1).status_code == 422
    (subscription,) = live_app.control.list_subscriptions("cus_upgrade")

    live_app.control.change_plan(subscription.id, "starter", at=datetime.now(UTC))

    wait_until(
        lambda: live_app.check("cus_upgrade")["limit"] == "10000",
        timeout=1.0 + 0.5,  # one poll of the control plane's audit log, and some slack
        what="the new plan's limit",
    )
    assert live_app.post_usage("cus_upgrade", 1).status_code == 200


def test_a_downgrade_binds_a_customer_already_counting_under_the_old_plan(
    live_app: LiveApp,
) -> None:
    live_app.subscribe("cus_downgrade", "starter")
    assert live_app.post_usage("cus_downgrade", 10).status_code == 200  # far below 10,000
    (subscription,) = live_app.control.list_subscriptions("cus_downgrade")

    live_app.control.change_plan(subscription.id, "free", at=datetime.now(UTC), when=When.NOW)
    wait_until(
        lambda: live_app.check("cus_downgrade")["limit"] == "1000",
        timeout=1.0 + 0.5,
        what="the free plan's limit",
    )

    # 10 + 995 passes the free plan's 1,000 even though it is far below starter's 7,500 warning.
    refused = live_app.post_usage("cus_downgrade", 995)
    assert refused.status_code == 422
    assert live_app.post_usage("cus_downgrade", 990).status_code == 200
    assert live_app.check("cus_downgrade")["used"] == "1000"


def test_a_limit_check_for_an_unknown_feature_is_404(live_app: LiveApp) -> None:
    response = live_app.http.post(
        "/v1/limits/check",
        json={"customer_id": "cus_x", "feature": "teleportation"},
        headers=live_app.headers,
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_feature"


def test_a_customer_key_checks_only_its_own_customer(live_app: LiveApp) -> None:
    from tollgate.control.api_keys import KeyStore, Scope

    live_app.subscribe("cus_own", "free")
    live_app.control.create_customer("cus_other", name="other")
    token = (
        KeyStore(live_app.control.engine).create("own", [Scope.READ], customer_id="cus_own").token
    )
    headers = {"Authorization": f"Bearer {token}"}

    own = live_app.http.post(
        "/v1/limits/check", json={"customer_id": "cus_own", "feature": "api_calls"}, headers=headers
    )
    other = live_app.http.post(
        "/v1/limits/check",
        json={"customer_id": "cus_other", "feature": "api_calls"},
        headers=headers,
    )

    assert own.status_code == 200
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden_customer"


def test_events_for_an_earlier_window_are_accepted_and_not_limited(live_app: LiveApp) -> None:
    live_app.control.create_customer("cus_back", name="back")
    live_app.control.subscribe("cus_back", "free", at=datetime.now(UTC) - timedelta(days=33))
    assert live_app.post_usage("cus_back", 1000).status_code == 200
    backdated = {
        "event_id": uuid.uuid4().hex,
        "customer_id": "cus_back",
        "event_type": "api_call",
        "feature": "tests",
        "quantity": "500",
        "unit": "call",
        "timestamp": (datetime.now(UTC) - timedelta(days=32)).isoformat(),
    }

    response = live_app.http.post("/v1/events", json=backdated, headers=live_app.headers)

    assert response.status_code == 200
    assert live_app.check("cus_back")["used"] == "1000"


def test_a_customer_key_reads_only_its_own_events(live_app: LiveApp) -> None:
    from tollgate.control.api_keys import KeyStore, Scope

    live_app.control.create_customer("cus_reader", name="reader")
    token = (
        KeyStore(live_app.control.engine)
        .create("reader", [Scope.READ], customer_id="cus_reader")
        .token
    )
    headers = {"Authorization": f"Bearer {token}"}

    own = live_app.http.get("/v1/events/e1", params={"customer_id": "cus_reader"}, headers=headers)
    other = live_app.http.get("/v1/events/e1", params={"customer_id": "cus_x"}, headers=headers)

    assert own.status_code == 404  # unknown event, but the key may ask
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden_customer"
