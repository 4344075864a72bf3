"""A running Tollgate app, a control plane on SQLite or PostgreSQL, and a customer on a plan."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ingest_api.app import create_asgi
from ingest_api.settings import IngestSettings
from tests.control.conftest import _postgres_url
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database
from tollgate.control.service import ControlService


@pytest.fixture(params=["sqlite", "postgresql"])
def limits_control_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'control.sqlite'}"
    else:
        yield from _postgres_url()


@dataclass
class LiveApp:
    settings: IngestSettings
    control: ControlService
    http: TestClient
    ingest_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ingest_key}"}

    def post_usage(
        self, customer_id: str, *quantities: int, event_type: str = "api_call", unit: str = "call"
    ) -> Any:
        now = datetime.now(UTC)
        events = [
            {
                "event_id": uuid.uuid4().hex,
                "customer_id": customer_id,
                "event_type": event_type,
                "feature": "tests",
                "quantity": str(quantity),
                "unit": unit,
                "timestamp": now.isoformat(),
            }
            for quantity in quantities
        ]
        return self.http.post("/v1/events", json=events, headers=self.headers)

    def check(self, customer_id: str, feature: str = "api_calls", quantity: int = 1) -> Any:
        response = self.http.post(
            "/v1/limits/check",
            json={"customer_id": customer_id, "feature": feature, "quantity": quantity},
            headers=self.headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def subscribe(self, customer_id: str, plan: str) -> None:
        self.control.create_customer(customer_id, name=customer_id)
        self.control.subscribe(customer_id, plan, at=datetime.now(UTC) - timedelta(days=3))


def start_live_app(data_dir: Path, control_url: str) -> tuple[IngestSettings, TestClient]:
    settings = IngestSettings(data_dir=data_dir, control_url=control_url)
    return settings, TestClient(create_asgi(settings))


@pytest.fixture
def live_app(tmp_path: Path, limits_control_url: str) -> Iterator[LiveApp]:
    settings, client = start_live_app(tmp_path / "data", limits_control_url)
    engine = open_control_database(settings.control_database_url)
    control = ControlService(engine, settings.catalogue(), actor="tests")
    key = KeyStore(engine).create("tests-ingest", [Scope.INGEST]).token
    with client:
        yield LiveApp(settings, control, client, key)
    engine.dispose()
