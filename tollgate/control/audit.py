"""The audit log: every change, who made it, when, and the entity before and after.

Rows are written in the same transaction as the change they describe, so the log can never
miss a change that happened or record one that was rolled back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import Connection, insert, select

from tollgate.control.schema import audit_log

JsonValue = Any  # what json.dumps accepts


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, JsonValue] | None
    after: dict[str, JsonValue] | None


def jsonable(value: object) -> JsonValue:
    """Times as ISO 8601 and decimals as strings, so that the JSON is exact on both backends."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def record(
    connection: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    before: Mapping[Any, Any] | None,
    after: Mapping[Any, Any] | None,
) -> None:
    connection.execute(
        insert(audit_log).values(
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=None if before is None else jsonable(before),
            after=None if after is None else jsonable(after),
        )
    )


def entries(
    connection: Connection,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """The newest ``limit`` entries (newest first), optionally of one entity (and id)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(audit_log.c.entity == entity)
    if entity_id is not None:
        query = query.where(audit_log.c.entity_id == entity_id)
    return [AuditEntry(**row) for row in connection.execute(query).mappings()]
