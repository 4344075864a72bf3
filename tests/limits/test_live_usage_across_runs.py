"""Live usage stays exact across pipeline runs and server crashes (real server process)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from pipelines.runner import run_pipeline
from tests.support.server import TollgateServer, wait_until
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService
from tollgate.settings import TollgateSettings
from tollgate.warehouse.reader import PublishedMarts

pytestmark = pytest.mark.slow


class Service:
    def __init__(self, data_dir: Path) -> None:
        self.server = TollgateServer(data_dir)
        engine = open_control_database(self.server.settings.control_database_url)
        self.control = ControlService(engine, self.server.settings.catalogue(), actor="tests")
        self.key = KeyStore(engine).create("tests", [Scope.INGEST]).token

    def post(self, customer_id: str, *quantities: int) -> httpx.Response:
        now = datetime.now(UTC).isoformat()
        events = [
            {
                "event_id": uuid.uuid4().hex,
                "customer_id": customer_id,
                "event_type": "api_call",
                "feature": "tests",
                "quantity": str(q),
                "unit": "call",
                "timestamp": now,
            }
            for q in quantities
        ]
        return httpx.post(
            f"{self.server.url}/v1/events", json=events, headers=self._auth(), timeout=10
        )

    def check(self, customer_id: str) -> Any:
        response = httpx.post(
            f"{self.server.url}/v1/limits/check",
            json={"customer_id": customer_id, "feature": "api_calls"},
            headers=self._auth(),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "data")
    running.control.create_customer("cus_live", name="Live")
    running.control.subscribe("cus_live", "free", at=datetime.now(UTC) - timedelta(days=3))
    running.server.start()
    yield running
    running.server.stop()


def test_a_hard_limit_survives_a_crash_before_compaction(service: Service) -> None:
    assert service.post("cus_live", 600, 400).status_code == 200

    service.server.kill()  # SIGKILL: the events are in the WAL only
    service.server.start()

    assert service.check("cus_live")["used"] == "1000"
    refused = service.post("cus_live", 1)
    assert refused.status_code == 422
    assert refused.json()["rejected"][0]["code"] == "limit_exceeded"


def test_a_pipeline_run_becomes_the_base_without_counting_anything_twice(
    service: Service,
) -> None:
    data_dir = service.server.data_dir
    assert service.post("cus_live", 300, 300).status_code == 200
    assert service.post("cus_live", 160).status_code == 200  # 760: the 75 % warning
    wait_until(lambda: _stored_rows(data_dir) == 3, what="the first events to be compacted")
    as_of = datetime.now(UTC).replace(microsecond=0)
    wait_until(lambda: datetime.now(UTC) > as_of + timedelta(seconds=1), what="the next second")
    assert service.post("cus_live", 40).status_code == 200  # after as_of: live only

    run_pipeline(TollgateSettings(data_dir=data_dir), as_of, close=False)
    wait_until(
        lambda: service.check("cus_live")["usage_as_of"] is not None,
        timeout=10,
        what="the server to take the publication as its base",
    )

    check = service.check("cus_live")
    assert check["used"] == "800"
    assert datetime.fromisoformat(check["usage_as_of"]) == as_of
    with PublishedMarts(data_dir / "marts").connect() as marts:
        published = marts.sql(
            "select used from fct_limit_status where customer_id = 'cus_live' "
            "and feature = 'api_calls'"
        ).fetchall()
        pipeline_ids = {
            row[0]
            for row in marts.sql(
                "select notification_id from fct_notifications where customer_id = 'cus_live'"
            ).fetchall()
        }
    assert published[0][0] == 760  # the run counted what was stored by as_of, not the 40
    raised = {n.notification_id for n in service.control.raised_notifications("cus_live")}
    assert raised == pipeline_ids  # the real-time notice and the pipeline's are one

    # A restart rebuilds the same figure from the publication plus what it lacks.
    service.server.kill()
    service.server.start()
    assert service.check("cus_live")["used"] == "800"
    assert service.post("cus_live", 200).status_code == 200
    assert service.post("cus_live", 1).status_code == 422


def _stored_rows(data_dir: Path) -> int:
    return sum(
        pq.ParquetFile(path).metadata.num_rows
        for path in data_dir.glob("events/date=*/part-*.parquet")
    )
