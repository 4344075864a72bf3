"""Notification delivery, each figure beside the baseline it costs.

1. Throughput: N notices for C customers, each with a webhook endpoint on one local receiver
   (uvicorn on 127.0.0.1, answering 204), taken up and delivered by the dispatcher (control
   plane on SQLite in a temporary directory: outbox, claim, attempt rows, outcome) with its
   default concurrency (32 in flight). Baseline: the very same signed bodies POSTed to the
   same receiver by httpx with the same concurrency and no bookkeeping. Ratio = what exactly
   once per channel costs per delivery.
2. Isolation: the same run with one more customer whose endpoint takes SLOW seconds to answer
   each request and has as many notices as all others together. Figure: how long the others'
   deliveries take with it present, over how long they take without it (1.0 = not delayed).

Prints JSON. Run: ``./dev python benchmarks/delivery.py`` (``--quick``: a short smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.identifiers import notification_id
from tollgate.control.database import open_control_database
from tollgate.control.deliveries import DeliveryLedger
from tollgate.control.service import ControlService
from tollgate.control.webhook_endpoints import WebhookEndpoints
from tollgate.delivery.dispatcher import Dispatcher
from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.notice import Notice
from tollgate.delivery.settings import DeliverySettings
from tollgate.delivery.signing import sign
from tollgate.delivery.sources import NoticeSources
from tollgate.warehouse.reader import PublishedMarts

SLOW = 2.0


class Receiver:
    """uvicorn on 127.0.0.1 (its own thread and loop): answers 204 at once, or after SLOW
    seconds on /slow; counts what it got."""

    def __init__(self) -> None:
        self.count = 0
        self.port = _free_port()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            if scope["path"].startswith("/slow"):
                await asyncio.sleep(SLOW)  # the slow endpoint itself, not a wait in the benchmark
            self.count += 1
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="error", backlog=2048
        )
        self.server = uvicorn.Server(config)
        threading.Thread(target=self.server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise SystemExit("the receiver did not start")
            time.sleep(0.01)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _notices(customer_id: str, count: int, now: datetime) -> list[Notice]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        Notice(
            notification_id=notification_id(customer_id, "limit_warning", f"f{n}", start, 75),
            customer_id=customer_id,
            type="limit_warning",
            severity="warning",
            title="API calls at 75% of the limit",
            message="API calls usage reached 75% of the hard limit of 100000 call.",
            feature="api_calls",
            threshold_percent=75,
            window_start=start,
            window_end=start + timedelta(days=30),
            created_at=now,
        )
        for n in range(count)
    ]


def dispatcher_run(
    receiver: Receiver, customers: int, per_customer: int, slow_notices: int
) -> dict[str, Any]:
    """Seconds until every fast customer's notices are delivered, through the dispatcher."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_control_database(f"sqlite:///{Path(tmp) / 'control.sqlite'}")
        control = ControlService(engine, default_catalogue(), actor="bench")
        endpoints = WebhookEndpoints(engine, actor="bench")
        ledger = DeliveryLedger(engine)
        now = datetime.now(UTC)
        notices: list[Notice] = []
        for c in range(customers):
            customer = f"cus_{c:05d}"
            control.create_customer(customer, name=customer)
            endpoints.create(customer, receiver.url(f"/fast/{customer}"))
            notices.extend(_notices(customer, per_customer, now))
        if slow_notices:
            control.create_customer("cus_slow", name="slow")
            endpoints.create("cus_slow", receiver.url("/slow"))
            notices.extend(_notices("cus_slow", slow_notices, now))
        settings = DeliverySettings(webhook_timeout_seconds=SLOW * 5, allow_private_endpoints=True)
        sources = NoticeSources(ledger, PublishedMarts(Path(tmp) / "marts"), max_age=timedelta(1))
        dispatcher = Dispatcher(
            ledger, sources, control.notification_preferences, settings, SmtpSettings(host=None)
        )
        fast_total = customers * per_customer
        start = receiver.count

        async def deliver() -> tuple[float, float, float]:
            began = time.perf_counter()
            await asyncio.to_thread(
                ledger.take_up,
                notices,
                channels={"webhook"},
                preferences=control.notification_preferences,
                max_age=timedelta(days=1),
            )
            taken_up = time.perf_counter() - began
            while _fast_delivered(ledger) < fast_total:
                if await dispatcher.tick() == 0:
                    await asyncio.sleep(0.005)  # everything claimable is in flight
            elapsed = time.perf_counter() - began
            await dispatcher.close()
            return elapsed - taken_up, taken_up, elapsed

        sending, taking_up, total = asyncio.run(deliver())
        engine.dispose()
        return {
            "fast_deliveries": fast_total,
            "slow_endpoint_deliveries": slow_notices,
            "seconds_to_deliver_fast": round(total, 3),
            "of_which_take_up_seconds": round(taking_up, 3),
            "deliveries_per_second": round(fast_total / sending, 1),
            "received": receiver.count - start,
        }


