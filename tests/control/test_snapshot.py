"""Snapshots for the pipeline: one consistent state, whatever writers commit meanwhile."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from sqlalchemy import Engine, event

from tollgate.billing.catalogue import Catalogue
from tollgate.control.api_keys import KeyStore, Scope
from tollgate.control.service import ControlService
from tollgate.control.snapshot import (
    CURRENT,
    current_snapshot,
    export_snapshot,
    exported_tables,
    snapshot_if_changed,
)


def _rows(snapshot: Path, table: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(snapshot / f"{table}.parquet").to_pylist()
    return rows


def test_snapshot_has_every_table_typed_and_current_points_at_it(
    service: ControlService, engine: Engine, tmp_path: Path
) -> None:
    service.create_customer("cus_1", name="Acme", timezone="Asia/Tokyo")
    service.subscribe("cus_1", "starter")
    service.set_limit("cus_1", "storage", "2.5")
    snapshot = export_snapshot(engine, tmp_path / "snapshots")

    assert current_snapshot(tmp_path / "snapshots") == snapshot
    assert (tmp_path / "snapshots" / CURRENT).read_text().strip() == snapshot.name
    assert {p.stem for p in snapshot.glob("*.parquet")} == {t.name for t in exported_tables()}
    [customer] = _rows(snapshot, "customers")
    assert customer["created_at"] == service.get_customer("cus_1").created_at
    [limit] = _rows(snapshot, "limit_overrides")
    assert str(limit["value"].normalize()) == "2.5"
    audit = _rows(snapshot, "audit_log")
    assert [a["action"] for a in audit] == ["customer.create", "subscription.create", "limits.set"]
    assert json.loads(audit[0]["after"])["timezone"] == "Asia/Tokyo"
    manifest = json.loads((snapshot / "_manifest.json").read_text())
    assert manifest["rows"]["audit_log"] == 3
    assert not [p for p in (tmp_path / "snapshots").iterdir() if p.name.startswith(".")]


def test_snapshots_carry_no_key_hashes(
    service: ControlService, engine: Engine, tmp_path: Path
) -> None:
    KeyStore(engine).create("billing", [Scope.INGEST])
    snapshot = export_snapshot(engine, tmp_path / "snapshots")
    [key] = _rows(snapshot, "api_keys")
    assert key["name"] == "billing"
    assert "token_sha256" not in key


def test_a_new_snapshot_leaves_the_previous_one_untouched(
    service: ControlService, engine: Engine, tmp_path: Path
) -> None:
    service.create_customer("cus_1", name="A")
    first = export_snapshot(engine, tmp_path)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    service.create_customer("cus_2", name="B")
    second = export_snapshot(engine, tmp_path)
    assert second != first
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before
    assert current_snapshot(tmp_path) == second
    assert len(_rows(second, "customers")) == 2


def test_a_write_committed_mid_export_is_in_no_table_of_the_snapshot(
    service: ControlService, engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    """A writer commits after the export has read its first table and before the rest."""
    service.create_customer("cus_1", name="A")
    writer = ControlService(engine, catalogue, actor="writer")
    committed = threading.Event()
    reads: list[str] = []

    def after_read(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        reads.append(statement)
        if len(reads) == 2 and not committed.is_set():  # revision, then the first table

            def commit_elsewhere() -> None:
                writer.create_customer("cus_2", name="B")
                committed.set()

            thread = threading.Thread(target=commit_elsewhere)
            thread.start()
            thread.join(timeout=30)

    event.listen(engine, "after_cursor_execute", after_read)
    try:
        snapshot = export_snapshot(engine, tmp_path)
    finally:
        event.remove(engine, "after_cursor_execute", after_read)
    assert committed.is_set(), "the writer must commit while the export is reading"
    assert [c["id"] for c in _rows(snapshot, "customers")] == ["cus_1"]
    assert [a["entity_id"] for a in _rows(snapshot, "audit_log")] == ["cus_1"]
    assert len(service.list_customers()) == 2


def test_snapshots_taken_under_a_busy_writer_are_each_consistent(
    engine: Engine, catalogue: Catalogue, tmp_path: Path
) -> None:
    writer = ControlService(engine, catalogue, actor="writer")
    stop = threading.Event()
    written: list[int] = []
    failures: list[BaseException] = []

    def write() -> None:
        n = 0
        try:
            while not stop.is_set():
                n += 1
                # Two rows per transaction: a customer and its audit entry.
                writer.create_customer(f"cus_{n:06d}", name=f"C{n}")
                written.append(n)
        except BaseException as error:  # surfaced below
            failures.append(error)

    thread = threading.Thread(target=write)
    thread.start()
    snapshots: list[Path] = []
    try:
        deadline = time.monotonic() + 60
        while len(snapshots) < 5:
            assert time.monotonic() < deadline, "the writer never got going"
            if len(written) > 5 * (len(snapshots) + 1):
                snapshots.append(export_snapshot(engine, tmp_path / f"s{len(snapshots)}"))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, failures
    counts = []
    for snapshot in snapshots:
        customers = [c["id"] for c in _rows(snapshot, "customers")]
        audited = [a["entity_id"] for a in _rows(snapshot, "audit_log")]
        assert customers == audited, "every customer with its audit row, no more, no less"
        assert customers == [f"cus_{n:06d}" for n in range(1, len(customers) + 1)]
        counts.append(len(customers))
    assert counts == sorted(counts)
    assert counts[-1] > counts[0], "the writer committed between snapshots"


def test_export_failure_leaves_current_and_no_partial_directory(
    service: ControlService, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.create_customer("cus_1", name="A")
    snaps = tmp_path / "snaps"
    good = export_snapshot(engine, snaps)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        export_snapshot(engine, snaps)
    assert current_snapshot(snaps) == good
    assert sorted(p.name for p in snaps.iterdir()) == [CURRENT, good.name]


def test_an_unchanged_database_keeps_its_snapshot_and_any_change_takes_a_new_one(
    service: ControlService, engine: Engine, tmp_path: Path
) -> None:
    service.create_customer("cus_1", name="Acme")
    first, exported = snapshot_if_changed(engine, tmp_path / "snapshots")
    assert exported
    again, exported = snapshot_if_changed(engine, tmp_path / "snapshots")
    assert (again, exported) == (first, False)

    service.set_limit("cus_1", "storage", "3")
    service.mark_notification_read("cus_1", "ntf_0123456789abcdef01234567")
    changed, exported = snapshot_if_changed(engine, tmp_path / "snapshots")
    assert exported
    assert changed != first
    [limit] = _rows(changed, "limit_overrides")
    assert str(limit["value"].normalize()) == "3"
