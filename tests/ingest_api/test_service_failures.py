"""When the disk fails, nothing is acknowledged and nothing is wrongly called a duplicate."""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
from pathlib import Path

import msgspec
import pytest

from ingest_api.events.errors import RequestError
from ingest_api.service import IngestService
from ingest_api.settings import IngestSettings
from tests.support.parquet import stored_keys

EVENT = msgspec.json.encode(
    {
        "event_id": "e-disk",
        "customer_id": "cus_disk",
        "event_type": "api_call",
        "feature": "api_calls",
        "quantity": "1",
    }
)


def test_a_failed_fsync_is_a_503_and_the_event_stays_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_sync(fd: int) -> None:
        raise OSError(errno.EIO, "simulated disk failure")

    async def scenario() -> None:
        service = IngestService(IngestSettings(data_dir=tmp_path))
        await service.start()
        try:
            assert (await service.ingest(EVENT, "application/json")).accepted == 1
            monkeypatch.setattr(os, "fdatasync", broken_sync)
            monkeypatch.setattr(os, "fsync", broken_sync)
            again = EVENT.replace(b"e-disk", b"e-disk-2")
            with pytest.raises(RequestError) as failed:
                await service.ingest(again, "application/json")
            assert failed.value.status == 503
            assert not service.ready
            # Not acknowledged, so not remembered: a retry elsewhere must not be a "duplicate".
            assert (await service.status("e-disk-2", "cus_disk")).status == "unknown"
            assert (await service.status("e-disk", "cus_disk")).status == "accepted"
            with pytest.raises(RequestError) as refused:
                await service.ingest(again, "application/json")
            assert refused.value.status == 503
        finally:
            monkeypatch.undo()
            await service.stop()

    asyncio.run(scenario())


def test_a_lost_wal_directory_never_reuses_a_published_segment_number(tmp_path: Path) -> None:
    """Segment N is published as part-N; a new segment N would be dropped as "already there"."""

    async def run(event_id: bytes) -> None:
        service = IngestService(IngestSettings(data_dir=tmp_path))
        await service.start()
        try:
            body = EVENT.replace(b"e-disk", event_id)
            assert (await service.ingest(body, "application/json")).accepted == 1
        finally:
            await service.stop()

    asyncio.run(run(b"first"))
    shutil.rmtree(tmp_path / "wal")  # e.g. the WAL moved to another disk, last-seq and all
    asyncio.run(run(b"second"))

    assert sorted(e for _, e in stored_keys(tmp_path / "events")) == ["first", "second"]
