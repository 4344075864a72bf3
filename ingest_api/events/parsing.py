"""Request-body parsing: bytes + Content-Type -> valid ``UsageEvent``s and per-event rejections.

``EventParser.parse`` raises ``RequestError`` when the request as a whole is unusable and
otherwise returns a ``ParsedBatch``: the valid events with their batch index, and a
``Rejection`` for every invalid one (partial acceptance). No input makes it raise anything else.

Performance: the hot path is a batch of valid events. It is decoded in a single msgspec call
into a list of typed structs (JSON types, required and unknown fields, lengths: checked in C),
followed by one Python loop for the remaining checks (``native.build_event``). Only when that
decode raises a ``ValidationError`` is the batch decoded again as ``list[msgspec.Raw]`` and
each element separately, so that a bad event becomes a ``Rejection`` with its index while the
others stay valid. Valid input raises no exception, except CloudEvents carrying extension
attributes, which take the slower path.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Final, Generic, TypeVar

import msgspec

from ingest_api.events.cloudevents import (
    CLOUDEVENT_ATTRIBUTES,
    DATA_FIELDS,
    CloudEvent,
    CloudEventWithExtensions,
    check_extension,
    cloudevent_to_event,
)
from ingest_api.events.errors import Rejection, RequestError
from ingest_api.events.model import QUANTITY_SCALE, UsageEvent
from ingest_api.events.native import (
    ID_MAX_CHARS,
    MAX_PROPERTIES,
    NATIVE_FIELDS,
    NO_CONTROL_RE,
    PROPERTY_KEY_MAX_CHARS,
    NativeEvent,
    PropertyValue,
    TimeWindow,
    native_to_event,
)
from ingest_api.settings import IngestSettings

NATIVE_MEDIA_TYPE: Final = "application/json"
CLOUDEVENT_MEDIA_TYPE: Final = "application/cloudevents+json"
CLOUDEVENT_BATCH_MEDIA_TYPE: Final = "application/cloudevents-batch+json"
ACCEPTED_MEDIA_TYPES: Final = (
    NATIVE_MEDIA_TYPE,
    CLOUDEVENT_MEDIA_TYPE,
    CLOUDEVENT_BATCH_MEDIA_TYPE,
)

_NATIVE: Final = 0
_CLOUDEVENT: Final = 1
_CLOUDEVENT_BATCH: Final = 2
_MEDIA_KINDS: Final = {
    NATIVE_MEDIA_TYPE: _NATIVE,
    CLOUDEVENT_MEDIA_TYPE: _CLOUDEVENT,
    CLOUDEVENT_BATCH_MEDIA_TYPE: _CLOUDEVENT_BATCH,
}
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8"})
_JSON_WHITESPACE: Final = b" \t\r\n"


class ParsedBatch(msgspec.Struct):
    events: list[tuple[int, UsageEvent]]  # (index in batch, event) for valid events, in order
    rejections: list[Rejection]  # in index order
    size: int  # number of events in the request


# --- whole-request errors ------------------------------------------------------------------

_SHAPE_HINT: Final = (
    "Send one JSON object (a single event) or a JSON array of objects (a batch), "
    "encoded as UTF-8. See docs/events.md."
)


def _media_type_error(content_type: str | None) -> RequestError:
    message = (
        "the request has no Content-Type"
        if not content_type
        else f"Content-Type {content_type[:200]!r} is not supported"
    )
    return RequestError(
        415,
        "unsupported_media_type",
        message,
        "Use one of: " + ", ".join(ACCEPTED_MEDIA_TYPES) + " (optionally with charset=utf-8).",
    )


def _malformed(exc: Exception) -> RequestError:
    return RequestError(
        400, "malformed_json", f"request body is not valid JSON: {exc}", _SHAPE_HINT
    )


def _too_deep() -> RequestError:
    return RequestError(
        400,
        "nesting_too_deep",
        "request body is nested too deeply",
        "Events are flat objects; `properties` is a flat map of strings to strings.",
    )


def _invalid_utf8(body: bytes) -> RequestError:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = f": invalid byte 0x{body[exc.start]:02x} at byte offset {exc.start}"
    else:  # only reached if msgspec and Python disagree about UTF-8
        where = ""
    return RequestError(
        400,
        "invalid_utf8",
        f"request body is not valid UTF-8{where}",
        "Encode the JSON body as UTF-8 (JSON text exchanged between systems must be UTF-8).",
    )


# What decoding a body can raise besides msgspec.ValidationError (a msgspec.DecodeError,
# which callers handle first); ``_decode_error`` turns each into its RequestError.
_DECODE_ERRORS: Final = (msgspec.DecodeError, RecursionError, UnicodeDecodeError)


def _decode_error(exc: Exception, body: bytes | msgspec.Raw) -> RequestError:
    """The RequestError for ``exc``, one of ``_DECODE_ERRORS``, raised decoding ``body``.

    A function rather than a context manager, which would cost every (valid) decode its
    setup and also catch what the callers' ValidationError handlers raise."""
    if isinstance(exc, msgspec.DecodeError):
        return _malformed(exc)
    if isinstance(exc, RecursionError):
        return _too_deep()
    return _invalid_utf8(bytes(body))


