"""API keys, stored hashed in the control database.

A key looks like ``tg_<key id>_<secret>``. Only its SHA-256 is stored, so a leaked database does
not leak usable keys; the key id lets operators list and revoke keys without seeing them.
Creating and revoking a key writes an audit row in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from tollgate.control import audit
from tollgate.control.database import read_transaction, sqlite_path, write_transaction
from tollgate.control.errors import InvalidValueError, UnknownCustomerError
from tollgate.control.schema import api_keys, customers

log = logging.getLogger(__name__)

# How stale a server's view of the keys may be on PostgreSQL, which has no cheap local
# change signal: a revoked key is refused within this many seconds.
POSTGRES_RECHECK_SECONDS = 1.0


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: str  # ISO 8601, UTC, to the second
    revoked_at: str | None
    # A customer's own key acts for that customer only; None: a service or admin key.
    customer_id: str | None = None

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes

    def may_act_for(self, customer_id: str) -> bool:
        """Whether this key may read or change ``customer_id``'s billing."""
        return self.customer_id is None or self.customer_id == customer_id


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    token: str  # shown once, never stored


class UnknownKeyError(LookupError):
    pass


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    def __init__(
        self,
        engine: Engine,
        *,
        actor: str = "system",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._actor = actor
        self._monotonic = monotonic
        self._sqlite_path = sqlite_path(engine)
        self._watcher: sqlite3.Connection | None = None
        self._checked_at: float | None = None
        self._last_version = b""

    def create(
        self, name: str, scopes: Iterable[Scope], *, customer_id: str | None = None
    ) -> CreatedKey:
        """A new key; with ``customer_id``, that customer's own key (``read`` scope only: it
        reads and manages that customer's billing and nothing else)."""
        scope_set = frozenset(scopes)
        if not scope_set:
            raise InvalidValueError("a key needs at least one scope: --scope ingest, read or admin")
        if customer_id is not None and scope_set != {Scope.READ}:
            raise InvalidValueError(
                "a customer's key has the read scope only (it acts for that customer alone); "
                "create service keys for ingest and admin keys without --customer"
            )
        key_id = secrets.token_hex(4)
        token = f"tg_{key_id}_{secrets.token_urlsafe(24)}"
        created_at = datetime.now(UTC).replace(microsecond=0)
        row = {
            "key_id": key_id,
            "name": name,
            "token_sha256": hash_token(token),
            "scopes": ",".join(sorted(scope_set)),
            "created_at": created_at,
            "revoked_at": None,
            "customer_id": customer_id,
        }
        with write_transaction(self._engine) as db:
            if customer_id is not None and not _customer_exists(db, customer_id):
                raise UnknownCustomerError(customer_id)
            db.execute(insert(api_keys).values(row))
            self._audit(db, "api_key.create", key_id, None, _public(row), created_at)
        return CreatedKey(
            ApiKey(key_id, name, scope_set, _iso(created_at), None, customer_id), token
        )

    def list(self) -> list[ApiKey]:
        with read_transaction(self._engine) as db:
            rows = db.execute(
                select(api_keys).order_by(api_keys.c.created_at, api_keys.c.key_id)
            ).mappings()
            return [_to_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        revoked_at = datetime.now(UTC).replace(microsecond=0)
        with write_transaction(self._engine) as db:
            row = db.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
            if row is None:
                raise UnknownKeyError(key_id)
            if row["revoked_at"] is not None:
                return _to_key(row)
            db.execute(
                update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=revoked_at)
            )
            after = {**row, "revoked_at": revoked_at}
            self._audit(db, "api_key.revoke", key_id, _public(row), _public(after), revoked_at)
        return _to_key(after)

    def version(self) -> bytes:
        """Changes whenever a write to the store is committed; cheap enough for every request.

        SQLite: ``PRAGMA data_version`` on a connection kept for this, a read of the WAL index
        in shared memory (a few microseconds). The header's file change counter, which a
        rollback-journal database bumps on every commit, is not updated per commit in WAL mode.
        Any committed write moves it, not only key changes: the reload that follows is cheap.
        PostgreSQL: the number of keys and of revoked keys (both only grow), re-read at most
        once per second, so a revocation takes effect there within a second; while the
        database is unreachable the keys last read stay in force.
        """
        if self._sqlite_path is not None:
            if self._watcher is None:
                self._watcher = sqlite3.connect(
                    os.fspath(self._sqlite_path), isolation_level=None, check_same_thread=False
                )
            row = self._watcher.execute("pragma data_version").fetchone()
            return str(row[0]).encode()
        now = self._monotonic()
        if self._checked_at is None or now - self._checked_at >= POSTGRES_RECHECK_SECONDS:
            self._checked_at = now
            try:
                with read_transaction(self._engine) as db:
                    keys, revoked = db.execute(
                        select(func.count(), func.count(api_keys.c.revoked_at))
                    ).one()
            except SQLAlchemyError:
                log.warning("API keys: control database unreachable; keeping the keys last read")
                return self._last_version
            self._last_version = f"{keys}:{revoked}".encode()
        return self._last_version

    def active_by_hash(self) -> dict[str, ApiKey]:
        with read_transaction(self._engine) as db:
            rows = db.execute(select(api_keys).where(api_keys.c.revoked_at.is_(None))).mappings()
            return {row["token_sha256"]: _to_key(row) for row in rows}

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def _audit(
        self,
        db: Connection,
        action: str,
        key_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        audit.record(
            db,
            at=at,
            actor=self._actor,
            action=action,
            entity="api_key",
            entity_id=key_id,
            before=before,
            after=after,
        )


def _public(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A key's row without its hash: the audit log must not help anyone guess keys."""
    return {k: v for k, v in row.items() if k != "token_sha256"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _to_key(row: Mapping[Any, Any]) -> ApiKey:
    return ApiKey(
        row["key_id"],
        row["name"],
        frozenset(Scope(s) for s in row["scopes"].split(",")),
        _iso(row["created_at"]),
        _iso(row["revoked_at"]) if row["revoked_at"] else None,
        row["customer_id"],
    )


def _customer_exists(db: Connection, customer_id: str) -> bool:
    found = db.execute(select(customers.c.id).where(customers.c.id == customer_id)).first()
    return found is not None
