"""The demo's notices, delivered: the demo customer e-mails and webhooks switched on, a spend
alert set below what it has spent (so it fires at once, without a pipeline run), and where the
e-mails, webhooks and invoice PDFs ended up."""

from __future__ import annotations

import time

import httpx
from rich.console import Console
from sqlalchemy import Engine

from ingest_api.settings import IngestSettings
from tollgate.billing.catalogue import Catalogue
from tollgate.billing.money import major_units_text
from tollgate.control.service import ControlService
from tollgate.control.webhook_endpoints import WebhookEndpoints
from tollgate.demo_delivery import DemoMailbox, DemoWebhooks

DELIVERY_WAIT_SECONDS = 30


def subscribe_to_notices(
    engine: Engine, catalogue: Catalogue, customer_id: str, webhooks: DemoWebhooks
) -> None:
    created = WebhookEndpoints(engine, actor="demo").create(
        customer_id, webhooks.url, "the demo's receiver"
    )
    webhooks.secret = created.secret
    ControlService(engine, catalogue, actor="demo").set_notification_preferences(
        customer_id, email=True
    )


def show_delivery(
    console: Console,
    url: str,
    customer_key: str,
    settings: IngestSettings,
    mailbox: DemoMailbox,
    webhooks: DemoWebhooks,
) -> None:
    api = httpx.Client(
        base_url=f"{url}/api/billing",
        headers={"Authorization": f"Bearer {customer_key}"},
        timeout=30,
    )
    with api:
        spend = api.get("/spend-thresholds").json()
        spent = spend["spent"]
        alert_at = _half(spent["amount"], spent["currency"]) if spent else None
        if alert_at is not None:
            answer = api.put(
                "/spend-thresholds", json={"alerts": [{"amount": alert_at}], "budget": None}
            )
            answer.raise_for_status()
        deadline = time.monotonic() + DELIVERY_WAIT_SECONDS
        while time.monotonic() < deadline and (mailbox.received == 0 or webhooks.received[0] == 0):
            time.sleep(0.2)
        deliveries = api.get("/deliveries").json()["deliveries"]
        invoices = api.get("/invoices", params={"status": "finalized"}).json()["invoices"]
    documents = sorted(settings.invoice_documents_dir.glob("*.pdf"))
    hooks, verified = webhooks.received
    console.print(
        "\n[bold]Notices delivered[/] (docs/notifications.md): "
        + (
            f"a spend alert at {alert_at} {spent['currency'].upper()} (spent so far: "
            f"{spent['decimal']}) fired at once for the demo customer; "
            if alert_at is not None
            else ""
        )
        + f"{mailbox.received} e-mail(s) in {mailbox.directory}/, "
        f"{hooks} webhook(s) ({verified} with a good signature) in {webhooks.path}; "
        f"{len(deliveries)} deliveries in GET {url}/api/billing/deliveries"
    )
    pdf = f"{url}/api/billing/invoices/{invoices[0]['id']}/pdf" if invoices else None
    console.print(
        f"[bold]Invoice PDFs[/] (docs/invoices.md): {len(documents)} in "
        f"{settings.invoice_documents_dir}/"
        + (f"; the demo customer's newest: {pdf}" if pdf else "")
    )


def _half(amount: int, currency: str) -> str | None:
    """Half of ``amount`` minor units as the API's decimal text; None if nothing was spent."""
    if amount < 2:
        return None
    return major_units_text(amount // 2, currency)
