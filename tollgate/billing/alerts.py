"""Usage alerts: when a threshold counts as reached, and what the notification says.

One place for both the pipeline (``fct_notifications`` calls the text functions through DuckDB,
``duckdb_functions.py``) and the API, which raises the same notices in real time: a notice
raised by either has the same id (``identifiers.notification_id``), type, title and message.

The threshold rule is also written in SQL, as the dbt macro ``threshold_reached``
(``dbt_project/macros/usage_aggregation.sql``), because the pipeline evaluates it on every event
of a window; ``tests/billing/test_alerts.py`` holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from tollgate.billing.catalogue.model import AlertLevel, AlertThreshold, Enforcement

LIMIT_WARNING = "limit_warning"
LIMIT_EXCEEDED = "limit_exceeded"
_CENTS = Decimal("0.01")


def threshold_reached(used: Decimal, limit: Decimal, percent: int) -> bool:
    """Usage has reached ``percent`` of ``limit``: at least that share, and above zero (a zero
    limit is reached by any use)."""
    return used > 0 and used * 100 >= limit * percent


def percent_used(used: Decimal, limit: Decimal) -> Decimal:
    """Usage as a percentage of the limit, to two places (half up); a zero limit is 100 % once
    anything is used."""
    if limit == 0:
        return Decimal(100) if used > 0 else Decimal(0)
    return (used * 100 / limit).quantize(_CENTS, rounding=ROUND_HALF_UP)


def reached_thresholds(
    used: Decimal, limit: Decimal, thresholds: Iterable[AlertThreshold]
) -> list[AlertThreshold]:
    return [t for t in thresholds if threshold_reached(used, limit, t.percent)]


def notification_type(level: AlertLevel | str) -> str:
    return LIMIT_EXCEEDED if AlertLevel(level) is AlertLevel.EXCEEDED else LIMIT_WARNING


def notification_title(level: AlertLevel | str, display_name: str, percent: int) -> str:
    if AlertLevel(level) is AlertLevel.EXCEEDED:
        return f"{display_name} limit reached"
    return f"{display_name} at {percent}% of the limit"


def notification_message(
    level: AlertLevel | str,
    display_name: str,
    percent: int,
    enforcement: Enforcement | str,
    limit: Decimal,
    unit: str,
    window_start: datetime,
) -> str:
    limit_text = limit.quantize(_CENTS, rounding=ROUND_HALF_UP)
    day = window_start.astimezone(UTC).strftime("%Y-%m-%d")
    message = (
        f"{display_name} usage reached {percent}% of the {Enforcement(enforcement).value} limit "
        f"of {limit_text} {unit} for the period from {day}."
    )
    if AlertLevel(level) is AlertLevel.EXCEEDED and Enforcement(enforcement) is Enforcement.HARD:
        message += " Further use is refused until the limit resets."
    return message
