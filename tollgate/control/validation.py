"""Checks on what operators type, with messages that say what a good value looks like."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tollgate.control.errors import InvalidValueError
from tollgate.control.types import QUANTITY_SCALE

# Event ids and customer ids share the ingest API's bound (ingest_api/events/native.py).
ID_MAX_CHARS = 255
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_CURRENCY = re.compile(r"^[a-z]{3}$")


def customer_id(value: str) -> str:
    if not value or value != value.strip() or not value.isprintable():
        raise InvalidValueError(
            f"customer id {value!r} must be non-empty printable text without surrounding "
            "spaces: the customer_id your usage events carry"
        )
    if len(value) > ID_MAX_CHARS:
        raise InvalidValueError(f"customer id is {len(value)} characters; at most {ID_MAX_CHARS}")
    return value


def name(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or len(cleaned) > 200:
        raise InvalidValueError("a customer name must be 1 to 200 characters")
    return cleaned


def email(value: str | None) -> str | None:
    if value is None:
        return None
    if not _EMAIL.match(value) or len(value) > 320:
        raise InvalidValueError(f"'{value}' is not an email address (expected name@example.com)")
    return value


def timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValueError(
            f"unknown time zone '{value}'; use an IANA name such as UTC, Europe/Berlin or "
            "America/New_York"
        ) from None
    return value


def currency(value: str) -> str:
    lowered = value.strip().lower()
    if not _CURRENCY.match(lowered):
        raise InvalidValueError(
            f"'{value}' is not a currency; use a 3-letter ISO 4217 code such as usd or eur"
        )
    return lowered


def moment(value: datetime, what: str = "time") -> datetime:
    if value.tzinfo is None:
        raise InvalidValueError(
            f"the {what} {value.isoformat()} has no time zone; give it in UTC "
            "(e.g. 2026-11-01T00:00:00Z)"
        )
    return value


def limit_value(value: Decimal | int | str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise InvalidValueError(
            f"limit {value!r} is not a number; give e.g. 5000 or 2.5, or 'unlimited'"
        ) from None
    if not number.is_finite() or number < 0:
        raise InvalidValueError(f"limit {value} must be a finite number >= 0")
    if number.adjusted() >= 38 - QUANTITY_SCALE:
        raise InvalidValueError(f"limit {value} is too large")
    with localcontext(prec=60):
        exact = number == number.quantize(Decimal(1).scaleb(-QUANTITY_SCALE))
    if not exact:
        raise InvalidValueError(f"limit {value} has more than {QUANTITY_SCALE} decimal places")
    return number


def notification_id(value: str) -> str:
    if not value or len(value) > 200:
        raise InvalidValueError("a notification id must be 1 to 200 characters")
    return value