# --- msgspec ValidationError -> (field, reason) ----------------------------------------------

_AT_RE: Final = re.compile(r" - at (`key` in )?`(\$[^`]*)`\Z")
_UNKNOWN_FIELD: Final = "Object contains unknown field `"
# An unknown field at the top level of a batch element.
_UNKNOWN_FIELD_IN_ELEMENT_RE: Final = re.compile(
    r"Object contains unknown field `.*` - at `\$\[\d+\]`\Z", re.DOTALL
)
_MISSING_FIELD: Final = "Object missing required field `"
_EXPECTED_GOT_RE: Final = re.compile(r"Expected `([^`]*)`, got `([^`]*)`\Z")
_STR_LENGTH_RE: Final = re.compile(r"Expected `str` of length (<=|>=) (\d+)\Z")
_JSON_NAMES: Final = {
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "boolean",
    "null": "null",
    "object": "object",
    "array": "array",
    "decimal": "number or decimal string",
    "datetime": "RFC 3339 timestamp string",
}
_TIMESTAMP_RULE: Final = (
    "must be an RFC 3339 timestamp with a UTC offset or Z, e.g. 2024-05-01T12:00:00Z"
)


def _json_type_names(msgspec_types: str) -> str:
    return " or ".join(_JSON_NAMES.get(name, name) for name in msgspec_types.split(" | "))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _split_validation_error(message: str) -> tuple[str, str, bool]:
    """``(text, path, is_dict_key)``, path without ``$.`` ("" for the element itself)."""
    match = _AT_RE.search(message)
    if match is None:
        return message, "", False
    path = match.group(2)
    path = path[2:] if path.startswith("$.") else path[1:]
    return message[: match.start()], path, match.group(1) is not None


def _describe(text: str, path: str) -> str:
    """A human-readable reason for a msgspec validation message (without its location)."""
    leaf = path.rpartition(".")[2]
    match = _STR_LENGTH_RE.match(text)
    if match:
        limit = int(match.group(2))
        if match.group(1) == ">=":
            return "must not be empty" if limit == 1 else f"must be at least {limit} characters"
        return f"must be at most {limit} characters"
    match = _EXPECTED_GOT_RE.match(text)
    if match:
        expected = _json_type_names(match.group(1))
        if leaf == "properties" or path.endswith("properties[...]"):
            expected = "flat object of strings" if leaf == "properties" else "string"
        return f"expected {expected}, got {_json_type_names(match.group(2))}"
    if text.startswith("Expected `object` of length <="):
        return f"at most {MAX_PROPERTIES} properties are allowed"
    if text.startswith("Invalid enum value"):
        return 'must be "1.0" (only CloudEvents 1.0 is supported)'
    if text == "Invalid decimal string":
        return (
            "is not a valid decimal number; send a JSON number or a string such as "
            f'"0.002" (at most {QUANTITY_SCALE} fractional digits, below 10^18)'
        )
    if text == "Invalid RFC3339 encoded datetime":
        return _TIMESTAMP_RULE
    if text.startswith("Expected `datetime` with a timezone"):
        return "has no UTC offset; " + _TIMESTAMP_RULE
    return text[:1].lower() + text[1:]


_Source = msgspec.Raw | bytes  # a batch element, or a whole body


