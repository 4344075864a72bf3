"""Webhooks out: signed, retried with backoff, logged per attempt, resendable, exactly once."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.delivery.world import DeliveryWorld
from tests.support.server import eventually
from tests.support.webhook_receiver import WebhookReceiver
from tollgate.control.errors import ConflictError
from tollgate.delivery.signing import HEADER, SignatureError, verify
from tollgate.warehouse.publication import publish_marts


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def world(tmp_path: Path) -> DeliveryWorld:
    return DeliveryWorld(tmp_path)


def test_a_notice_is_posted_once_signed_with_the_endpoint_secret(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    created = world.endpoint(customer, receiver.url("/a"))
    ntf = world.raise_notice(customer)

    assert world.run() == 1
    [request] = receiver.wait_for(1, "/a")
    body = json.loads(request.body)
    assert body["type"] == "notification.limit_warning"
    assert body["data"]["notification_id"] == ntf
    assert body["data"]["title"] == "API calls at 75% of the limit"
    assert request.headers["Tollgate-Delivery-Id"] == body["id"]
    assert request.headers["Tollgate-Notification-Id"] == ntf
    verify(created.secret, request.headers[HEADER], request.body)
    with pytest.raises(SignatureError):
        verify(created.secret, request.headers[HEADER], request.body + b" ")
    [delivery] = world.ledger.log(customer_id=customer)
    assert (delivery.status, delivery.attempts, delivery.target) == (
        "delivered",
        1,
        created.endpoint.endpoint_id,
    )
    assert [(a.trigger, a.outcome, a.status_code) for a in delivery.attempt_log] == [
        ("first", "delivered", 200)
    ]

    # Another tick, a restarted dispatcher, and the notice seen again: nothing more is sent.
    world.run()
    world.run(world.new_dispatcher())
    assert (
        world.ledger.take_up(
            world.ledger.raised_not_taken_up(world.clock.now - timedelta(days=1)),
            channels={"webhook"},
            preferences=world.control.notification_preferences,
            max_age=timedelta(days=3),
        )
        == 0
    )
    assert len(receiver.received("/a")) == 1


def test_failures_are_retried_with_growing_delays_then_given_up(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 503, 200)
    world.raise_notice(customer)

    world.run()
    [delivery] = world.ledger.log()
    assert delivery.status == "pending"
    assert delivery.next_attempt_at == world.clock.now + timedelta(minutes=1)
    assert "endpoint answered 500" in (delivery.last_error or "")

    world.clock.advance(timedelta(seconds=59))
    assert world.run() == 0, "not due before its time"
    world.clock.advance(timedelta(seconds=1))
    assert world.run() == 1
    [delivery] = world.ledger.log()
    assert delivery.next_attempt_at == world.clock.now + timedelta(minutes=3)

    world.clock.advance(timedelta(minutes=3))
    world.run()
    [delivery] = world.ledger.log()
    assert delivery.status == "delivered"
    assert [(a.attempt, a.trigger, a.outcome, a.status_code) for a in delivery.attempt_log] == [
        (1, "first", "failed", 500),
        (2, "retry", "failed", 503),
        (3, "retry", "delivered", 200),
    ]
    assert [r.answered for r in receiver.received("/flaky")] == [500, 503, 200]
    assert len({r.headers["Tollgate-Delivery-Id"] for r in receiver.received("/flaky")}) == 1


def test_after_the_last_attempt_it_fails_and_a_resend_delivers_it(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = DeliveryWorld(tmp_path)
    world.settings = world.settings.model_copy(update={"max_attempts": 2})
    world.dispatcher = world.new_dispatcher()
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/down"))
    receiver.answer("/down", 500, 500)
    world.raise_notice(customer)
    world.run()
    world.clock.advance(timedelta(minutes=1))
    world.run()
    [delivery] = world.ledger.log()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    world.clock.advance(timedelta(days=2))
    assert world.run() == 0

    resent = world.ledger.resend(delivery.delivery_id, actor="tests")
    assert resent.status == "pending"
    world.run()
    [delivery] = world.ledger.log()
    assert delivery.status == "delivered"
    assert delivery.attempt_log[-1].trigger == "resend"
    assert len(receiver.received("/down")) == 3


def test_a_slow_endpoint_does_not_delay_other_customers(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    slow, quick = world.customer("cus_slow"), world.customer("cus_quick")
    world.endpoint(slow, receiver.url("/slow"))
    world.endpoint(quick, receiver.url("/quick"))
    receiver.hold("/slow")
    for threshold in (75, 90):
        world.raise_notice(slow, threshold=threshold)
    world.raise_notice(quick)

    async def scenario() -> None:
        dispatcher = world.dispatcher
        assert await dispatcher.tick() == 3
        # The quick endpoint's delivery lands while the slow one still holds both of its own.
        await asyncio.to_thread(receiver.wait_for, 1, "/quick")
        await eventually(
            lambda: sorted(world.statuses().values()) == ["delivered", "sending", "sending"],
            "the quick delivery recorded while the slow ones are sending",
        )
        assert receiver.received("/slow") == []
        receiver.release("/slow")
        await dispatcher.close()

    asyncio.run(scenario())
    assert sorted(world.statuses().values()) == ["delivered"] * 3


def test_a_timeout_is_a_failed_attempt(tmp_path: Path, receiver: WebhookReceiver) -> None:
    world = DeliveryWorld(tmp_path)
    world.settings = world.settings.model_copy(update={"webhook_timeout_seconds": 0.2})
    world.dispatcher = world.new_dispatcher()
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/hangs"))
    receiver.hold("/hangs")
    world.raise_notice(customer)
    world.run()
    receiver.release("/hangs")
    [delivery] = world.ledger.log()
    assert delivery.status == "pending"
    assert delivery.attempt_log[0].error == "no answer within 0.2 s"


def test_a_crash_mid_attempt_is_recovered_with_the_same_delivery_id(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer)
    claimed = world.claim_as_a_sender_that_dies()
    assert world.run(world.new_dispatcher()) == 0, "leased to the dead sender"

    world.clock.advance(world.settings.lease + timedelta(seconds=1))
    assert world.run(world.new_dispatcher()) == 1
    [request] = receiver.wait_for(1, "/a")
    assert request.headers["Tollgate-Delivery-Id"] == claimed.delivery_id
    [delivery] = world.ledger.log()
    assert [(a.trigger, a.outcome) for a in delivery.attempt_log] == [
        ("first", "interrupted"),
        ("recovery", "delivered"),
    ]
    # The dead sender's late answer changes nothing.
    assert not world.ledger.finish(
        claimed, delivered=False, status_code=None, error="late", duration_ms=1, retry_at=None
    )
    assert world.ledger.log()[0].status == "delivered"


def test_muted_old_and_unconfigured_notices_are_not_sent(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    muted, old, nowhere = (
        world.customer("cus_muted"),
        world.customer("cus_old"),
        world.customer("cus_nowhere"),
    )
    world.endpoint(muted, receiver.url("/muted"))
    world.endpoint(old, receiver.url("/old"))
    world.control.set_notification_preferences(muted, types={"limit_warning": False})
    world.raise_notice(muted)
    four_days_ago = world.clock.now - timedelta(days=4)
    world.raise_notice(old, created_at=four_days_ago, raised_at=four_days_ago)
    world.raise_notice(nowhere)
    world.run()
    assert world.ledger.log() == []
    # An endpoint added later gets notices raised from then on, not the ones seen before.
    world.endpoint(nowhere, receiver.url("/later"))
    world.run()
    assert world.ledger.log() == []
    world.raise_notice(nowhere, threshold=90)
    world.run()
    assert len(receiver.wait_for(1, "/later")) == 1


def test_a_deleted_endpoint_fails_its_pending_deliveries(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    created = world.endpoint(customer, receiver.url("/gone"))
    receiver.answer("/gone", 500)
    world.raise_notice(customer)
    world.run()
    world.endpoints.delete(customer, created.endpoint.endpoint_id)
    world.clock.advance(timedelta(minutes=1))
    world.run()
    [delivery] = world.ledger.log()
    assert delivery.status == "failed"
    assert delivery.last_error == "the webhook endpoint was deleted or disabled"
    assert len(receiver.received("/gone")) == 1


def test_a_restarted_dispatcher_resends_what_its_predecessor_left_unfinished_at_once(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer)
    claimed = world.claim_as_a_sender_that_dies()
    restarted = world.new_dispatcher()
    restarted.recover()  # what the delivery service does first when the process starts
    assert world.run(restarted) == 1
    [request] = receiver.wait_for(1, "/a")
    assert request.headers["Tollgate-Delivery-Id"] == claimed.delivery_id
    assert [(a.trigger, a.outcome) for a in world.ledger.log()[0].attempt_log] == [
        ("first", "interrupted"),
        ("recovery", "delivered"),
    ]


def test_the_documented_verification_snippet_accepts_a_real_delivery(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "notifications.md").read_text()
    [snippet] = [
        block
        for block in re.findall(r"```python\n(.*?)```", doc, re.DOTALL)
        if "def verify_tollgate_signature" in block
    ]
    namespace: dict[str, object] = {}
    exec(compile(snippet, "docs/notifications.md", "exec"), namespace)  # noqa: S102 (our doc)
    verify_doc = namespace["verify_tollgate_signature"]
    assert callable(verify_doc)

    customer = world.customer("cus_a")
    created = world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer)
    world.run()
    [request] = receiver.wait_for(1, "/a")
    header = request.headers[HEADER]
    assert verify_doc(created.secret, header, request.body) is True
    assert verify_doc(created.secret, header, request.body.replace(b"75", b"76")) is False
    assert verify_doc("whsec_other", header, request.body) is False
    stale = "t=1000000000," + header.split(",", 1)[1]
    assert verify_doc(created.secret, stale, request.body) is False


def test_a_slow_endpoint_s_backlog_never_hides_another_target_s_due_delivery(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    slow, quick = world.customer("cus_slow"), world.customer("cus_quick")
    slow_endpoint = world.endpoint(slow, receiver.url("/slow")).endpoint.endpoint_id
    world.endpoint(quick, receiver.url("/quick"))
    for threshold in range(1, 41):
        world.raise_notice(slow, threshold=threshold)
    world.clock.advance(timedelta(seconds=1))  # due after every one of the slow backlog
    world.raise_notice(quick)
    world.take_up()
    # The slow endpoint already has its share in flight: the one claim is the quick one.
    claims = world.ledger.claim(
        limit=2, lease=world.settings.lease, busy={slow_endpoint: 4}, per_target=4
    )
    assert [claim.notice.customer_id for claim in claims] == [quick]


def _publish_notices(world: DeliveryWorld, rows: list[tuple[str, str, str]]) -> None:
    """A pipeline publication whose fct_notifications holds ``rows`` (id, customer, title),
    created now, as the pipeline publishes its marts."""
    warehouse = world.data_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute(
            "create or replace table fct_notifications (notification_id varchar, "
            "customer_id varchar, notification_type varchar, severity varchar, title varchar, "
            "message varchar, feature varchar, threshold_percent integer, "
            "window_start timestamptz, window_end timestamptz, created_at timestamptz)"
        )
        for notification, customer, title in rows:
            con.execute(
                "insert into fct_notifications values (?, ?, 'billing_cycle_end', 'info', ?, "
                "'Your billing period ended.', null, null, ?, ?, ?)",
                [
                    notification,
                    customer,
                    title,
                    world.clock.now - timedelta(days=30),
                    world.clock.now,
                    world.clock.now,
                ],
            )
    publish_marts(warehouse, ["fct_notifications"], world.data_dir / "marts")


def test_the_pipeline_s_notices_are_delivered_once_per_publication_that_has_them(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    _publish_notices(world, [("ntf_cycle_1", customer, "Billing period ended")])
    world.run()
    [request] = receiver.wait_for(1, "/a")
    data = json.loads(request.body)["data"]
    assert (data["notification_id"], data["type"], data["window_end"]) == (
        "ntf_cycle_1",
        "billing_cycle_end",
        world.clock.now.isoformat(),
    )
    # A re-run publishes the same notice again, with a new one: only the new one is sent.
    _publish_notices(
        world,
        [
            ("ntf_cycle_1", customer, "Billing period ended"),
            ("ntf_cycle_2", customer, "Another period ended"),
        ],
    )
    world.run(world.new_dispatcher())
    requests = receiver.wait_for(2, "/a")
    assert [json.loads(r.body)["data"]["notification_id"] for r in requests] == [
        "ntf_cycle_1",
        "ntf_cycle_2",
    ]
    world.run()
    assert len(receiver.received("/a")) == 2


def test_late_usage_crossing_a_threshold_today_is_sent(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer, created_at=world.clock.now - timedelta(days=6))
    world.run()
    assert len(receiver.wait_for(1, "/a")) == 1


def test_an_endpoint_on_a_private_address_is_refused_unless_allowed(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    world = DeliveryWorld(tmp_path)
    world.settings = world.settings.model_copy(update={"allow_private_endpoints": False})
    world.dispatcher = world.new_dispatcher()
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/internal"))
    world.raise_notice(customer)
    world.run()
    [delivery] = world.ledger.log()
    assert delivery.status == "failed", "not retried: the address will not become public"
    assert delivery.last_error == (
        "127.0.0.1 resolves to 127.0.0.1, which is not a public address; endpoints inside "
        "the network need TOLLGATE_DELIVERY_ALLOW_PRIVATE_ENDPOINTS=true"
    )
    assert receiver.received() == []


def test_an_attempt_still_running_past_its_lease_is_not_taken_over_by_its_own_sender(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer)
    claimed = world.claim_as_a_sender_that_dies()
    world.clock.advance(world.settings.lease * 2)
    assert (
        world.ledger.claim(limit=10, lease=world.settings.lease, busy_ids={claimed.delivery_id})
        == []
    )
    assert world.ledger.finish(
        claimed, delivered=True, status_code=200, error=None, duration_ms=1, retry_at=None
    )
    [delivery] = world.ledger.log()
    assert (delivery.status, delivery.attempts) == ("delivered", 1)
    assert [a.outcome for a in delivery.attempt_log] == ["delivered"]


def test_one_customer_cannot_take_every_slot(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    busy, other = world.customer("cus_busy"), world.customer("cus_other")
    for n in range(3):
        world.endpoint(busy, receiver.url(f"/busy{n}"))
    world.endpoint(other, receiver.url("/other"))
    for threshold in range(1, 11):
        world.raise_notice(busy, threshold=threshold)
    world.clock.advance(timedelta(seconds=1))
    world.raise_notice(other)
    world.take_up()
    claims = world.ledger.claim(limit=32, lease=world.settings.lease, per_target=4, per_customer=8)
    by_customer = Counter(claim.notice.customer_id for claim in claims)
    assert by_customer == {busy: 8, other: 1}


def test_a_delivery_being_resent_cannot_be_resent_again(
    world: DeliveryWorld, receiver: WebhookReceiver
) -> None:
    customer = world.customer("cus_a")
    world.endpoint(customer, receiver.url("/a"))
    world.raise_notice(customer)
    world.run()
    [delivery] = world.ledger.log()
    world.ledger.resend(delivery.delivery_id, actor="tests")
    with pytest.raises(ConflictError, match="is pending already"):
        world.ledger.resend(delivery.delivery_id, actor="tests")
