"""The example service as a real process, metering into a real Tollgate server."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.support.parquet import stored_rows
from tests.support.server import ServerKeys, TollgateServer, free_port, wait_until
from tests.tollgate.test_metering import billing_view
from tollgate.client import TollgateClient
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService

pytestmark = pytest.mark.slow  # every test here starts a real Tollgate server

REPO = Path(__file__).resolve().parents[2]
ALICE = {"X-Customer-Id": "cus_alice"}
BOB = {"X-Customer-Id": "cus_bob"}


class Service:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the example exited early:\n{self.log.read_text()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a deployment would: uvicorn shuts down, then the client flushes."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


@pytest.fixture
def service(server: TollgateServer, keys: ServerKeys, tmp_path: Path) -> Iterator[Service]:
    port = free_port()
    log = tmp_path / "example.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "examples.metered_service", "--port", str(port)],
            cwd=REPO,
            # Configured through the environment, the way a deployment would.
            env={"TOLLGATE_URL": server.url, "TOLLGATE_API_KEY": keys.ingest, "PATH": ""},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    running = Service(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_until(running.ready, timeout=60, what="the example service to be ready")
        yield running
    finally:
        running.stop()


def test_the_example_service_bills_its_customers(server: TollgateServer, service: Service) -> None:
    text = "Tollgate turns raw usage events into invoices. " * 8  # 376 characters
    with httpx.Client(base_url=service.url, timeout=10) as http:
        assert http.post("/notes", json={"text": "buy milk"}, headers=ALICE).status_code == 201
        assert http.get("/notes", headers=ALICE).json() == [{"id": 1, "text": "buy milk"}]
        summary = http.post("/summaries", json={"text": text}, headers=ALICE).json()
        assert http.put("/files/report.pdf", content=b"%PDF" * 256, headers=BOB).is_success
        assert http.get("/notes").status_code == 422  # no customer: refused, not billed
        assert http.get("/healthz").is_success  # not metered

    # Stopping the example flushes its client; stopping Tollgate publishes the Parquet files.
    service.stop()
    # uvicorn ends by re-raising SIGTERM, so the process reports death by that signal.
    assert service.process.returncode in (0, -signal.SIGTERM), service.log.read_text()
    server.stop()
    rows = stored_rows(server.settings.events_dir)

    billed = billing_view(rows)
    assert billed == [
        ("cus_alice", "ai_tokens", "ai_tokens", Decimal(summary["completion_tokens"]), "token",
         {"model": "gpt-4o-mini", "token_type": "completion"}),
        ("cus_alice", "ai_tokens", "ai_tokens", Decimal(94), "token",
         {"model": "gpt-4o-mini", "token_type": "prompt"}),
        ("cus_alice", "api_call", "notes.create", Decimal(1), "call",
         {"method": "POST", "route": "/notes"}),
        ("cus_alice", "api_call", "notes.list", Decimal(1), "call",
         {"method": "GET", "route": "/notes"}),
        ("cus_bob", "storage", "storage", Decimal(1024), "byte", {"operation": "upload"}),
    ]  # fmt: skip
    assert {row["source"] for row in rows} == {"metered-service"}


def test_summaries_are_refused_past_the_free_plans_ai_token_limit(
    server: TollgateServer, keys: ServerKeys, service: Service
) -> None:
    engine = open_control_database(server.settings.control_database_url)
    control = ControlService(engine, server.settings.catalogue(), actor="tests")
    control.create_customer("cus_free", name="Free customer")
    control.subscribe("cus_free", "free", at=datetime.now(UTC) - timedelta(days=1))
    engine.dispose()
    free = {"X-Customer-Id": "cus_free"}
    text = {"text": "Summarise this, please."}

    with (
        TollgateClient(server.url, keys.read) as tollgate,
        httpx.Client(base_url=service.url, timeout=10) as http,
    ):
        wait_until(
            lambda: tollgate.check_limit("cus_free", "ai_tokens").limit == 10_000,
            timeout=10,
            what="Tollgate to see the free plan's ai_tokens limit",
        )
        summary = http.post("/summaries", json=text, headers=free)
        assert summary.status_code == 200
        used = summary.json()["prompt_tokens"] + summary.json()["completion_tokens"]
        wait_until(
            lambda: tollgate.check_limit("cus_free", "ai_tokens").used == used,
            timeout=30,
            what="the example to send the summary's tokens",
        )

        # Another service of this customer uses up the rest of the month's AI tokens.
        event = {
            "event_id": uuid.uuid4().hex,
            "customer_id": "cus_free",
            "event_type": "ai_tokens",
            "feature": "chat",
            "quantity": str(10_000 - used),
            "unit": "token",
            "timestamp": datetime.now(UTC).isoformat(),
        }
        ingest = httpx.post(
            f"{server.url}/v1/events",
            json=[event],
            headers={"Authorization": f"Bearer {keys.ingest}"},
            timeout=10,
        )
        assert ingest.json()["accepted"] == 1, ingest.text

        refused = http.post("/summaries", json=text, headers=free)
        # Other endpoints, and other customers, are not limited by it.
        assert http.post("/notes", json={"text": "still works"}, headers=free).status_code == 201
        assert http.post("/summaries", json=text, headers=ALICE).status_code == 200

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    detail = refused.json()["detail"]
    assert (detail["feature"], detail["limit"], detail["used"]) == ("ai_tokens", "10000", "10000")
    assert detail["resets_at"]
