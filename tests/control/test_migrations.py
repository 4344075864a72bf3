"""Migrations build the schema on an empty database, and opening a database again is harmless."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from tollgate.control.api_keys import KeyStore, hash_token
from tollgate.control.database import open_control_database
from tollgate.control.migrations import current_revision, head_revision, upgrade
from tollgate.control.schema import metadata
from tollgate.control.service import ControlService

from .conftest import Clock

TABLES = {
    "customers",
    "subscriptions",
    "subscription_plans",
    "plan_changes",
    "limit_overrides",
    "notification_reads",
    "api_keys",
    "audit_log",
    "notifications",
    "stripe_events",
    "stripe_objects",
    "invoice_payments",
    "notification_preferences",
}


def test_an_empty_database_gets_every_table_at_the_head_revision(engine: Engine) -> None:
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert current_revision(engine) == head_revision()


def test_the_migrated_schema_is_what_the_code_declares(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_keeps_data(
    engine: Engine, control_url: str, service: ControlService
) -> None:
    service.create_customer("cus_1", name="Acme")
    assert upgrade(engine) == head_revision()
    assert upgrade(control_url) == head_revision()
    again = open_control_database(control_url)
    try:
        assert [
            c.id for c in ControlService(again, service.catalogue, actor="x").list_customers()
        ] == ["cus_1"]
    finally:
        again.dispose()


def test_times_come_back_aware_utc_and_exact(engine: Engine, service: ControlService) -> None:
    berlin_evening = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    clocked = ControlService(engine, service.catalogue, actor="t", clock=Clock(berlin_evening))
    created = clocked.create_customer("cus_t", name="T")
    stored = service.get_customer("cus_t")
    assert stored.created_at == berlin_evening == created.created_at
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at.hour == 23  # 01:30 at +02:00 is 23:30 UTC the day before


def test_quantities_come_back_exact(service: ControlService) -> None:
    service.create_customer("cus_q", name="Q")
    tiny = service.set_limit("cus_q", "storage", Decimal("0.000000001"))
    huge = service.set_limit("cus_q", "api_calls", Decimal("12345678901234567890.5"))
    stored = {o.feature: o.value for o in service.limit_overrides("cus_q")}
    assert stored == {
        "storage": Decimal("0.000000001"),
        "api_calls": Decimal("12345678901234567890.5"),
    }
    assert tiny.value == stored["storage"]
    assert huge.value == stored["api_calls"]


def test_keys_of_a_data_directory_from_before_migrations_keep_working(tmp_path: Path) -> None:
    path = tmp_path / "control.sqlite"
    legacy = sqlite3.connect(path)
    legacy.execute(
        "create table api_keys (key_id text primary key, name text not null, "
        "token_sha256 text not null unique, scopes text not null, created_at text not null, "
        "revoked_at text)"
    )
    legacy.execute(
        "insert into api_keys values ('abcd1234', 'old', ?, 'ingest,read', "
        "'2026-10-01T12:00:00+00:00', null)",
        (hash_token("tg_abcd1234_secret"),),
    )
    legacy.commit()
    legacy.close()

    engine = open_control_database(f"sqlite:///{path}")
    try:
        keys = KeyStore(engine).active_by_hash()
        assert keys[hash_token("tg_abcd1234_secret")].name == "old"
        assert keys[hash_token("tg_abcd1234_secret")].created_at == "2026-10-01T12:00:00+00:00"
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()
