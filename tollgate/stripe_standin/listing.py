"""Stripe list objects with cursor pagination (newest first, ``limit``/``starting_after``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tollgate.stripe_standin import params
from tollgate.stripe_standin.errors import invalid

Json = dict[str, Any]

PAGINATION = ("limit", "starting_after", "ending_before")


def page(objects: list[Json], query: Mapping[str, Any], url: str) -> Json:
    """A page of ``objects`` (given oldest first, as stored) the way Stripe lists them."""
    limit = params.integer(query, "limit") or 10
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    newest_first = list(reversed(objects))
    after = params.string(query, "starting_after")
    before = params.string(query, "ending_before")
    ids = [o.get("id") for o in newest_first]
    if after is not None:
        start = _index(ids, after, "starting_after") + 1
        window = newest_first[start:]
        chunk, has_more = window[:limit], len(window) > limit
    elif before is not None:
        end = _index(ids, before, "ending_before")
        window = newest_first[:end]
        chunk, has_more = window[-limit:], len(window) > limit
    else:
        chunk, has_more = newest_first[:limit], len(newest_first) > limit
    return {"object": "list", "data": chunk, "has_more": has_more, "url": url}


def whole(objects: list[Json], url: str) -> Json:
    """A complete embedded list, such as a subscription's items."""
    return {
        "object": "list",
        "data": objects,
        "has_more": False,
        "url": url,
        "total_count": len(objects),
    }


def _index(ids: list[Any], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise invalid(f"No such object: '{cursor}'", param=param) from None
