"""API keys on the control database: the ingest API's key store, on both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from ingest_api.auth.authenticator import Authenticator
from ingest_api.events.errors import RequestError
from tollgate.control import audit
from tollgate.control.api_keys import KeyStore, Scope, UnknownKeyError, hash_token
from tollgate.control.database import read_transaction


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_create_list_revoke(engine: Engine) -> None:
    store = KeyStore(engine, actor="cli:ops")
    created = store.create("billing", [Scope.INGEST, Scope.READ])
    assert created.token.startswith(f"tg_{created.key.key_id}_")
    assert store.active_by_hash() == {hash_token(created.token): created.key}
    assert store.list() == [created.key]

    revoked = store.revoke(created.key.key_id)
    assert revoked.revoked_at is not None
    assert store.active_by_hash() == {}
    assert store.list() == [revoked]
    with pytest.raises(UnknownKeyError):
        store.revoke("nope")
    with pytest.raises(ValueError, match="at least one scope"):
        store.create("none", [])


def test_key_changes_are_audited_without_the_hash(engine: Engine) -> None:
    store = KeyStore(engine, actor="cli:ops")
    created = store.create("billing", [Scope.INGEST])
    store.revoke(created.key.key_id)
    with read_transaction(engine) as db:
        entries = audit.entries(db, entity="api_key")
    assert [(e.action, e.actor, e.entity_id) for e in entries] == [
        ("api_key.revoke", "cli:ops", created.key.key_id),
        ("api_key.create", "cli:ops", created.key.key_id),
    ]
    assert entries[0].before is not None
    assert entries[0].after is not None
    assert entries[0].before["revoked_at"] is None
    assert entries[0].after["revoked_at"] is not None
    assert all("token_sha256" not in (e.after or {}) for e in entries)


def test_version_moves_on_every_committed_change(engine: Engine) -> None:
    clock = FakeMonotonic()
    server_view = KeyStore(engine, monotonic=clock)
    operator = KeyStore(engine)
    first = server_view.version()
    created = operator.create("k", [Scope.INGEST])
    clock.now += 1.0  # PostgreSQL re-checks at most once a second; SQLite at once
    second = server_view.version()
    operator.revoke(created.key.key_id)
    clock.now += 1.0
    third = server_view.version()
    assert len({first, second, third}) == 3
    clock.now += 1.0
    assert server_view.version() == third  # nothing changed, nothing moves
    server_view.close()


def test_postgres_version_is_rechecked_at_most_once_a_second(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite sees every commit at once (PRAGMA data_version)")
    clock = FakeMonotonic()
    server_view = KeyStore(engine, monotonic=clock)
    before = server_view.version()
    KeyStore(engine).create("k", [Scope.INGEST])
    clock.now += 0.5
    assert server_view.version() == before
    clock.now += 0.5
    assert server_view.version() != before


def test_the_authenticator_sees_new_and_revoked_keys(engine: Engine) -> None:
    clock = FakeMonotonic()
    authenticator = Authenticator(KeyStore(engine, monotonic=clock))
    operator = KeyStore(engine)
    created = operator.create("svc", [Scope.INGEST])
    clock.now += 1.0
    assert authenticator.authenticate(f"Bearer {created.token}", Scope.INGEST) == created.key
    operator.revoke(created.key.key_id)
    clock.now += 1.0
    with pytest.raises(RequestError) as refused:
        authenticator.authenticate(f"Bearer {created.token}", Scope.INGEST)
    assert refused.value.status == 401
