"""The native JSON form of a usage event, and the value rules shared with CloudEvents.

Rules are split between two places:

* the msgspec types below: JSON types, required fields, unknown fields, string lengths, the
  size of ``properties`` and the RFC 3339 timestamp syntax (all checked in C while decoding);
* ``build_event``, in plain Python: character sets, the quantity's range and precision, the
  timestamp's time window, and defaults.

Character sets are deliberately *not* msgspec ``Meta(pattern=...)`` constraints: msgspec runs a
pattern by calling back into Python's ``re`` for every string, which measured ~0.5 us per field
(more than half of the whole decode time for a typical event). ``build_event`` instead uses
``str.isprintable()`` as a fast path for the control-character rule and a bounded cache of
names already seen for the event_type / feature rule, falling back to the same regular
expressions, so the accepted set is exactly what the patterns below describe.

The CloudEvents form (``cloudevents.py``) reuses the same field types and ``build_event``, which
is what makes the two wire forms produce equal ``UsageEvent`` objects.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from typing import Annotated, Final, NamedTuple

import msgspec

from ingest_api.events.model import QUANTITY_MAX, QUANTITY_SCALE, UsageEvent

# --- limits (also quoted by docs/events.md) -------------------------------------------------

ID_MAX_CHARS: Final = 255  # event_id, customer_id, source
NAME_MAX_CHARS: Final = 64  # event_type, feature
UNIT_MAX_CHARS: Final = 32
DEFAULT_UNIT: Final = "unit"
MAX_PROPERTIES: Final = 20
PROPERTY_KEY_MAX_CHARS: Final = 64
PROPERTY_VALUE_MAX_CHARS: Final = 256

# Control characters are Unicode category Cc: C0 controls, DEL and C1 controls. ``\Z`` rather
# than ``$``, which would also match before a trailing newline.
NO_CONTROL_RE: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f]*\Z")
NAME_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")

NO_CONTROL_RULE: Final = "must not contain control characters"
NAME_RULE: Final = (
    f"must be 1 to {NAME_MAX_CHARS} characters from A-Z a-z 0-9 _ . : - "
    "and start with a letter or digit"
)

# --- field types --------------------------------------------------------------------------

IdStr = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX_CHARS)]
NameStr = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX_CHARS)]
UnitStr = Annotated[str, msgspec.Meta(min_length=1, max_length=UNIT_MAX_CHARS)]
PropertyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=PROPERTY_KEY_MAX_CHARS)]
PropertyValue = Annotated[str, msgspec.Meta(max_length=PROPERTY_VALUE_MAX_CHARS)]
Properties = Annotated[dict[PropertyKey, PropertyValue], msgspec.Meta(max_length=MAX_PROPERTIES)]
# RFC 3339 with a mandatory offset ("Z" or "+hh:mm"); a timestamp without one is refused.
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]
# JSON numbers and decimal strings both decode exactly (msgspec keeps every digit). The sign,
# range and precision are checked by ``check_quantity``: msgspec.Meta has no bounds for Decimal.
Quantity = Decimal


class NativeEvent(msgspec.Struct, forbid_unknown_fields=True):
    """``Content-Type: application/json``: one of these, or an array of them."""

    event_id: IdStr
    customer_id: IdStr
    event_type: NameStr
    feature: NameStr
    quantity: Quantity
    # Optional fields: absent and null both mean "use the default".
    unit: UnitStr | None = None
    timestamp: Timestamp | None = None
    properties: Properties | None = None
    source: IdStr | None = None


NATIVE_FIELDS: Final = NativeEvent.__struct_fields__


class FieldPaths(NamedTuple):
    """Where each ``UsageEvent`` field comes from in a wire form, for rejections."""

    event_id: str
    customer_id: str
    event_type: str
    feature: str
    quantity: str
    unit: str
    timestamp: str
    source: str


NATIVE_PATHS: Final = FieldPaths(
    "event_id", "customer_id", "event_type", "feature", "quantity", "unit", "timestamp", "source"
)

# --- rules checked in Python --------------------------------------------------------------

_SCALE: Final = Decimal(1).scaleb(-QUANTITY_SCALE)  # Decimal("1E-9")
_ZERO: Final = Decimal(0).quantize(_SCALE)
# A private context: the thread's default context may have been changed by other code.
# prec 40 > the 27 digits of the largest value that reaches quantize (< 10**18, scale 9).
_CONTEXT: Final = Context(prec=40, traps=[InvalidOperation, DivisionByZero, Overflow])

# event_type, feature and unit come from small sets: remember the valid ones seen (bounded,
# since the values are client-controlled). Adding to a set is atomic under the GIL.
_valid_names: set[str] = set()
_valid_units: set[str] = set()
_CACHE_MAX: Final = 10_000


def is_valid_name(name: str) -> bool:
    """The event_type / feature rule (length is checked by msgspec)."""
    if name in _valid_names:
        return True
    if NAME_RE.match(name) is None:
        return False
    if len(_valid_names) < _CACHE_MAX:
        _valid_names.add(name)
    return True


def has_no_control(text: str) -> bool:
    # isprintable() is False for every control character (and for some other characters, for
    # which the regular expression decides).
    return text.isprintable() or NO_CONTROL_RE.match(text) is not None


def _is_valid_unit(unit: str) -> bool:
    if unit in _valid_units:
        return True
    if not has_no_control(unit):
        return False
    if len(_valid_units) < _CACHE_MAX:
        _valid_units.add(unit)
    return True


def duration_adjective(span: timedelta) -> str:
    """``timedelta(days=35)`` -> ``"35-day"``, ``timedelta(minutes=90)`` -> ``"90-minute"``."""
    seconds = int(span.total_seconds())
    for size, unit in ((86_400, "day"), (3_600, "hour"), (60, "minute")):
        if seconds and seconds % size == 0:
            return f"{seconds // size}-{unit}"
    return f"{seconds}-second"


def duration_words(span: timedelta) -> str:
    """``timedelta(minutes=5)`` -> ``"5 minutes"``, ``timedelta(days=1)`` -> ``"1 day"``."""
    number, _, unit = duration_adjective(span).partition("-")
    return f"{number} {unit}" if number == "1" else f"{number} {unit}s"


def format_timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class TimeWindow:
    """The receipt time and the range of event timestamps accepted with it."""

    __slots__ = ("backfill", "earliest", "future", "latest", "now")

    def __init__(self, now: datetime, backfill: timedelta, future: timedelta) -> None:
        # A naive ``now`` is taken to be UTC rather than failing the request.
        now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
        self.now = now
        self.backfill = backfill
        self.future = future
        self.earliest = now - backfill
        self.latest = now + future

    def too_old(self, timestamp: datetime) -> str:
        return (
            f"timestamp {format_timestamp(timestamp)} is older than the "
            f"{duration_adjective(self.backfill)} backfill window "
            f"(earliest accepted: {format_timestamp(self.earliest)})"
        )

    def too_new(self, timestamp: datetime) -> str:
        return (
            f"timestamp {format_timestamp(timestamp)} is more than "
            f"{duration_words(self.future)} in the future "
            f"(latest accepted: {format_timestamp(self.latest)})"
        )


# Quantizing to scale 9 under this context raises for every refused value at once: more than
# 27 digits at scale 9 means >= 10^18 (InvalidOperation), and dropping a non-zero digit is
# Inexact. So a valid quantity costs one quantize and one sign test; the slow path below only
# runs to word the refusal.
_EXACT_SCALE: Final = Context(prec=27, traps=[InvalidOperation, Inexact])


def check_quantity(quantity: Decimal) -> Decimal | str:
    """The quantity at scale 9 (``Decimal("0.002")`` -> ``Decimal("0.002000000")``, equal in
    value), or the reason it is refused. Never rounds: inexact values are refused."""
    try:
        scaled = _EXACT_SCALE.quantize(quantity, _SCALE)
    except (InvalidOperation, Inexact):
        pass
    else:
        if scaled.is_finite() and not scaled.is_signed():  # quantize passes NaN through quietly
            return scaled
    return _refusal(quantity)


def _refusal(quantity: Decimal) -> Decimal | str:
    if not quantity.is_finite():
        return f"must be a finite number, got {quantity}"
    if quantity.is_signed() and quantity:  # -0 is zero, not negative
        return "must not be negative"
    if quantity >= QUANTITY_MAX:
        return "must be less than 10^18"
    scaled = _CONTEXT.quantize(quantity, _SCALE)
    if scaled != quantity:
        return (
            f"has more than {QUANTITY_SCALE} fractional digits; at most {QUANTITY_SCALE} are "
            "allowed and quantities are never rounded"
        )
    # The scale of storage (decimal128(38, 9)); -0 becomes 0.
    return scaled if scaled else _ZERO


def build_event(
    event_id: str,
    customer_id: str,
    event_type: str,
    feature: str,
    quantity: Decimal,
    unit: str | None,
    timestamp: datetime | None,
    properties: dict[str, str] | None,
    source: str | None,
    window: TimeWindow,
    paths: FieldPaths,
) -> UsageEvent | tuple[str, str]:
    """A ``UsageEvent`` from decoded fields, or ``(field path, reason)`` for the first rule
    violated. The checks msgspec already made are not repeated."""
    if not (event_id.isprintable() or NO_CONTROL_RE.match(event_id)):
        return paths.event_id, NO_CONTROL_RULE
    if not (customer_id.isprintable() or NO_CONTROL_RE.match(customer_id)):
        return paths.customer_id, NO_CONTROL_RULE
    if event_type not in _valid_names and not is_valid_name(event_type):
        return paths.event_type, NAME_RULE
    if feature not in _valid_names and not is_valid_name(feature):
        return paths.feature, NAME_RULE
    checked = check_quantity(quantity)
    if isinstance(checked, str):
        return paths.quantity, checked
    if unit is None:
        unit = DEFAULT_UNIT
    elif unit not in _valid_units and not _is_valid_unit(unit):
        return paths.unit, NO_CONTROL_RULE
    if timestamp is None:
        timestamp = window.now
    else:
        # Compare before converting: comparing aware datetimes cannot overflow, but converting
        # e.g. 0001-01-01T00:00:00+01:00 to UTC would. Refused timestamps are quoted as sent.
        if timestamp < window.earliest:
            return paths.timestamp, window.too_old(timestamp)
        if timestamp > window.latest:
            return paths.timestamp, window.too_new(timestamp)
        if timestamp.tzinfo is not UTC:
            timestamp = timestamp.astimezone(UTC)
    if source is not None and not has_no_control(source):
        return paths.source, NO_CONTROL_RULE
    return UsageEvent(
        event_id,
        customer_id,
        event_type,
        feature,
        checked,
        unit,
        timestamp,
        {} if properties is None else properties,
        source,
    )


def native_to_event(event: NativeEvent, window: TimeWindow) -> UsageEvent | tuple[str, str]:
    return build_event(
        event.event_id,
        event.customer_id,
        event.event_type,
        event.feature,
        event.quantity,
        event.unit,
        event.timestamp,
        event.properties,
        event.source,
        window,
        NATIVE_PATHS,
    )