def _readable_id(value: object) -> str | None:
    """``value`` if it is a valid identifier, to echo back in a rejection."""
    if isinstance(value, str) and 0 < len(value) <= ID_MAX_CHARS and NO_CONTROL_RE.match(value):
        return value
    return None


class _NativeIds(msgspec.Struct):
    event_id: Any = None
    customer_id: Any = None


class _CloudEventIds(msgspec.Struct):
    id: Any = None
    subject: Any = None


_RawDict = dict[str, msgspec.Raw]
_raw_dict_decoder: Final = msgspec.json.Decoder(_RawDict)
_any_decoder: Final = msgspec.json.Decoder()
_property_value_decoder: Final = msgspec.json.Decoder(PropertyValue)
_native_ids_decoder: Final = msgspec.json.Decoder(_NativeIds)
_cloudevent_ids_decoder: Final = msgspec.json.Decoder(_CloudEventIds)
_raw_decoder: Final = msgspec.json.Decoder(msgspec.Raw)
_lenient_cloudevent_decoder: Final = msgspec.json.Decoder(CloudEventWithExtensions)
_attribute_maps_decoder: Final = msgspec.json.Decoder(list[_RawDict])


def _probe_native_ids(raw: _Source) -> tuple[str | None, str | None]:
    try:
        ids = _native_ids_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None, None
    return _readable_id(ids.event_id), _readable_id(ids.customer_id)


def _probe_cloudevent_ids(raw: _Source) -> tuple[str | None, str | None]:
    try:
        ids = _cloudevent_ids_decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None, None
    return _readable_id(ids.id), _readable_id(ids.subject)


def _property_problem(raw: _Source, container: str, is_key: bool) -> tuple[str, str] | None:
    """Find the property behind a msgspec error in the map at path ``container``."""
    try:
        node: _Source = raw
        for part in container.split("."):
            node = _raw_dict_decoder.decode(node)[part]
        entries = _raw_dict_decoder.decode(node)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError, KeyError):
        return None
    for key, value in entries.items():
        if is_key:
            if not 0 < len(key) <= PROPERTY_KEY_MAX_CHARS:
                shown = repr(key) if len(key) <= 80 else repr(key[:80]) + "..."
                return container, (
                    f"property names must be 1 to {PROPERTY_KEY_MAX_CHARS} characters, "
                    f"got {shown} ({len(key)} characters)"
                )
            continue
        try:
            _property_value_decoder.decode(value)
        except msgspec.ValidationError as exc:
            text, _, _ = _split_validation_error(str(exc))
            return f"{container}.{key}", _describe(text, f"{container}[...]")
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
    return None


E = TypeVar("E", NativeEvent, CloudEvent)


@dataclass(frozen=True, slots=True)
class _Form(Generic[E]):
    """What differs between the native form and CloudEvents."""

    one: msgspec.json.Decoder[E]
    many: msgspec.json.Decoder[list[E]]
    convert: Callable[[E, TimeWindow], UsageEvent | tuple[str, str]]
    ids: Callable[[E], tuple[str | None, str | None]]  # for a rejection
    # After ``one`` failed on an element: the event after all, or its rejection.
    recover: Callable[[int, _Source, msgspec.ValidationError], E | Rejection]
    extensions: bool  # unknown top-level attributes may be (valid) extension attributes


def _rejection_from_validation(
    index: int,
    raw: _Source,
    exc: msgspec.ValidationError,
    fields: dict[str, tuple[str, ...]],
    probe_ids: Callable[[_Source], tuple[str | None, str | None]],
) -> Rejection:
    """Translate msgspec's message; ``fields`` maps object paths to their accepted fields."""
    text, path, is_key = _split_validation_error(str(exc))
    if text.startswith(_UNKNOWN_FIELD):
        name = text[len(_UNKNOWN_FIELD) : -1]
        accepted = fields.get(path)
        reason = "unknown field" if name else "unknown field with an empty name"
        if accepted:
            reason += f"; accepted fields: {', '.join(accepted)}"
        field = _join(path, name) if name else path or "$"
    elif text.startswith(_MISSING_FIELD):
        field, reason = _join(path, text[len(_MISSING_FIELD) : -1]), "required field is missing"
    elif is_key or path.endswith("[...]"):
        container = path.removesuffix("[...]")
        found = _property_problem(raw, container, is_key)
        field, reason = found if found is not None else (container, _describe(text, path))
    else:
        field, reason = path or "$", _describe(text, path)
    event_id, customer_id = probe_ids(raw)
    return Rejection(index, event_id, customer_id, field, reason)


