"""The dashboard skeleton renders what the ingest API published."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.queries import events_per_day
from ingest_api.events.model import UsageEvent
from ingest_api.storage.compactor import compact_segment
from ingest_api.storage.rows import encode_record, to_micros
from ingest_api.storage.wal import frame, segment_name
from tests.dashboards.conftest import signed_in
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.database import open_control_database


def _publish(data_dir: Path, moments: list[datetime], feature: str) -> None:
    events = [
        UsageEvent(f"e{n}-{feature}", "cus_1", "api_call", feature, Decimal(1), "call", m, {})
        for n, m in enumerate(moments)
    ]
    wal = data_dir / "wal"
    wal.mkdir(parents=True, exist_ok=True)
    segment = wal / segment_name(len(list((data_dir / "events").glob("**/*.parquet"))) + 1)
    segment.write_bytes(frame(encode_record(events, to_micros(moments[0]))))
    compact_segment(segment, data_dir / "events")


def test_events_per_day_counts_published_events(tmp_path: Path) -> None:
    day1, day2 = datetime(2026, 11, 1, 9, tzinfo=UTC), datetime(2026, 11, 2, 23, tzinfo=UTC)
    _publish(tmp_path, [day1, day1, day2], "api_calls")
    frame_ = events_per_day(tmp_path / "events")
    assert frame_.rows() == [(day1.date(), "api_calls", 2), (day2.date(), "api_calls", 1)]


def test_page_renders_with_and_without_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOLLGATE_DATA_DIR", str(tmp_path))
    engine = open_control_database(f"sqlite:///{tmp_path / 'control.sqlite'}")
    admin = KeyStore(engine).create("admin", [Scope.ADMIN]).token
    engine.dispose()
    empty = _ingest_page(admin)
    assert "No events published yet" in empty.info[0].value

    _publish(tmp_path, [datetime.now(UTC)], "ai_tokens")
    loaded = _ingest_page(admin)
    assert not loaded.info


def _ingest_page(admin_key: str) -> AppTest:
    """The Ingest page, an operator's: signed in with an admin key."""
    app = signed_in(admin_key)
    app.switch_page("app_pages/ingest.py").run()
    assert not app.exception
    assert app.title[0].value == "Ingested events"
    return app
