"""The demo's Stripe: the real one if STRIPE_SECRET_KEY is set, else the local stand-in.

With the stand-in, the demo sets the Stripe environment for itself and the server it starts
(key, API base, webhook secret), so the pipeline's Stripe assets and ``POST /webhooks/stripe``
run exactly as they would against Stripe, and prints what reached Stripe.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tollgate.billing.catalogue import Catalogue
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.stripe_standin import StripeStandin
from tollgate.stripe_standin.server import DEFAULT_API_KEY
from tollgate.stripe_sync.client import make_client
from tollgate.stripe_sync.published_usage import cycle_usage
from tollgate.stripe_sync.reconciliation import reconcile_current_cycles
from tollgate.stripe_sync.settings import StripeSettings


@contextmanager
def demo_stripe(console: Console, server_url: str) -> Iterator[StripeStandin | None]:
    """Starts the stand-in unless a real key is configured; yields it (None: real Stripe)."""
    if StripeSettings().enabled:
        console.print("[bold]Stripe[/]: STRIPE_SECRET_KEY is set, using it")
        yield None
        return
    with StripeStandin() as standin:
        endpoint = standin.add_webhook_endpoint(f"{server_url}/webhooks/stripe")
        os.environ["STRIPE_SECRET_KEY"] = DEFAULT_API_KEY
        os.environ["TOLLGATE_STRIPE_API_BASE"] = standin.url
        os.environ["STRIPE_WEBHOOK_SECRET"] = str(endpoint["secret"])
        console.print(f"[bold]Stripe stand-in[/] on {standin.url} (no STRIPE_SECRET_KEY set)")
        yield standin


def print_stripe(
    console: Console,
    control_url: str,
    marts_dir: Path,
    catalogue: Catalogue,
    standin: StripeStandin | None,
) -> None:
    """What the pipeline's Stripe assets left in Stripe: customers, subscriptions, usage."""
    client = make_client(StripeSettings())
    if client is None:
        return
    engine = open_control_database(control_url)
    try:
        control = ControlService(engine, catalogue, actor="demo")
        customers = control.list_customers()
        compared, differences = reconcile_current_cycles(
            client, control, catalogue, cycle_usage(marts_dir), datetime.now(UTC)
        )
    finally:
        engine.dispose()
    synced = [c for c in customers if c.stripe_customer_id]
    table = Table(title="Stripe")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("customers in Stripe", f"{len(synced):,} of {len(customers):,}")
    subscriptions = client.v1.subscriptions.list({"limit": 100, "status": "all"})
    table.add_row("subscriptions", f"{sum(1 for _ in subscriptions.auto_paging_iter()):,}")
    if standin is not None:
        sent = standin.request_count("POST", "/v1/billing/meter_events")
        table.add_row("meter events received", f"{sent:,}")
    meters = {m.event_name: m.id for m in client.v1.billing.meters.list({"limit": 100}).data}
    table.add_row("meters", ", ".join(sorted(meters)))
    table.add_row(
        "Tollgate vs Stripe preview",
        f"{compared:,} customers compared, {len(differences):,} differences",
    )
    console.print(table)
    for difference in differences[:5]:
        console.print(f"  difference: {difference.describe()}")


def show_payment_webhook(
    console: Console, control_url: str, catalogue: Catalogue, standin: StripeStandin | None
) -> None:
    """Ends one subscription's period in the stand-in, which pays the invoice and signs the
    webhooks Stripe would send; the ingest API verifies them and records the payment."""
    if standin is None:
        return
    engine = open_control_database(control_url)
    try:
        control = ControlService(engine, catalogue, actor="demo")
        customer = next(
            (
                c
                for c in control.list_customers()
                if c.stripe_customer_id and _paid_plan(c.id, control)
            ),
            None,
        )
        if customer is None or customer.stripe_customer_id is None:
            return
        client = make_client(StripeSettings())
        assert client is not None
        (subscription,) = client.v1.subscriptions.list(
            {"customer": customer.stripe_customer_id}
        ).data
        invoice = standin.close_period(subscription.id, "paid")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            paid = [p for p in control.invoice_payments(customer.id) if p.status == "paid"]
            if paid:
                console.print(
                    f"[bold]Webhook[/]: Stripe invoice {invoice['id']} of {customer.id} paid "
                    f"({paid[0].amount_paid:,} {paid[0].currency.upper()} minor units), recorded "
                    "by POST /webhooks/stripe after signature verification"
                )
                return
            time.sleep(0.1)
        console.print("[yellow]Webhook[/]: the payment was not recorded within 15 s (server.log)")
    finally:
        engine.dispose()


def _paid_plan(customer_id: str, control: ControlService) -> bool:
    active = control.active_plan(customer_id)
    return active is not None and active.plan.base_price > 0
