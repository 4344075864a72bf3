"""Invoice payments: paid or failed, each event applied once and never undone by an older one."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.stripe_webhooks.conftest import StripeApp, event, invoice
from tollgate.control.stripe_events import stripe_event, stripe_event_count
from tollgate.stripe_webhooks import context

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD = (NOW - timedelta(days=30), NOW - timedelta(hours=1))


def _payment(kind: str, created: datetime, **fields: Any) -> dict[str, Any]:
    paid = kind == "invoice.payment_succeeded"
    return event(kind, invoice("in_1Pay", "cus_Pay", period=PERIOD, paid=paid, **fields), created)


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_paid_invoice_is_recorded_with_its_subscription(app: StripeApp) -> None:
    subscription = app.customer("acme", "cus_Pay", "professional")
    assert subscription is not None
    payload = _payment(
        "invoice.payment_succeeded",
        NOW - timedelta(minutes=5),
        tollgate_subscription=subscription.id,
    )
    assert _ok(app.send(payload))["outcome"] == "applied"

    [payment] = app.control.invoice_payments("acme")
    assert payment.stripe_invoice_id == "in_1Pay"
    assert payment.status == "paid"
    assert payment.subscription_id == subscription.id
    assert payment.stripe_subscription_id == "sub_1StripeAbc"
    assert (payment.period_start, payment.period_end) == PERIOD
    assert (payment.amount_due, payment.amount_paid, payment.currency) == (7900, 7900, "usd")
    assert payment.last_event_id == payload["id"]
    assert payment.last_event_created == NOW - timedelta(minutes=5)
    assert app.notifications("acme") == []  # a payment that worked is no news


def test_a_failed_payment_is_recorded_and_raises_one_notification(app: StripeApp) -> None:
    app.customer("acme", "cus_Pay", "professional")
    payload = _payment("invoice.payment_failed", NOW - timedelta(minutes=5))
    assert _ok(app.send(payload)) == {"received": True, "duplicate": False, "outcome": "applied"}
    # Stripe redelivers (our 200 got lost): same event id, nothing done again.
    assert _ok(app.send(payload)) == {"received": True, "duplicate": True, "outcome": "applied"}

    [payment] = app.control.invoice_payments("acme")
    assert (payment.status, payment.amount_paid, payment.subscription_id) == ("failed", 0, None)
    [notice] = app.notifications("acme")
    assert notice["type"] == "payment_failed"
    assert notice["severity"] == "critical"
    assert "USD 79.00" in notice["message"]
    assert "TG1A2B3C-0007" in notice["message"]
    start, end = (datetime.fromisoformat(notice[k]) for k in ("window_start", "window_end"))
    assert (start, end) == PERIOD
    assert datetime.fromisoformat(notice["created_at"]) == NOW - timedelta(minutes=5)
    assert stripe_event_count(app.engine) == 1


def test_another_failed_attempt_for_the_same_invoice_does_not_notify_again(
    app: StripeApp,
) -> None:
    app.customer("acme", "cus_Pay", "professional")
    _ok(app.send(_payment("invoice.payment_failed", NOW - timedelta(hours=2))))
    _ok(app.send(_payment("invoice.payment_failed", NOW - timedelta(minutes=1))))
    assert len(app.notifications("acme")) == 1
    assert stripe_event_count(app.engine) == 2


def test_the_same_event_delivered_concurrently_is_processed_once(app: StripeApp) -> None:
    app.customer("acme", "cus_Pay", "professional")
    payload = _payment("invoice.payment_failed", NOW - timedelta(minutes=5))
    deliveries = 6
    start = threading.Barrier(deliveries)
    answers: list[dict[str, object]] = []

    def deliver() -> None:
        start.wait()
        answers.append(_ok(app.send(payload)))

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(answers) == deliveries
    assert sorted(bool(a["duplicate"]) for a in answers) == [False] + [True] * (deliveries - 1)
    assert {a["outcome"] for a in answers} == {"applied"}
    assert len(app.control.invoice_payments("acme")) == 1
    assert len(app.notifications("acme")) == 1
    assert stripe_event_count(app.engine) == 1


def test_an_older_failure_arriving_after_a_success_leaves_the_invoice_paid(
    app: StripeApp,
) -> None:
    app.customer("acme", "cus_Pay", "professional")
    failed = _payment("invoice.payment_failed", NOW - timedelta(minutes=10))
    succeeded = _payment("invoice.payment_succeeded", NOW - timedelta(minutes=2))
    assert _ok(app.send(succeeded))["outcome"] == "applied"
    assert _ok(app.send(failed))["outcome"] == "stale"

    [payment] = app.control.invoice_payments("acme")
    assert (payment.status, payment.last_event_id) == ("paid", succeeded["id"])
    assert app.notifications("acme") == []
    record = stripe_event(app.engine, str(failed["id"]))
    assert record is not None
    assert record.outcome == "stale"


def test_a_success_after_a_failure_marks_the_invoice_paid(app: StripeApp) -> None:
    app.customer("acme", "cus_Pay", "professional")
    _ok(app.send(_payment("invoice.payment_failed", NOW - timedelta(minutes=10))))
    _ok(app.send(_payment("invoice.payment_succeeded", NOW - timedelta(minutes=2))))
    [payment] = app.control.invoice_payments("acme")
    assert (payment.status, payment.amount_paid) == ("paid", 7900)
    # The failure was real when it happened: its notice stays.
    assert [n["type"] for n in app.notifications("acme")] == ["payment_failed"]


def test_an_unknown_stripe_customer_is_acknowledged_and_recorded(app: StripeApp) -> None:
    app.customer("acme", "cus_Other", "professional")
    payload = _payment("invoice.payment_failed", NOW - timedelta(minutes=5))
    assert _ok(app.send(payload))["outcome"] == "ignored_unknown_customer"
    assert app.control.invoice_payments("acme") == []
    assert app.notifications("acme") == []
    record = stripe_event(app.engine, str(payload["id"]))
    assert record is not None
    assert (record.outcome, record.event_type, record.object_id) == (
        "ignored_unknown_customer",
        "invoice.payment_failed",
        "in_1Pay",
    )


def test_metadata_naming_another_customers_subscription_is_not_trusted(app: StripeApp) -> None:
    app.customer("acme", "cus_Pay", "professional")
    other = app.customer("globex", "cus_Globex", "starter")
    assert other is not None
    payload = _payment(
        "invoice.payment_succeeded", NOW - timedelta(minutes=5), tollgate_subscription=other.id
    )
    _ok(app.send(payload))
    [payment] = app.control.invoice_payments("acme")
    assert payment.subscription_id is None


def test_a_crash_while_processing_leaves_nothing_and_the_retry_applies_it(
    app: StripeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.customer("acme", "cus_Pay", "professional")
    payload = _payment("invoice.payment_failed", NOW - timedelta(minutes=5))

    def crash(*_: object, **__: object) -> None:
        raise RuntimeError("the process died here")

    # After the payment row was written, before the notification: all or nothing.
    with monkeypatch.context() as patch:
        patch.setattr(context.HandlerContext, "notify", crash)
        with pytest.raises(RuntimeError, match="died"):
            app.send(payload)
    assert stripe_event_count(app.engine) == 0
    assert app.control.invoice_payments("acme") == []

    assert _ok(app.send(payload)) == {"received": True, "duplicate": False, "outcome": "applied"}
    assert [p.status for p in app.control.invoice_payments("acme")] == ["failed"]
    assert len(app.notifications("acme")) == 1


def test_paid_is_final_whatever_the_order_of_delivery(app: StripeApp) -> None:
    # Stripe never fails an invoice once paid; a success delivered after a later-created
    # failure is still the invoice's final state.
    app.customer("acme", "cus_Pay", "professional")
    _ok(app.send(_payment("invoice.payment_failed", NOW - timedelta(minutes=2))))
    succeeded = _payment("invoice.payment_succeeded", NOW - timedelta(minutes=10))
    assert _ok(app.send(succeeded))["outcome"] == "applied"
    [payment] = app.control.invoice_payments("acme")
    assert (payment.status, payment.last_event_id) == ("paid", succeeded["id"])


def test_an_older_failure_does_not_replace_a_newer_one(app: StripeApp) -> None:
    app.customer("acme", "cus_Pay", "professional")
    newer = _payment("invoice.payment_failed", NOW - timedelta(minutes=2), amount_due=8100)
    older = _payment("invoice.payment_failed", NOW - timedelta(minutes=30), amount_due=7900)
    _ok(app.send(newer))
    assert _ok(app.send(older))["outcome"] == "stale"
    [payment] = app.control.invoice_payments("acme")
    assert (payment.amount_due, payment.last_event_id) == (8100, newer["id"])