def _fast_delivered(ledger: DeliveryLedger) -> int:
    from sqlalchemy import func, select

    from tollgate.control.database import read_transaction
    from tollgate.control.schema import notification_deliveries as d

    with read_transaction(ledger.engine) as db:
        return int(
            db.execute(
                select(func.count()).where(d.c.status == "delivered", d.c.customer_id != "cus_slow")
            ).scalar_one()
        )


def baseline_run(receiver: Receiver, customers: int, per_customer: int) -> dict[str, Any]:
    """The same bodies, signed, POSTed by httpx, 32 at once, nothing recorded."""
    now = datetime.now(UTC)
    bodies = [
        (receiver.url(f"/fast/cus_{c:05d}"), json.dumps(n.to_json()).encode())
        for c in range(customers)
        for n in _notices(f"cus_{c:05d}", per_customer, now)
    ]

    async def post_all() -> float:
        queue = list(bodies)
        began = time.perf_counter()
        async with httpx.AsyncClient() as client:

            async def worker() -> None:
                while queue:
                    url, body = queue.pop()
                    headers = {"Tollgate-Signature": sign("whsec_x", int(time.time()), body)}
                    response = await client.post(url, content=body, headers=headers)
                    response.raise_for_status()

            await asyncio.gather(*(worker() for _ in range(32)))
        return time.perf_counter() - began

    seconds = asyncio.run(post_all())
    return {
        "posts": len(bodies),
        "seconds": round(seconds, 3),
        "posts_per_second": round(len(bodies) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    customers, per_customer = (20, 10) if args.quick else (200, 10)
    rounds = 1 if args.quick else args.rounds
    receiver = Receiver()
    results: dict[str, Any] = {"customers": customers, "notices_per_customer": per_customer}
    throughput, baseline, isolated, with_slow = [], [], [], []
    for _ in range(rounds):
        baseline.append(baseline_run(receiver, customers, per_customer))
        throughput.append(dispatcher_run(receiver, customers, per_customer, 0))
        isolated.append(throughput[-1]["seconds_to_deliver_fast"])
        with_slow.append(
            dispatcher_run(receiver, customers, per_customer, customers * per_customer)
        )
    rate = statistics.median(r["deliveries_per_second"] for r in throughput)
    base = statistics.median(r["posts_per_second"] for r in baseline)
    results["throughput"] = {
        "dispatcher_deliveries_per_second": rate,
        "baseline_httpx_posts_per_second": base,
        "dispatcher_over_baseline": round(rate / base, 3),
        "rounds": {"dispatcher": throughput, "baseline": baseline},
    }
    alone = statistics.median(isolated)
    slowed = statistics.median(r["seconds_to_deliver_fast"] for r in with_slow)
    results["isolation"] = {
        "slow_endpoint_answers_after_seconds": SLOW,
        "others_seconds_without_slow_endpoint": alone,
        "others_seconds_with_slow_endpoint": slowed,
        "with_over_without": round(slowed / alone, 3),
        "rounds": with_slow,
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
