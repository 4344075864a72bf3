"""``tollgate demo``: the whole system on embedded defaults, with traffic, in one command.

Today that is the ingest API plus a traffic generator posting through the real Python client
over HTTP, then the billing pipeline, which syncs Stripe (the local stand-in unless
STRIPE_SECRET_KEY is set), and the dashboards, whose address and sign-in keys it prints.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ingest_api.settings import IngestSettings
from tollgate.background_server import BackgroundServer
from tollgate.billing.money import format_money
from tollgate.client import TollgateClient
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.dashboards_server import DEFAULT_PORT as DEFAULT_DASHBOARD_PORT
from tollgate.dashboards_server import start_dashboards
from tollgate.demo_delivery import DemoMailbox, DemoWebhooks
from tollgate.demo_notices import show_delivery, subscribe_to_notices
from tollgate.demo_stripe import demo_stripe, print_stripe, show_payment_webhook
from tollgate.traffic import TrafficPlan, customer_ids, generate

console = Console()
# The customer whose own key the demo prints: the third, on the Professional plan (plans are
# given in catalogue order), so its pages show usage charges and limits.
DEMO_CUSTOMER = "cus_00003"


def run_demo(
    *,
    data_dir: Path,
    port: int,
    customers: int,
    events: int,
    keep_running: bool,
    dashboard_port: int = DEFAULT_DASHBOARD_PORT,
) -> None:
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    settings = IngestSettings(data_dir=data_dir, port=port)
    engine = open_control_database(settings.control_database_url)
    store = KeyStore(engine, actor="demo")
    ingest_key = store.create("demo-traffic", [Scope.INGEST]).token
    admin_key = store.create("demo-admin", [Scope.ADMIN]).token
    plans = _create_customers(ControlService(engine, settings.catalogue(), actor="demo"), customers)
    customer_key = store.create("demo-portal", [Scope.READ], customer_id=DEMO_CUSTOMER).token
    mailbox = DemoMailbox(data_dir / "demo-mail").start()
    webhooks = DemoWebhooks(data_dir / "demo-webhooks.jsonl").start()
    subscribe_to_notices(engine, settings.catalogue(), DEMO_CUSTOMER, webhooks)
    engine.dispose()

    with demo_stripe(console, f"http://{settings.host}:{settings.port}") as standin:
        server = _start_server(settings, mailbox)
        dashboards: BackgroundServer | None = None
        try:
            console.print(f"[bold]Ingest API[/] listening on {server.url} (data in {data_dir}/)")
            outcome = _send_traffic(server.url, ingest_key, TrafficPlan(customers, events))
            stored = _wait_for_parquet(settings, outcome.accepted)
            _print_summary(server.url, settings, ingest_key, admin_key, outcome, stored, plans)
            _run_billing(settings)
            print_stripe(
                console,
                settings.control_database_url,
                settings.marts_dir,
                settings.catalogue(),
                standin,
            )
            show_payment_webhook(
                console, settings.control_database_url, settings.catalogue(), standin
            )
            _print_billing_api(server.url, ingest_key, customer_key)
            show_delivery(console, server.url, customer_key, settings, mailbox, webhooks)
            dashboards = start_dashboards(
                settings, port=dashboard_port, log=data_dir / "dashboards.log"
            )
            _print_dashboards(dashboards.url, admin_key, customer_key)
            if keep_running:
                console.print("\nThe servers keep running; press Ctrl-C to stop.")
                server.process.wait()
        except KeyboardInterrupt:
            console.print("\nStopping.")
        finally:
            if dashboards is not None:
                dashboards.stop()
            server.stop()
            webhooks.stop()
            mailbox.stop()


# Where the demo's customers live, in turn; billing cycles follow each one's wall clock.
_TIMEZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "Australia/Sydney")


def _create_customers(service: ControlService, count: int) -> Counter[str]:
    """The traffic's customers, each subscribed to a plan (in turn through the catalogue).

    Subscriptions started 40 days ago, so the traffic falls into each one's second cycle.
    """
    plans = list(service.catalogue.plans)
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    subscribed: Counter[str] = Counter()
    for n, customer_id in enumerate(customer_ids(count)):
        plan = plans[n % len(plans)]
        service.create_customer(
            customer_id,
            name=f"Demo customer {n + 1}",
            email=f"billing+{customer_id}@example.com",
            timezone=_TIMEZONES[n % len(_TIMEZONES)],
        )
        service.subscribe(customer_id, plan, at=started)
        subscribed[plan] += 1
    return subscribed


def _run_billing(settings: IngestSettings) -> None:
    """The billing pipeline over the demo's events: cycles, invoices, limits, notifications."""
    from pipelines.runner import run_pipeline
    from tollgate.warehouse.reader import PublishedMarts

    console.print("\n[bold]Billing pipeline[/] (Dagster + dbt on DuckDB) ...")
    run_pipeline(settings, datetime.now(UTC), close=True)
    con = PublishedMarts(settings.marts_dir).connect()
    table = Table(title="Billing (published marts)")
    table.add_column("what")
    table.add_column("value", justify="right")
    for status, currency, count, total in con.sql(
        "select status, currency, count(*), sum(total)::bigint from fct_invoices "
        "group by all order by all"
    ).fetchall():
        table.add_row(f"{status} invoices", f"{count:,} ({format_money(total, currency)})")
    for kind, count in con.sql(
        "select notification_type, count(*) from fct_notifications group by all order by 1"
    ).fetchall():
        table.add_row(f"{kind} notifications", f"{count:,}")
    console.print(table)
    console.print(f"Marts:      {settings.marts_dir} (read them with tollgate.warehouse.reader)")
    console.print("Pipeline UI: ./dev dagster dev -w workspace.yaml")


