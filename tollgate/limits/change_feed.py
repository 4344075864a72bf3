"""Which customers' control rows changed: read from the audit log, which every change writes.

Polling the log by id costs one indexed query whatever the backend, and names the customers
touched, so a change to one customer never drops the whole cache.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from tollgate.control.database import read_transaction
from tollgate.control.schema import audit_log

# Audit entities whose changes can move a customer's limits, plan, cycle or spend thresholds
# (entity id = the customer).
_CUSTOMER_ENTITIES = {"customer", "limits", "spend_thresholds"}


class ChangeFeed:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._last_id: int | None = None

    def poll(self) -> set[str]:
        """Customers changed since the previous poll (none on the first: it sets the mark)."""
        with read_transaction(self._engine) as db:
            if self._last_id is None:
                newest = select(func.coalesce(func.max(audit_log.c.id), 0))
                self._last_id = int(db.execute(newest).scalar_one())
                return set()
            rows = db.execute(
                select(
                    audit_log.c.id,
                    audit_log.c.entity,
                    audit_log.c.entity_id,
                    audit_log.c.before,
                    audit_log.c.after,
                )
                .where(audit_log.c.id > self._last_id)
                .order_by(audit_log.c.id)
            ).all()
        changed: set[str] = set()
        for row in rows:
            self._last_id = max(self._last_id, int(row.id))
            customer = _customer_of(str(row.entity), str(row.entity_id), row.before, row.after)
            if customer is not None:
                changed.add(customer)
        return changed


def _customer_of(entity: str, entity_id: str, before: Any, after: Any) -> str | None:
    if entity in _CUSTOMER_ENTITIES:
        return entity_id
    if entity == "subscription":
        for state in (after, before):
            if isinstance(state, dict) and state.get("customer_id"):
                return str(state["customer_id"])
    return None
