"""Stripe webhook events, each processed once, and in order per Stripe object.

Exactly once: ``claim`` inserts the event id in the caller's write transaction, before the event
is processed in that same transaction. A repeat finds the id taken (on PostgreSQL a concurrent
repeat waits for the first to commit or roll back); a crash before commit leaves neither the id
nor any effect, so Stripe's retry processes the event.

In order: Stripe does not deliver events in the order it created them. ``is_stale`` compares an
event's ``created`` with that of the newest event applied to the same object (``advance``
records it), so an older event never undoes a newer one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from tollgate.control.database import read_transaction
from tollgate.control.models import StripeEventRecord
from tollgate.control.schema import stripe_events, stripe_objects

# The outcome of an event claimed but not processed yet: never committed (processing happens
# in the claiming transaction), so never seen by a reader.
PROCESSING = "processing"
DETAIL_MAX = 1000


def claim(
    db: Connection,
    *,
    event_id: str,
    event_type: str,
    created: datetime,
    object_id: str | None,
    received_at: datetime,
) -> bool:
    """Records the event as being processed in ``db``'s transaction; False if it was already."""
    row = {
        "event_id": event_id,
        "event_type": event_type,
        "created": created,
        "object_id": object_id,
        "received_at": received_at,
        "processed_at": received_at,
        "outcome": PROCESSING,
        "detail": None,
    }
    dialect = postgresql if db.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(stripe_events)
        .values(row)
        .on_conflict_do_nothing()
        .returning(stripe_events.c.event_id)
    )
    return db.execute(statement).first() is not None


def finish(
    db: Connection, event_id: str, outcome: str, detail: str | None, processed_at: datetime
) -> None:
    """Records what processing the claimed event did."""
    db.execute(
        update(stripe_events)
        .where(stripe_events.c.event_id == event_id)
        .values(
            outcome=outcome,
            detail=None if detail is None else detail[:DETAIL_MAX],
            processed_at=processed_at,
        )
    )


def record(db: Connection, event_id: str) -> StripeEventRecord | None:
    row = (
        db.execute(select(stripe_events).where(stripe_events.c.event_id == event_id))
        .mappings()
        .first()
    )
    return None if row is None else StripeEventRecord(**row)


def stripe_event(engine: Engine, event_id: str) -> StripeEventRecord | None:
    """The event as received and processed, or None if it never was (or is still running)."""
    with read_transaction(engine) as db:
        found = record(db, event_id)
    return None if found is None or found.outcome == PROCESSING else found


def stripe_event_count(engine: Engine) -> int:
    with read_transaction(engine) as db:
        return int(db.execute(select(func.count()).select_from(stripe_events)).scalar_one())


def is_stale(db: Connection, object_id: str, created: datetime) -> bool:
    """Whether an event created at ``created`` is older than the newest applied to the object.

    Events created in the same second are not ordered by Stripe's ``created``; the one that
    arrives later wins. Callers hold the lock of the object's customer, so that two events of
    one object are judged one after the other.
    """
    newest = db.execute(
        select(stripe_objects.c.last_event_created).where(stripe_objects.c.object_id == object_id)
    ).scalar()
    return newest is not None and created < newest


def advance(
    db: Connection,
    *,
    object_id: str,
    object_type: str,
    event_id: str,
    created: datetime,
    now: datetime,
) -> None:
    """Records the event as applied to the object: the newest, unless a newer one was."""
    values = {"last_event_id": event_id, "last_event_created": created, "updated_at": now}
    key = stripe_objects.c.object_id == object_id
    newest = db.execute(select(stripe_objects.c.last_event_created).where(key)).first()
    if newest is None:
        db.execute(
            insert(stripe_objects).values(object_id=object_id, object_type=object_type, **values)
        )
    elif newest[0] <= created:
        db.execute(update(stripe_objects).where(key).values(values))
