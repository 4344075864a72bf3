"""Only events Stripe signed, recently, over exactly these bytes, are processed; nothing else
is stored. Without a secret the endpoint says how to configure it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import stripe

from tests.stripe_webhooks.conftest import SECRET, StripeApp, event, invoice
from tollgate.control.stripe_events import stripe_event_count

NOW = datetime.now(UTC)
PERIOD = (NOW - timedelta(days=30), NOW - timedelta(minutes=5))


def _failed_payment() -> dict[str, object]:
    return event(
        "invoice.payment_failed",
        invoice("in_1Sig", "cus_Sig", period=PERIOD, paid=False),
        NOW - timedelta(minutes=1),
    )


def _assert_nothing_stored(app: StripeApp) -> None:
    assert stripe_event_count(app.engine) == 0
    assert app.control.invoice_payments("acme") == []
    assert app.notifications("acme") == []


def _error_code(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    code: str = response.json()["error"]["code"]
    return code


def test_a_signed_event_is_processed(app: StripeApp) -> None:
    app.customer("acme", "cus_Sig", "professional")
    response = app.send(_failed_payment())
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False, "outcome": "applied"}
    assert [p.status for p in app.control.invoice_payments("acme")] == ["failed"]


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        ("forged", "invalid_signature"),
        ("altered", "invalid_signature"),
        ("stale", "stale_signature"),
        ("missing", "missing_signature"),
        ("not_json", "malformed_json"),
        ("not_an_event", "invalid_event"),
    ],
)
def test_a_request_stripe_did_not_send_is_refused_and_nothing_is_stored(
    app: StripeApp, tamper: str, code: str
) -> None:
    app.customer("acme", "cus_Sig", "professional")
    payload = _failed_payment()
    if tamper == "forged":
        response = app.send(payload, secret="whsec_someone_else")
    elif tamper == "altered":
        # Signed, then the amount changed on the way: the signature no longer matches.
        altered = json.dumps(payload).replace('"amount_due": 7900', '"amount_due": 1')
        assert altered != json.dumps(payload)
        response = app.send(payload, body=altered)
    elif tamper == "stale":
        response = app.send(payload, signed_at=datetime.now(UTC) - timedelta(seconds=301))
    elif tamper == "missing":
        response = app.post(json.dumps(payload), None)
    elif tamper == "not_json":  # correctly signed, yet not JSON
        response = _signed_raw(app, "{not json")
    else:
        response = _signed_raw(app, json.dumps({"object": "event", "id": "evt_x"}))
    assert _error_code(response) == code
    body = response.json()["error"]
    assert body["message"]
    assert body["hint"]
    _assert_nothing_stored(app)


def _signed_raw(app: StripeApp, body: str) -> httpx.Response:
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    return app.post(body, header)


def test_a_signature_within_the_tolerance_is_accepted(app: StripeApp) -> None:
    app.customer("acme", "cus_Sig", "professional")
    response = app.send(_failed_payment(), signed_at=datetime.now(UTC) - timedelta(seconds=240))
    assert response.status_code == 200, response.text


def test_without_a_secret_the_endpoint_says_how_to_configure_it(
    unconfigured_app: StripeApp,
) -> None:
    response = unconfigured_app.send(_failed_payment())
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "webhooks_not_configured"
    assert "STRIPE_WEBHOOK_SECRET" in error["hint"]
    assert stripe_event_count(unconfigured_app.engine) == 0


def test_the_endpoint_is_documented_in_openapi(app: StripeApp) -> None:
    operation = app.http.get("/openapi.json").json()["paths"]["/webhooks/stripe"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"Stripe-Signature"}
    assert "application/json" in operation["requestBody"]["content"]
    assert {"200", "400", "503"} <= set(operation["responses"])
