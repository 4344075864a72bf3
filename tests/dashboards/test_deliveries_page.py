"""The admin Deliveries page: the delivery log as the control plane holds it, and resending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.auth import SESSION_KEY, Viewer
from tests.billing_api.world import World
from tests.dashboards.conftest import PAGES, TIMEOUT, signed_in
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.deliveries import DeliveryLedger
from tollgate.control.webhook_endpoints import WebhookEndpoints
from tollgate.delivery.notice import Notice


def _failed_delivery(world: World, customer: str) -> str:
    """A webhook delivery of a notice that failed for good, as the dispatcher records one."""
    endpoint = WebhookEndpoints(world.engine, actor="tests").create(
        customer, "http://127.0.0.1:9/unreachable"
    )
    ledger = DeliveryLedger(world.engine)
    now = datetime.now(UTC)
    notice = Notice(
        notification_id=f"ntf_page_test_{customer}",
        customer_id=customer,
        type="limit_warning",
        severity="warning",
        title="API calls at 90% of the limit",
        message="API calls usage reached 90% of the hard limit.",
        feature="api_calls",
        threshold_percent=90,
        window_start=now - timedelta(days=1),
        window_end=now + timedelta(days=1),
        created_at=now,
    )
    ledger.take_up(
        [notice],
        channels={"webhook"},
        preferences=world.control().notification_preferences,
        max_age=timedelta(days=1),
    )
    [claim] = ledger.claim(limit=1, lease=timedelta(minutes=5))
    ledger.finish(
        claim,
        delivered=False,
        status_code=500,
        error="endpoint answered 500",
        duration_ms=12,
        retry_at=None,
    )
    assert claim.target == endpoint.endpoint.endpoint_id
    return claim.delivery_id


def test_an_admin_sees_each_attempt_and_can_resend(world: World) -> None:
    customer = next(iter(world.tenants))
    delivery_id = _failed_delivery(world, customer)

    app = signed_in(world.admin_key)
    app.switch_page(str(PAGES / "admin_deliveries.py")).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["Deliveries"]
    assert {m.label: m.value for m in app.metric}["Failed"] == "1"
    log = app.dataframe[0].value
    row = log[log["Delivery"] == delivery_id].iloc[0].to_dict()
    assert (row["Customer"], row["Channel"], row["Status"], row["Attempts"]) == (
        customer,
        "webhook",
        "failed",
        1,
    )
    assert row["Last error"] == "endpoint answered 500"
    attempts = app.dataframe[1].value
    assert attempts[["Attempt", "Why", "Outcome", "Code"]].values.tolist() == [
        [1, "first", "failed", 500]
    ]

    app.button(key="deliveries_resend").click().run()
    assert [s.value for s in app.success] == [
        "Queued: the dispatcher sends it within a second or two."
    ]
    assert DeliveryLedger(world.engine).get(delivery_id).status == "pending"


def test_a_customer_key_cannot_open_the_deliveries_page(world: World) -> None:
    app = signed_in(next(iter(world.tenants.values())).key)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(str(PAGES / "admin_deliveries.py"))


def test_before_any_delivery_the_page_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path))
    engine = open_control_database(f"sqlite:///{tmp_path / 'control.sqlite'}")
    admin = KeyStore(engine, actor="tests").create("admin", [Scope.ADMIN]).key
    engine.dispose()
    app = AppTest.from_file(str(PAGES / "admin_deliveries.py"), default_timeout=TIMEOUT)
    app.session_state[SESSION_KEY] = Viewer(admin.key_id, None, is_admin=True)
    app.run()
    assert not app.exception
    assert [i.value for i in app.info] == ["No deliveries yet."]
    assert {m.label: m.value for m in app.metric} == {
        "Delivered": "0",
        "Pending": "0",
        "Sending": "0",
        "Failed": "0",
    }
