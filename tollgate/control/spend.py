"""Spend alerts and budgets in the control plane: checks, and reading and replacing the rows.

``ControlService.spend_thresholds`` / ``set_spend_thresholds`` / ``spend_thresholds_of`` call
these inside their transactions; the live limit engine (``tollgate.limits.spend``) enforces
them. Amounts are minor units of the customer's currency, exact integers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from tollgate.control.errors import InvalidValueError
from tollgate.control.models import SpendThresholds
from tollgate.control.schema import customers, spend_thresholds

MAX_ALERTS = 20
# Far above any real cycle's cost, and well inside BigInteger: a typo, not a wish.
MAX_AMOUNT = 10**15
ALERT = "alert"
BUDGET = "budget"


def checked(alerts: Collection[int], budget: int | None) -> tuple[tuple[int, ...], int | None]:
    """The alerts ascending and the budget, or InvalidValueError saying what is wrong."""
    if isinstance(alerts, str | bytes) or not isinstance(alerts, Collection):
        raise InvalidValueError("alerts must be a list of amounts in minor units")
    if len(alerts) > MAX_ALERTS:
        raise InvalidValueError(
            f"{len(alerts)} spend alerts; at most {MAX_ALERTS} (remove some, or use the budget "
            "for a hard stop)"
        )
    for amount in alerts:
        _amount(amount, "a spend alert")
    if len(set(alerts)) != len(alerts):
        twice = sorted({a for a in alerts if list(alerts).count(a) > 1})
        raise InvalidValueError(
            f"spend alerts must differ; {', '.join(map(str, twice))} (minor units) given twice"
        )
    if budget is not None:
        _amount(budget, "the budget")
    return tuple(sorted(alerts)), budget


def _amount(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValueError(f"{what} must be a whole number of minor units, not {value!r}")
    if not 0 < value <= MAX_AMOUNT:
        raise InvalidValueError(
            f"{what} must be above zero and at most {MAX_AMOUNT} minor units, not {value}"
        )


def read(db: Connection, customer_ids: Iterable[str] | None) -> dict[str, SpendThresholds]:
    """The thresholds of every customer that has any (of ``customer_ids``; None: all)."""
    query = select(spend_thresholds, customers.c.currency.label("customer_currency")).join(
        customers, customers.c.id == spend_thresholds.c.customer_id
    )
    if customer_ids is not None:
        query = query.where(spend_thresholds.c.customer_id.in_(sorted(set(customer_ids))))
    rows: dict[str, list[Mapping[Any, Any]]] = {}
    for row in db.execute(query).mappings():
        rows.setdefault(str(row["customer_id"]), []).append(row)
    return {
        customer_id: of_rows(customer_id, str(found[0]["customer_currency"]), found)
        for customer_id, found in rows.items()
    }


def of_rows(customer_id: str, currency: str, rows: Iterable[Mapping[str, Any]]) -> SpendThresholds:
    listed = list(rows)
    budgets = [int(row["amount"]) for row in listed if row["kind"] == BUDGET]
    return SpendThresholds(
        customer_id=customer_id,
        alerts=tuple(sorted(int(row["amount"]) for row in listed if row["kind"] == ALERT)),
        budget=budgets[0] if budgets else None,
        currency=currency,
        updated_at=max((row["created_at"] for row in listed), default=None),
    )


def replace(
    db: Connection,
    customer_id: str,
    currency: str,
    alerts: tuple[int, ...],
    budget: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Replaces the customer's rows (the caller holds its lock); returns the new rows."""
    db.execute(delete(spend_thresholds).where(spend_thresholds.c.customer_id == customer_id))
    amounts = [(ALERT, amount) for amount in alerts]
    if budget is not None:
        amounts.append((BUDGET, budget))
    rows = [
        {
            "customer_id": customer_id,
            "kind": kind,
            "amount": amount,
            "currency": currency,
            "created_at": now,
        }
        for kind, amount in amounts
    ]
    if rows:
        db.execute(insert(spend_thresholds), rows)
    return rows


def audit_state(thresholds: SpendThresholds) -> dict[str, Any]:
    return {
        "alerts": list(thresholds.alerts),
        "budget": thresholds.budget,
        "currency": thresholds.currency,
    }
