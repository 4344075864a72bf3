"""API keys stored hashed in the control-plane SQLite file.

A key looks like ``tg_<key id>_<secret>``. Only its SHA-256 is stored, so a leaked database does
not leak usable keys; the key id lets operators list and revoke keys without seeing them.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[Scope]
    created_at: str
    revoked_at: str | None

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN in self.scopes or scope in self.scopes


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    token: str  # shown once, never stored


class UnknownKeyError(LookupError):
    pass


_SCHEMA = """
create table if not exists api_keys (
    key_id text primary key,
    name text not null,
    token_sha256 text not null unique,
    scopes text not null,
    created_at text not null,
    revoked_at text
)
"""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KeyStore:
    def __init__(self, db_path: Path) -> None:
        self._db_path = db_path
        self._db_name = str(db_path)
        self._version_fd: int | None = None
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self._db_path, timeout=10)
        try:
            with db:
                yield db
        finally:
            db.close()

    def create(self, name: str, scopes: Iterable[Scope]) -> CreatedKey:
        scope_set = frozenset(scopes)
        if not scope_set:
            raise ValueError("a key needs at least one scope: ingest, read or admin")
        key_id = secrets.token_hex(4)
        token = f"tg_{key_id}_{secrets.token_urlsafe(24)}"
        created_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            db.execute(
                "insert into api_keys values (?, ?, ?, ?, ?, null)",
                (key_id, name, hash_token(token), ",".join(sorted(scope_set)), created_at),
            )
        return CreatedKey(ApiKey(key_id, name, scope_set, created_at, None), token)

    def list(self) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute(
                "select key_id, name, scopes, created_at, revoked_at from api_keys "
                "order by created_at, key_id"
            ).fetchall()
        return [_to_key(*row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        revoked_at = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as db:
            updated = db.execute(
                "update api_keys set revoked_at = coalesce(revoked_at, ?) where key_id = ?",
                (revoked_at, key_id),
            ).rowcount
        if not updated:
            raise UnknownKeyError(key_id)
        return next(key for key in self.list() if key.key_id == key_id)

    def version(self) -> bytes:
        """Changes whenever a write to the store is committed.

        SQLite bumps the "file change counter" in the database header (bytes 24-27) on every
        commit, which, unlike the file's mtime, cannot miss two commits in one clock tick. One
        ``pread`` on a kept descriptor: cheap enough for every request.
        """
        if self._version_fd is None:
            self._version_fd = os.open(self._db_name, os.O_RDONLY)
        return os.pread(self._version_fd, 4, 24)

    def active_by_hash(self) -> dict[str, ApiKey]:
        with self._connect() as db:
            rows = db.execute(
                "select token_sha256, key_id, name, scopes, created_at, revoked_at "
                "from api_keys where revoked_at is null"
            ).fetchall()
        return {row[0]: _to_key(*row[1:]) for row in rows}


def _to_key(key_id: str, name: str, scopes: str, created_at: str, revoked_at: str | None) -> ApiKey:
    return ApiKey(
        key_id, name, frozenset(Scope(s) for s in scopes.split(",")), created_at, revoked_at
    )