_NATIVE_OBJECT_FIELDS: Final = {"": NATIVE_FIELDS}
_CLOUDEVENT_OBJECT_FIELDS: Final = {"data": DATA_FIELDS}


def _recover_native(index: int, raw: _Source, exc: msgspec.ValidationError) -> Rejection:
    return _rejection_from_validation(index, raw, exc, _NATIVE_OBJECT_FIELDS, _probe_native_ids)


def _recover_cloudevent(
    index: int, raw: _Source, exc: msgspec.ValidationError
) -> CloudEvent | Rejection:
    """An unknown top-level attribute may be an extension attribute: check every attribute
    that is not a known one, then decode again, skipping them."""
    error = exc
    message = str(exc)
    if message.startswith(_UNKNOWN_FIELD) and _AT_RE.search(message) is None:
        try:
            for name, value in _raw_dict_decoder.decode(raw).items():
                if name not in CLOUDEVENT_ATTRIBUTES:
                    reason = check_extension(name, _any_decoder.decode(value))
                    if reason is not None:
                        event_id, customer_id = _probe_cloudevent_ids(raw)
                        return Rejection(index, event_id, customer_id, name or "$", reason)
            return _lenient_cloudevent_decoder.decode(raw)
        except msgspec.ValidationError as retry_error:
            error = retry_error
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):  # pragma: no cover
            pass  # the element already decoded as msgspec.Raw; report the first error
    return _rejection_from_validation(
        index, raw, error, _CLOUDEVENT_OBJECT_FIELDS, _probe_cloudevent_ids
    )


def _native_ids(event: NativeEvent) -> tuple[str | None, str | None]:
    return _readable_id(event.event_id), _readable_id(event.customer_id)


def _cloudevent_ids(event: CloudEvent) -> tuple[str | None, str | None]:
    return _readable_id(event.id), _readable_id(event.subject)


_NATIVE_FORM: Final[_Form[NativeEvent]] = _Form(
    one=msgspec.json.Decoder(NativeEvent),
    many=msgspec.json.Decoder(list[NativeEvent]),
    convert=native_to_event,
    ids=_native_ids,
    recover=_recover_native,
    extensions=False,
)
_CLOUDEVENT_FORM: Final[_Form[CloudEvent]] = _Form(
    one=msgspec.json.Decoder(CloudEvent),
    many=msgspec.json.Decoder(list[CloudEvent]),
    convert=cloudevent_to_event,
    ids=_cloudevent_ids,
    recover=_recover_cloudevent,
    extensions=True,
)


