"""Deterministic identifiers: the same facts always get the same id, wherever they are computed.

The pipeline (through DuckDB functions, ``duckdb_functions.py``) and the API call these same
functions, so a usage notification raised in real time and the one the pipeline derives later
share an id and are stored once; re-running the pipeline never mints new invoice or line ids.

An id is a prefix and the first 24 hex digits (96 bits) of the SHA-256 of its fields, joined
by the unit separator (U+001F). Fields are canonical text: a timestamp is its UTC instant as
ISO-8601 with microseconds (``2026-03-01T00:00:00.000000+00:00``), whatever zone it was given
in; a missing feature or threshold is the empty string. Changing any of this changes every id:
never do it without migrating the stored ones.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

SEPARATOR = "\x1f"
DIGEST_HEX_DIGITS = 24


def notification_id(
    customer_id: str,
    kind: str,
    feature: str | None,
    window_start: datetime,
    threshold: int | None,
) -> str:
    """A usage notification: one per customer, kind, feature, limit window and threshold."""
    threshold_text = "" if threshold is None else str(_integer(threshold))
    return _identifier(
        "ntf", customer_id, kind, feature or "", _instant(window_start), threshold_text
    )


def stripe_notification_id(kind: str, stripe_object_id: str) -> str:
    """A notification about one Stripe object (``payment_failed`` of invoice ``in_...``,
    ``subscription_cancelled`` of ``sub_...``): one per kind and object, however often
    Stripe delivers the events about it."""
    return _identifier("ntf", "stripe", kind, stripe_object_id)


def delivery_id(notification_id: str, channel: str, target: str) -> str:
    """One notification's delivery on one channel to one target (address or endpoint id):
    the same on every attempt and resend, so receivers can use it to deduplicate."""
    return _identifier("dlv", notification_id, channel, target)


def invoice_id(customer_id: str, cycle_start: datetime) -> str:
    """A customer's invoice for the cycle starting at ``cycle_start``."""
    return _identifier("inv", customer_id, _instant(cycle_start))


def line_id(invoice_id: str, kind: str, key: str) -> str:
    """A line of an invoice: ``kind`` (e.g. "base", "usage") and a key unique within it."""
    return _identifier("il", invoice_id, kind, key)


def _identifier(prefix: str, *fields: str) -> str:
    for field in fields:
        if not isinstance(field, str):
            raise ValueError(f"identifier fields must be text, got {type(field).__name__}")
        if SEPARATOR in field:
            raise ValueError(f"identifier fields cannot contain U+001F, got {field!r}")
    digest = hashlib.sha256(SEPARATOR.join(fields).encode("utf-8")).hexdigest()
    return f"{prefix}_{digest[:DIGEST_HEX_DIGITS]}"


def _instant(moment: datetime) -> str:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"identifier timestamps must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _integer(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a threshold must be an integer, got {value!r}")
    return value
