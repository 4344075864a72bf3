"""Delivery end to end on a real `tollgate serve`: usage crosses a limit, the notice reaches the
customer's webhook endpoint and mailbox (real servers on 127.0.0.1) once, even across a crash."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import TollgateServer, wait_until
from tests.support.smtp_server import SmtpTestServer
from tests.support.webhook_receiver import WebhookReceiver
from tollgate.billing.catalogue import default_catalogue
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.delivery.signing import HEADER, verify

pytestmark = pytest.mark.slow


@dataclass
class World:
    server: TollgateServer
    receiver: WebhookReceiver
    smtp: SmtpTestServer
    alice: str
    bob: str
    admin: str
    ingest: str

    def billing(self, key: str) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.server.url}/api/billing",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )

    def use_api(self, event_id: str, calls: int) -> None:
        event = {
            "event_id": event_id,
            "customer_id": "alice",
            "event_type": "api_call",
            "feature": "notes.list",
            "quantity": str(calls),
            "unit": "call",
        }
        answer = httpx.post(
            f"{self.server.url}/v1/events",
            json=event,
            headers={"Authorization": f"Bearer {self.ingest}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = open_control_database(f"sqlite:///{data_dir / 'control.sqlite'}")
    control = ControlService(engine, default_catalogue(), actor="tests")
    control.create_customer("alice", name="Alice Ltd", email="billing@alice.example")
    control.create_customer("bob", name="Bob")
    control.subscribe("alice", "starter")
    control.set_limit("alice", "api_calls", 100)
    store = KeyStore(engine, actor="tests")
    with WebhookReceiver() as receiver, SmtpTestServer() as smtp:
        server = TollgateServer(
            data_dir=data_dir,
            env={
                "TOLLGATE_SMTP_HOST": "127.0.0.1",
                "TOLLGATE_SMTP_PORT": str(smtp.port),
                "TOLLGATE_SMTP_SECURITY": "none",
                "TOLLGATE_DELIVERY_POLL_SECONDS": "0.1",
                "TOLLGATE_DELIVERY_ALLOW_PRIVATE_ENDPOINTS": "true",
            },
        )
        server.start()
        try:
            yield World(
                server,
                receiver,
                smtp,
                alice=store.create("alice", [Scope.READ], customer_id="alice").token,
                bob=store.create("bob", [Scope.READ], customer_id="bob").token,
                admin=store.create("admin", [Scope.ADMIN]).token,
                ingest=store.create("ingest", [Scope.INGEST]).token,
            )
        finally:
            server.stop()
            engine.dispose()


def test_a_limit_notice_reaches_the_webhook_and_the_mailbox_once_even_across_a_crash(
    world: World,
) -> None:
    with world.billing(world.alice) as alice:
        created = alice.post("/webhook-endpoints", json={"url": world.receiver.url("/alice")})
        assert created.status_code == 201, created.text
        secret = created.json()["secret"]
        assert secret.startswith("whsec_")
        listed = alice.get("/webhook-endpoints").json()["endpoints"]
        assert [e["url"] for e in listed] == [world.receiver.url("/alice")]
        assert "secret" not in listed[0]
        turned_on = alice.put("/notification-preferences", json={"email": True})
        assert turned_on.json()["email"] is True

    world.use_api("e1", 80)  # 80 of 100: the 75 % warning
    [hook] = world.receiver.wait_for(1, "/alice")
    verify(secret, hook.headers[HEADER], hook.body)
    notice = json.loads(hook.body)["data"]
    assert (notice["type"], notice["threshold_percent"]) == ("limit_warning", 75)
    [mail] = world.smtp.wait_for(1)
    assert mail.rcpt_tos == ("billing@alice.example",)
    assert notice["title"] in str(mail.message["Subject"])

    # A crash once both are recorded delivered, then a restart: they are not sent again, the
    # next notice is. (A crash mid-attempt is tests/delivery/test_webhook_delivery.py's.)
    with world.billing(world.alice) as alice:
        wait_until(
            lambda: (
                [d["status"] for d in alice.get("/deliveries").json()["deliveries"]]
                == ["delivered", "delivered"]
            ),
            what="the deliveries recorded",
        )
    world.server.kill()
    world.server.start()
    world.use_api("e2", 12)  # 92 of 100: the 90 % warning
    hooks = world.receiver.wait_for(2, "/alice")
    world.smtp.wait_for(2)
    assert [json.loads(h.body)["data"]["threshold_percent"] for h in hooks] == [75, 90]

    with world.billing(world.alice) as alice:
        wait_until(
            lambda: (
                {d["status"] for d in alice.get("/deliveries").json()["deliveries"]}
                == {"delivered"}
            ),
            what="every delivery recorded",
        )
        deliveries = alice.get("/deliveries").json()["deliveries"]
        assert sorted((d["channel"], d["attempts"]) for d in deliveries) == [
            ("email", 1),
            ("email", 1),
            ("webhook", 1),
            ("webhook", 1),
        ]
        webhook = next(d for d in deliveries if d["channel"] == "webhook")
        resent = alice.post(f"/deliveries/{webhook['id']}/resend")
        assert resent.status_code == 202, resent.text
        again = world.receiver.wait_for(3, "/alice")
        assert again[-1].headers["Tollgate-Delivery-Id"] == webhook["id"]
    assert len(world.smtp.received) == 2


def test_deliveries_are_the_customer_s_own_and_admins_see_everyone_s(world: World) -> None:
    with world.billing(world.alice) as alice:
        alice.post("/webhook-endpoints", json={"url": world.receiver.url("/alice")})
    world.use_api("e1", 80)
    world.receiver.wait_for(1, "/alice")
    with world.billing(world.alice) as alice:
        wait_until(lambda: len(alice.get("/deliveries").json()["deliveries"]) == 1)
        delivery_id = alice.get("/deliveries").json()["deliveries"][0]["id"]
    with world.billing(world.bob) as bob:
        assert bob.get("/deliveries").json()["deliveries"] == []
        assert bob.get("/webhook-endpoints").json()["endpoints"] == []
        refused = bob.post(f"/deliveries/{delivery_id}/resend")
        assert refused.status_code == 404
        refused_admin_log = bob.get("/admin/deliveries")
        assert refused_admin_log.status_code == 403
        assert refused_admin_log.json()["error"]["code"] == "admin_key_required"
        bad = bob.post("/webhook-endpoints", json={"url": "ftp://example.com/x"})
        assert bad.status_code == 422
        assert "not an absolute http(s) URL" in bad.json()["error"]["message"]
        no_address = bob.put("/notification-preferences", json={"email": True})
        assert no_address.status_code == 422
        assert "no e-mail address" in no_address.json()["error"]["message"]
    with world.billing(world.admin) as admin:
        log = admin.get("/admin/deliveries").json()["deliveries"]
        assert [(d["id"], d["customer_id"]) for d in log] == [(delivery_id, "alice")]
        assert log[0]["attempt_log"][0]["outcome"] == "delivered"