class EventParser:
    """Parses ingest request bodies. Build once; ``parse`` is safe to call from many threads."""

    def __init__(self, settings: IngestSettings) -> None:
        self._max_batch = settings.max_batch_events
        self._backfill = settings.backfill_window
        self._future = settings.future_tolerance
        # Bounded arrays: an oversized batch fails while decoding, before its events are built.
        bounded = msgspec.Meta(max_length=self._max_batch)
        self._raw_list: msgspec.json.Decoder[list[msgspec.Raw]] = msgspec.json.Decoder(
            Annotated[list[msgspec.Raw], bounded]
        )
        native_many: msgspec.json.Decoder[list[NativeEvent]] = msgspec.json.Decoder(
            Annotated[list[NativeEvent], bounded]
        )
        cloudevent_many: msgspec.json.Decoder[list[CloudEvent]] = msgspec.json.Decoder(
            Annotated[list[CloudEvent], bounded]
        )
        self._lenient_cloudevents: msgspec.json.Decoder[list[CloudEventWithExtensions]] = (
            msgspec.json.Decoder(Annotated[list[CloudEventWithExtensions], bounded])
        )
        self._native = replace(_NATIVE_FORM, many=native_many)
        self._cloudevent = replace(_CLOUDEVENT_FORM, many=cloudevent_many)
        self._media_cache: dict[str, int] = {}

    def parse(self, body: bytes, content_type: str | None, now: datetime) -> ParsedBatch:
        """Raises ``RequestError`` for whole-request problems; per-event problems become
        ``Rejection``s. ``now`` is the receipt time (default timestamp, time window)."""
        kind = self._media_kind(content_type)
        if not body.isascii():
            # msgspec skips some strings without decoding them; check the whole body up front.
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise _invalid_utf8(body) from None
        window = TimeWindow(now, self._backfill, self._future)
        head = body.lstrip(_JSON_WHITESPACE)[:1]
        if kind == _NATIVE:
            if head == b"[":
                return self._batch(body, self._native, window)
            if head == b"{":
                return self._single(body, self._native, window)
        elif kind == _CLOUDEVENT:
            if head == b"{":
                return self._single(body, self._cloudevent, window)
            if head == b"[":
                _check_syntax(body)
                raise RequestError(
                    400,
                    "single_event_expected",
                    f"{CLOUDEVENT_MEDIA_TYPE} carries one event, but the body is a JSON array",
                    f"Send batches with Content-Type: {CLOUDEVENT_BATCH_MEDIA_TYPE}.",
                )
        else:
            if head == b"[":
                return self._batch(body, self._cloudevent, window)
            if head == b"{":
                _check_syntax(body)
                raise RequestError(
                    400,
                    "batch_expected",
                    f"{CLOUDEVENT_BATCH_MEDIA_TYPE} carries a JSON array of events, "
                    "but the body is a single JSON object",
                    "Wrap the event in [ ], or send it with "
                    f"Content-Type: {CLOUDEVENT_MEDIA_TYPE}.",
                )
        raise _top_level_error(body)

    def _media_kind(self, content_type: str | None) -> int:
        if not content_type:
            raise _media_type_error(content_type)
        kind = self._media_cache.get(content_type)
        if kind is None:
            kind = _classify_content_type(content_type)
            if len(self._media_cache) < 256:  # bounded: the header is client-controlled
                self._media_cache[content_type] = kind
        return kind

    def _single(self, body: bytes, form: _Form[E], window: TimeWindow) -> ParsedBatch:
        try:
            event = form.one.decode(body)
        except msgspec.ValidationError:
            # msgspec stops at the first problem, which may precede a syntax error further on.
            _check_syntax(body)
            item = self._element(0, body, form, window)
        except _DECODE_ERRORS as exc:
            raise _decode_error(exc, body) from None
        else:
            item = _convert(0, event, form, window)
        if isinstance(item, Rejection):
            return ParsedBatch([], [item], 1)
        return ParsedBatch([(0, item)], [], 1)

    def _batch(self, body: bytes, form: _Form[E], window: TimeWindow) -> ParsedBatch:
        try:
            decoded = form.many.decode(body)
        except msgspec.ValidationError as exc:
            # An invalid event, too many events, or CloudEvents with extension attributes.
            if form.extensions and _UNKNOWN_FIELD_IN_ELEMENT_RE.match(str(exc)):
                parsed = self._cloudevents_with_extensions(body, window)
                if parsed is not None:
                    return parsed
            return self._batch_by_element(body, form, window)
        except _DECODE_ERRORS as exc:
            raise _decode_error(exc, body) from None
        if not decoded:
            raise _empty_batch()
        events: list[tuple[int, UsageEvent]] = []
        rejections: list[Rejection] = []
        convert = form.convert
        for index, event in enumerate(decoded):
            result = convert(event, window)
            if isinstance(result, tuple):
                event_id, customer_id = form.ids(event)
                rejections.append(Rejection(index, event_id, customer_id, *result))
            else:
                events.append((index, result))
        return ParsedBatch(events, rejections, len(decoded))

    def _batch_by_element(self, body: bytes, form: _Form[E], window: TimeWindow) -> ParsedBatch:
        """Decode event by event, so that each invalid one becomes a Rejection with its index."""
        try:
            raws = self._raw_list.decode(body)
        except msgspec.ValidationError:
            raise self._too_large() from None  # the only constraint on list[Raw]
        except _DECODE_ERRORS as exc:
            raise _decode_error(exc, body) from None
        if not raws:
            raise _empty_batch()
        events: list[tuple[int, UsageEvent]] = []
        rejections: list[Rejection] = []
        for index, raw in enumerate(raws):
            item = self._element(index, raw, form, window)
            if isinstance(item, Rejection):
                rejections.append(item)
            else:
                events.append((index, item))
        return ParsedBatch(events, rejections, len(raws))

    def _cloudevents_with_extensions(self, body: bytes, window: TimeWindow) -> ParsedBatch | None:
        """A CloudEvents batch in which events carry extension attributes, in two decodes of
        the whole batch rather than several per event. None if some event is invalid beyond its
        extension attributes: ``_batch_by_element`` then finds and reports it."""
        try:
            decoded = self._lenient_cloudevents.decode(body)
            attribute_maps = _attribute_maps_decoder.decode(body)
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None
        events: list[tuple[int, UsageEvent]] = []
        rejections: list[Rejection] = []
        known = CLOUDEVENT_ATTRIBUTES
        for index, (event, attributes) in enumerate(zip(decoded, attribute_maps, strict=True)):
            reason = None
            unknown = attributes.keys() - known
            if unknown:
                # The first bad one in the order sent is reported.
                extensions = (
                    unknown if len(unknown) == 1 else [n for n in attributes if n in unknown]
                )
                for name in extensions:
                    reason = check_extension(name, _any_decoder.decode(attributes[name]))
                    if reason is not None:
                        event_id, customer_id = _cloudevent_ids(event)
                        rejections.append(
                            Rejection(index, event_id, customer_id, name or "$", reason)
                        )
                        break
                if reason is not None:
                    continue
            result = cloudevent_to_event(event, window)
            if isinstance(result, tuple):
                event_id, customer_id = _cloudevent_ids(event)
                rejections.append(Rejection(index, event_id, customer_id, *result))
            else:
                events.append((index, result))
        return ParsedBatch(events, rejections, len(decoded))

    def _too_large(self) -> RequestError:
        return RequestError(
            413,
            "batch_too_large",
            f"the batch has more than {self._max_batch} events, the limit per request",
            f"Split it into requests of at most {self._max_batch} events.",
        )

    @staticmethod
    def _element(
        index: int, raw: _Source, form: _Form[E], window: TimeWindow
    ) -> UsageEvent | Rejection:
        """Decode and check one element whose JSON syntax is known to be valid."""
        try:
            event = form.one.decode(raw)
        except msgspec.ValidationError as exc:
            recovered = form.recover(index, raw, exc)
            if isinstance(recovered, Rejection):
                return recovered
            event = recovered
        except _DECODE_ERRORS as exc:  # pragma: no cover - syntax, depth, UTF-8 checked before
            raise _decode_error(exc, raw) from None
        return _convert(index, event, form, window)


