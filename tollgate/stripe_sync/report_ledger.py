"""What Stripe accepted, per customer, cycle and meter: the memory that makes usage exactly-once.

Before a meter event is sent, its identifier, value and timestamp are committed as *pending*;
once Stripe answers, the value moves into ``reported``. A crash in between leaves the pending
row, and the next push sends exactly the same event again: Stripe drops a repeated identifier
(it keeps them for at least 24 hours and pushes run hourly), so the usage counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from tollgate.control.database import read_transaction, write_transaction
from tollgate.control.schema import stripe_meter_reports as table

ZERO = 0

ReportKey = tuple[str, str, str]  # customer_id, cycle_id, meter event name


@dataclass(frozen=True, slots=True)
class Pending:
    identifier: str
    value: int  # meter units
    timestamp: datetime
    held_at: datetime | None = None  # when it was committed (None: not yet)


@dataclass(frozen=True, slots=True)
class Report:
    reported: int  # meter units Stripe accepted
    pending: Pending | None


class ReportLedger:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> dict[ReportKey, Report]:
        with read_transaction(self._engine) as db:
            rows = db.execute(select(table)).mappings().all()
        return {
            (row["customer_id"], row["cycle_id"], row["event_name"]): _report(row) for row in rows
        }

    def get(self, key: ReportKey) -> Report:
        with read_transaction(self._engine) as db:
            row = db.execute(select(table).where(*_match(key))).mappings().first()
        return Report(ZERO, None) if row is None else _report(row)

    def hold(self, key: ReportKey, expected: Report, pending: Pending, now: datetime) -> bool:
        """Records the event about to be sent (committed before the request leaves), only if
        the row is still ``expected``: False means another push got there first."""
        values = {
            "pending_identifier": pending.identifier,
            "pending_value": pending.value,
            "pending_timestamp": pending.timestamp,
            "updated_at": now,
        }
        customer_id, cycle_id, event_name = key
        try:
            with write_transaction(self._engine) as db:
                changed = db.execute(
                    update(table)
                    .where(
                        *_match(key),
                        table.c.pending_identifier.is_(None),
                        table.c.reported == expected.reported,
                    )
                    .values(values)
                ).rowcount
                if changed:
                    return True
                exists = db.execute(select(table.c.reported).where(*_match(key))).first()
                if exists is not None or expected.reported != ZERO:
                    return False
                db.execute(
                    insert(table).values(
                        customer_id=customer_id,
                        cycle_id=cycle_id,
                        event_name=event_name,
                        reported=ZERO,
                        **values,
                    )
                )
                return True
        except IntegrityError:
            return False  # inserted by a concurrent push

    def accepted(self, key: ReportKey, identifier: str, now: datetime) -> None:
        """Stripe kept the pending event ``identifier``: count it as reported (one statement,
        so two pushes settling the same event count it once)."""
        with write_transaction(self._engine) as db:
            db.execute(
                update(table)
                .where(*_match(key), table.c.pending_identifier == identifier)
                .values(
                    reported=table.c.reported + table.c.pending_value,
                    pending_identifier=None,
                    pending_value=None,
                    pending_timestamp=None,
                    updated_at=now,
                )
            )


def _match(key: ReportKey) -> tuple[ColumnElement[bool], ...]:
    customer_id, cycle_id, event_name = key
    return (
        table.c.customer_id == customer_id,
        table.c.cycle_id == cycle_id,
        table.c.event_name == event_name,
    )


def _report(row: object) -> Report:
    mapping = dict(row)  # type: ignore[call-overload]
    pending = (
        Pending(
            mapping["pending_identifier"],
            mapping["pending_value"],
            mapping["pending_timestamp"],
            mapping["updated_at"],
        )
        if mapping["pending_identifier"] is not None
        else None
    )
    return Report(mapping["reported"], pending)
