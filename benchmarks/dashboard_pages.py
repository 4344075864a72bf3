"""Dashboard page times on the 10-million-event data set, beside Streamlit's own floor.

    ./dev python benchmarks/dashboard_pages.py [--data-dir /tmp/tollgate-pipeline-bench/history-30d]

Reads the data set ``benchmarks/pipeline.py --keep`` leaves behind (10 million events, 50,000
customers, 30 days, one full pipeline run); builds it first if it is missing (a few minutes).
Starts the dashboards (``tollgate dashboards``) on 127.0.0.1 and opens every page in headless
Chromium, as the busiest customer and as an admin, twice each: the first visit (nothing cached
for that page yet) and the second (cached). The server's very first pages also import its
libraries, once per process: they are walked first, as the second-busiest customer, and
reported apart. A page's time runs from the click on its sidebar
link until its script run has finished and everything on it is drawn; the Overview's first
visit runs from the click on "Sign in".

Baselines, measured the same way: the sign-in page (static text only: what Streamlit costs
for any page) and plain DuckDB looking up the customer's rows in the published marts. The
budget is 1.5 s a page (issue 7). Prints JSON on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from dashboards.pages import ADMIN_PAGES, CUSTOMER_PAGES, PageSpec
from tests.support.chromium import (
    launch,
    new_context,
    new_page,
    open_page,
    settled,
    submit_key,
    title,
)
from tests.support.server import free_port
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.dashboards_server import start_dashboards
from tollgate.settings import TollgateSettings
from tollgate.warehouse.reader import PublishedMarts

BUDGET_SECONDS = 1.5
DEFAULT_DATA = Path("/tmp/tollgate-pipeline-bench/history-30d")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_data_set(data_dir: Path) -> None:
    if (data_dir / "marts").is_dir():
        return
    log(f"{data_dir} has no published marts: building it with benchmarks/pipeline.py --keep")
    subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("pipeline.py")),
            "--keep",
            "--data-dir",
            str(data_dir.parent),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def busiest_customers(marts: PublishedMarts) -> list[tuple[str, int]]:
    """The two customers with the most events in their current cycle, busiest first."""
    with marts.connect() as con:
        rows = con.execute(
            "select customer_id, sum(events)::bigint as events from fct_cycle_usage "
            "group by 1 order by 2 desc, 1 limit 2"
        ).fetchall()
    assert len(rows) == 2, "the data set has too little usage"
    return [(str(customer), int(events)) for customer, events in rows]


def billable_events(marts: PublishedMarts) -> int:
    with marts.connect() as con:
        row = con.execute("select sum(events)::bigint from mart_daily_usage").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def plain_duckdb_lookup(marts: PublishedMarts, customer_id: str) -> float:
    """Seconds for DuckDB alone to read one customer's rows of three marts (best of 5)."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        with marts.connect() as con:
            for table in ("fct_cycle_usage", "fct_invoices", "fct_limit_status"):
                con.execute(
                    f"select * from {table} where customer_id = $c",  # noqa: S608 (our names)
                    {"c": customer_id},
                ).fetchall()
        best = min(best, time.perf_counter() - began)
    return best


def timed_visit(page: Page, spec: PageSpec) -> float:
    began = time.perf_counter()
    open_page(page, spec.label)
    return time.perf_counter() - began


def sign_in_floor(page: Page, url: str) -> float:
    """The static sign-in page, loaded twice; the second (browser cache warm) is the floor."""
    seconds = []
    for _ in range(2):
        began = time.perf_counter()
        page.goto(url)
        title(page, "Tollgate").wait_for()
        settled(page)
        seconds.append(time.perf_counter() - began)
    return seconds[-1]


def walk(
    page: Page, url: str, key: str, pages: tuple[PageSpec, ...]
) -> dict[str, dict[str, float]]:
    """First and second visit of each page, in navigation order, after signing in."""
    page.goto(url)
    title(page, "Tollgate").wait_for()
    settled(page)
    began = time.perf_counter()
    submit_key(page, key)
    times: dict[str, dict[str, float]] = {}
    if pages[0].label == "Overview":
        # Signing in draws the Overview: that is its first visit.
        times["Overview"] = {"first_visit_s": time.perf_counter() - began}
        rest = pages[1:]
    else:
        rest = pages
    for spec in rest:
        times[spec.label] = {"first_visit_s": timed_visit(page, spec)}
    for spec in pages:
        times[spec.label]["second_visit_s"] = timed_visit(page, spec)
    return {label: {k: round(v, 3) for k, v in t.items()} for label, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    data_dir: Path = args.data_dir
    ensure_data_set(data_dir)
    settings = TollgateSettings(data_dir=data_dir)
    marts = PublishedMarts(settings.marts_dir)
    (customer_id, events), (warm_up_id, _) = busiest_customers(marts)
    manifest = marts.manifest()
    engine = open_control_database(settings.control_database_url)
    store = KeyStore(engine, actor="benchmark")
    customer_key = store.create("bench-dashboards-customer", [Scope.READ], customer_id=customer_id)
    warm_up_key = store.create("bench-dashboards-warm-up", [Scope.READ], customer_id=warm_up_id)
    admin_key = store.create("bench-dashboards-admin", [Scope.ADMIN])
    engine.dispose()
    log(f"customer {customer_id} ({events:,} events this cycle); starting the dashboards")

    server = start_dashboards(
        settings, port=free_port(), log=Path(tempfile.gettempdir()) / "bench-dashboards.log"
    )
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                # One browser context throughout, as one person's browser: Streamlit's
                # scripts (Vega's among them) are fetched and compiled once, not per walk.
                context = new_context(browser)
                floor = sign_in_floor(new_page(context), server.url)
                # A new server process imports its libraries on its first pages (once): walk
                # them as another customer first, so the figures below are what a customer's
                # first visit costs on a running server (that customer's data still uncached).
                log("server start-up: first pages, as another customer ...")
                start_up = walk(new_page(context), server.url, warm_up_key.token, CUSTOMER_PAGES)
                log("customer pages ...")
                customer = walk(new_page(context), server.url, customer_key.token, CUSTOMER_PAGES)
                log("admin pages ...")
                admin = walk(new_page(context), server.url, admin_key.token, ADMIN_PAGES)
            finally:
                browser.close()
    finally:
        server.stop()
        # The keys were for this run only.
        engine = open_control_database(settings.control_database_url)
        for key in (customer_key, warm_up_key, admin_key):
            KeyStore(engine, actor="benchmark").revoke(key.key.key_id)
        engine.dispose()

    lookup = plain_duckdb_lookup(marts, customer_id)
    every = [t for group in (customer, admin) for t in group.values()]
    slowest = max(max(t.values()) for t in every)
    report: dict[str, Any] = {
        "data_dir": str(data_dir),
        "billable_events_in_marts": billable_events(marts),
        "marts_rows": manifest["tables"],
        "customer": {"id": customer_id, "events_this_cycle": events},
        "cpus": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "budget_s": BUDGET_SECONDS,
        "baseline_sign_in_page_s": round(floor, 3),
        "baseline_plain_duckdb_customer_lookup_s": round(lookup, 4),
        "server_start_up_pages_as_another_customer": start_up,
        "customer_pages": customer,
        "admin_pages": admin,
        "slowest_page_s": round(slowest, 3),
        "slowest_to_budget": round(slowest / BUDGET_SECONDS, 2),
        "slowest_to_sign_in_page": round(slowest / floor, 1),
        "all_within_budget": slowest <= BUDGET_SECONDS,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