def _print_billing_api(url: str, ingest_key: str, customer_key: str) -> None:
    check = f'{{"customer_id":"{DEMO_CUSTOMER}","feature":"api_calls","quantity":"1"}}'
    console.print(
        f"\nBilling API (docs/api.md), as customer {DEMO_CUSTOMER} with its own key:\n"
        f"  curl -s {url}/api/billing/summary -H 'Authorization: Bearer {customer_key}'\n"
        f"May {DEMO_CUSTOMER} make one more API call now? "
        "(live usage; hard limits refuse events):\n"
        f"  curl -s {url}/v1/limits/check -H 'Authorization: Bearer {ingest_key}' \\\n"
        f"    -H 'Content-Type: application/json' -d '{check}'",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def _print_dashboards(url: str, admin_key: str, customer_key: str) -> None:
    console.print(
        f"\nDashboards: {url}\n"
        f"  sign in as customer {DEMO_CUSTOMER} with its key: {customer_key}\n"
        f"  sign in as an operator (any customer, admin analytics) with: {admin_key}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def _start_server(settings: IngestSettings, mailbox: DemoMailbox) -> BackgroundServer:
    env = {
        **os.environ,
        "TOLLGATE_DATA_DIR": str(settings.data_dir),
        "TOLLGATE_PORT": str(settings.port),
        # Short segments so the demo's events reach Parquet within seconds.
        "TOLLGATE_WAL_SEGMENT_MAX_AGE": "2",
        # Notices are e-mailed to the demo's own mailbox.
        "TOLLGATE_SMTP_HOST": "127.0.0.1",
        "TOLLGATE_SMTP_PORT": str(mailbox.port),
        "TOLLGATE_SMTP_SECURITY": "none",
        "TOLLGATE_DELIVERY_POLL_SECONDS": "0.5",
        # Its webhook receiver is on 127.0.0.1, which customers' endpoints may not be.
        "TOLLGATE_DELIVERY_ALLOW_PRIVATE_ENDPOINTS": "true",
    }
    log = (settings.data_dir / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "tollgate", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the ingest API did not start; see {settings.data_dir}/server.log")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return BackgroundServer(process, url)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit(
        f"the ingest API was not ready within 60 s; see {settings.data_dir}/server.log"
    )


@dataclass
class TrafficOutcome:
    tracked: int
    accepted: int
    duplicates: int
    rejected: int
    first_rejection: str | None
    seconds: float


def _send_traffic(url: str, key: str, plan: TrafficPlan) -> TrafficOutcome:
    # The demo's deliberate bad events are summarised below instead of logged one by one.
    logging.getLogger("tollgate.client").setLevel(logging.ERROR)
    reasons: list[str] = []
    started = time.perf_counter()
    with (
        TollgateClient(
            url,
            key,
            on_rejected=lambda r: reasons.extend(f"{x.event_id}: {x.field}: {x.reason}" for x in r),
        ) as client,
        Progress(console=console, transient=True) as progress,
    ):
        task = progress.add_task(
            f"Posting events for {plan.customers} customers", total=plan.events
        )
        for n, event in enumerate(generate(plan), 1):
            client.track(
                event.customer_id,
                event.event_type,
                event.feature,
                event.quantity,
                unit=event.unit,
                properties=event.properties,
                timestamp=event.timestamp,
                event_id=event.event_id,
            )
            if n % 500 == 0:
                progress.update(task, completed=n)
        client.flush()
        stats = client.stats
    return TrafficOutcome(
        plan.events,
        stats.accepted,
        stats.duplicates,
        stats.rejected,
        reasons[0] if reasons else None,
        time.perf_counter() - started,
    )


def _parquet_rows(settings: IngestSettings) -> tuple[int, int]:
    files = sorted(settings.events_dir.glob("date=*/*.parquet"))
    if not files:
        return 0, 0
    with duckdb.connect() as db:
        rows = db.execute(
            "select count(*) from read_parquet(?)", [[str(f) for f in files]]
        ).fetchall()
    return len(files), int(rows[0][0])


def _wait_for_parquet(settings: IngestSettings, accepted: int) -> tuple[int, int]:
    deadline = time.monotonic() + 60
    files, rows = _parquet_rows(settings)
    while rows < accepted and time.monotonic() < deadline:
        time.sleep(0.25)
        files, rows = _parquet_rows(settings)
    return files, rows


def _print_summary(
    url: str,
    settings: IngestSettings,
    ingest_key: str,
    admin_key: str,
    outcome: TrafficOutcome,
    stored: tuple[int, int],
    plans: Counter[str],
) -> None:
    table = Table(title="What the demo did", show_header=False)
    table.add_row("customers created (control plane)", f"{plans.total():,}")
    table.add_row("subscriptions by plan", ", ".join(f"{p} {n}" for p, n in plans.items()))
    table.add_row("events posted over HTTP", f"{outcome.tracked:,}")
    table.add_row("accepted (durable, counted once)", f"{outcome.accepted:,}")
    table.add_row("duplicates (re-sent, not counted)", f"{outcome.duplicates:,}")
    table.add_row("rejected (with reasons)", f"{outcome.rejected:,}")
    if outcome.first_rejection:
        table.add_row("  e.g.", outcome.first_rejection)
    table.add_row("throughput", f"{outcome.tracked / outcome.seconds:,.0f} events/s")
    table.add_row("Parquet files / rows", f"{stored[0]:,} / {stored[1]:,}")
    table.add_row("Parquet location", f"{settings.events_dir}/date=YYYY-MM-DD/")
    console.print(table)
    console.print(f"API docs:   {url}/docs")
    console.print(f"Metrics:    {url}/metrics")
    console.print(
        f"Customers:  tollgate customers list --data-dir {settings.data_dir}   "
        f"(and: customers show cus_00001, audit)",
        highlight=False,
    )
    console.print(f"Ingest key: {ingest_key}")
    console.print(f"Admin key:  {admin_key}")
    event = (
        '{"event_id":"hello-1","customer_id":"cus_00001","event_type":"api_call",'
        '"feature":"api_calls","quantity":"1"}'
    )
    console.print(
        "Post an event yourself:\n"
        f"  curl -s {url}/v1/events -H 'Authorization: Bearer {ingest_key}' \\\n"
        f"    -H 'Content-Type: application/json' -d '{event}'\n"
        "Ask what became of it:\n"
        f"  curl -s '{url}/v1/events/hello-1?customer_id=cus_00001' "
        f"-H 'Authorization: Bearer {ingest_key}'",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