def _convert(index: int, event: E, form: _Form[E], window: TimeWindow) -> UsageEvent | Rejection:
    result = form.convert(event, window)
    if isinstance(result, tuple):
        event_id, customer_id = form.ids(event)
        return Rejection(index, event_id, customer_id, *result)
    return result


def _check_syntax(body: bytes) -> None:
    try:
        _raw_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        raise _decode_error(exc, body) from None


def _top_level_error(body: bytes) -> RequestError:
    """The error for a body that starts with neither { nor [."""
    try:
        value = _any_decoder.decode(body)
    except _DECODE_ERRORS as exc:
        return _decode_error(exc, body)
    got = _JSON_NAMES.get(type(value).__name__, type(value).__name__)
    return RequestError(
        400,
        "invalid_top_level",
        f"request body must be a JSON object or an array of objects, got {got}",
        _SHAPE_HINT,
    )


def _empty_batch() -> RequestError:
    return RequestError(
        400, "empty_batch", "the batch contains no events", "Send at least one event."
    )


def _classify_content_type(content_type: str) -> int:
    media_type, _, params = content_type.partition(";")
    kind = _MEDIA_KINDS.get(media_type.strip().lower())
    if kind is None:
        raise _media_type_error(content_type)
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() != "charset":
            continue
        charset = value.strip().strip('"').lower()
        if charset not in _UTF8_NAMES:
            raise RequestError(
                415,
                "unsupported_charset",
                f"charset {charset[:50]!r} is not supported",
                "Send the body as UTF-8 (charset=utf-8, or no charset parameter).",
            )
    return kind
