"""What lands in Parquet: the same row whichever wire form carried the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx

from tests.support.parquet import stored_rows
from tests.support.server import TollgateServer


def _post(server: TollgateServer, key: str, body: object, content_type: str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/events",
        json=body,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


def test_native_and_cloudevents_store_identical_rows(tmp_path: Path) -> None:
    moment = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=123456)
    native = [
        {
            "event_id": f"tok-{n}",
            "customer_id": "cus_rows",
            "event_type": "ai_tokens",
            "feature": "ai_tokens",
            "quantity": "0.002" if n == 0 else 1532,
            "unit": "token",
            "timestamp": moment.isoformat(),
            "properties": {"model": "gpt-4o-mini"},
            "source": "notes-service",
        }
        for n in range(3)
    ]
    cloudevents = [
        {
            "specversion": "1.0",
            "id": e["event_id"],
            "source": e["source"],
            "type": e["event_type"],
            "subject": e["customer_id"],
            "time": moment.isoformat(),
            "data": {k: e[k] for k in ("feature", "quantity", "unit", "properties")},
        }
        for e in native
    ]
    rows = []
    for name, body, content_type in (
        ("native", native, "application/json"),
        ("cloudevents", cloudevents, "application/cloudevents-batch+json"),
    ):
        server = TollgateServer(data_dir=tmp_path / name)
        server.data_dir.mkdir()
        server.start()
        key = server.create_keys().ingest
        assert _post(server, key, body, content_type).json()["accepted"] == 3
        server.stop()
        rows.append(stored_rows(server.settings.events_dir))

    def without_receipt_time(table: list[dict[str, object]]) -> list[dict[str, object]]:
        return [{k: v for k, v in row.items() if k != "received_at"} for row in table]

    assert without_receipt_time(rows[0]) == without_receipt_time(rows[1])
    first = rows[0][0]
    assert first["quantity"] == Decimal("0.002")
    assert first["timestamp"] == moment
    assert first["source"] == "notes-service"
    assert dict(first["properties"]) == {"model": "gpt-4o-mini"}  # type: ignore[call-overload]
