"""Typed reads of decoded request parameters, with Stripe's wording for bad or missing ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from tollgate.stripe_standin.errors import invalid, missing

Json = dict[str, Any]

# Accepted by every endpoint; the stand-in ignores expansion except where documented.
_ALWAYS = frozenset({"expand"})


def reject_unknown(params: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Stripe refuses parameters an endpoint does not know; so does the stand-in, which
    makes anything outside its scope fail loudly instead of being silently ignored."""
    known = _ALWAYS | set(allowed)
    for key in params:
        if key not in known:
            raise invalid(f"Received unknown parameter: {key}", param=key, code="parameter_unknown")


def string(params: Mapping[str, Any], key: str, *, required: bool = False) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise missing(key)
        return None
    if not isinstance(value, str):
        raise invalid(f"Invalid string: {key}", param=key)
    return value


def required_string(params: Mapping[str, Any], key: str) -> str:
    value = string(params, key, required=True)
    assert value is not None
    return value


def integer(params: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    raw = string(params, key, required=required)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise invalid(f"Invalid integer: {raw}", param=key) from None


def required_integer(params: Mapping[str, Any], key: str) -> int:
    value = integer(params, key, required=True)
    assert value is not None
    return value


def decimal(params: Mapping[str, Any], key: str) -> Decimal | None:
    raw = string(params, key)
    if raw is None:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise invalid(f"Invalid decimal: {raw}", param=key) from None
    if not value.is_finite():
        raise invalid(f"Invalid decimal: {raw}", param=key)
    return value


def boolean(params: Mapping[str, Any], key: str) -> bool | None:
    raw = string(params, key)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(f"Invalid boolean: {raw}", param=key)
    return raw == "true"


def choice(
    params: Mapping[str, Any], key: str, options: Iterable[str], *, default: str | None = None
) -> str | None:
    value = string(params, key)
    if value is None:
        return default
    allowed = list(options)
    if value not in allowed:
        raise invalid(f"Invalid {key}: must be one of {', '.join(allowed)}", param=key)
    return value


def mapping(params: Mapping[str, Any], key: str) -> Json | None:
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid object: {key}", param=key)
    return value


def string_list(params: Mapping[str, Any], key: str) -> list[str]:
    value = params.get(key)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"Invalid array: {key}", param=key)
    return list(value)


def object_list(params: Mapping[str, Any], key: str) -> list[Json]:
    value = params.get(key)
    if value is None or value == "":
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid(f"Invalid array: {key}", param=key)
    return list(value)


def apply_metadata(target: Json, params: Mapping[str, Any]) -> None:
    """Stripe merges metadata key by key; an empty value (or ``metadata=""``) unsets."""
    if "metadata" not in params:
        return
    raw = params["metadata"]
    if raw == "":
        target["metadata"] = {}
        return
    if not isinstance(raw, dict):
        raise invalid("Invalid object: metadata", param="metadata")
    metadata = dict(target.get("metadata") or {})
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid(f"Invalid metadata value for {key}", param=f"metadata[{key}]")
        if value == "":
            metadata.pop(key, None)
        else:
            metadata[key] = value
    target["metadata"] = metadata
