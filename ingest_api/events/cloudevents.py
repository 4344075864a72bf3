"""CloudEvents 1.0 in structured JSON mode, mapped onto ``UsageEvent``.

Mapping (the same one OpenMeter uses)::

    id      -> event_id        type -> event_type      data.feature    -> feature
    subject -> customer_id     time -> timestamp       data.quantity   -> quantity
    source  -> source                                  data.unit       -> unit
                                                       data.properties -> properties

``data`` follows exactly the rules of the native form (same field types, same ``build_event``)
and may hold no other field. ``dataschema`` is accepted and ignored; ``datacontenttype``, if
present, must be application/json. Extension attributes (any other top-level attribute whose name
is lowercase ASCII letters and digits and whose value is a string or null) are accepted and
ignored; other unknown attributes, ``data_base64``, and usage fields put next to ``data`` instead
of inside it are rejected.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final, Literal

import msgspec

from ingest_api.events.model import UsageEvent
from ingest_api.events.native import (
    FieldPaths,
    IdStr,
    NameStr,
    Properties,
    Quantity,
    Timestamp,
    TimeWindow,
    UnitStr,
    build_event,
)

# CloudEvents 1.0: attribute names consist of lowercase ASCII letters and digits.
EXTENSION_NAME_RE: Final = re.compile(r"[a-z0-9]+\Z")


class CloudEventData(msgspec.Struct, forbid_unknown_fields=True):
    feature: NameStr
    quantity: Quantity
    unit: UnitStr | None = None
    properties: Properties | None = None


class CloudEvent(msgspec.Struct, forbid_unknown_fields=True):
    """A CloudEvent without extension attributes (the fast path)."""

    specversion: Literal["1.0"]
    id: IdStr
    source: IdStr
    type: NameStr
    subject: IdStr
    data: CloudEventData
    # Optional attributes: absent and null both mean "not given".
    time: Timestamp | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None  # accepted, not interpreted


class CloudEventWithExtensions(CloudEvent, forbid_unknown_fields=False):
    """Same attributes; extension attributes are skipped. Used only once they were checked."""


CLOUDEVENT_ATTRIBUTES: Final = frozenset(CloudEvent.__struct_fields__)
CLOUDEVENT_PATHS: Final = FieldPaths(
    "id", "subject", "type", "data.feature", "data.quantity", "data.unit", "time", "source"
)
DATA_FIELDS: Final = CloudEventData.__struct_fields__


def check_datacontenttype(value: str) -> str | None:
    """The reason ``datacontenttype`` is refused, or None when it is JSON."""
    media_type, _, params = value.partition(";")
    if media_type.strip().lower() != "application/json":
        return f"must be application/json (data is a JSON object), got {value[:100]!r}"
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return f"charset must be utf-8, got {value[:100]!r}"
    return None


# Extension attribute names seen and found valid (bounded: the names are client-controlled).
_valid_extension_names: set[str] = set()
_CACHE_MAX: Final = 1_000


def check_extension(name: str, value: object) -> str | None:
    """The reason a top-level attribute that is not a known attribute is refused, or None."""
    if name not in _valid_extension_names:
        if name == "data_base64":
            return "binary data (data_base64) is not supported; send `data` as a JSON object"
        if name in DATA_FIELDS:
            return f"`{name}` belongs inside `data`"
        if not EXTENSION_NAME_RE.match(name):
            return (
                f"unknown attribute `{name[:100]}`; CloudEvents attribute names consist of "
                "lowercase letters and digits, and usage fields belong in `data`"
            )
        if len(_valid_extension_names) < _CACHE_MAX:
            _valid_extension_names.add(name)
    if value is not None and not isinstance(value, str):
        return f"extension attribute `{name}` must be a string, got {_json_type(value)}"
    return None


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def cloudevent_to_event(event: CloudEvent, window: TimeWindow) -> UsageEvent | tuple[str, str]:
    if event.datacontenttype is not None:
        reason = check_datacontenttype(event.datacontenttype)
        if reason is not None:
            return "datacontenttype", reason
    data = event.data
    time: datetime | None = event.time
    return build_event(
        event.id,
        event.subject,
        event.type,
        data.feature,
        data.quantity,
        data.unit,
        time,
        data.properties,
        event.source,
        window,
        CLOUDEVENT_PATHS,
    )
