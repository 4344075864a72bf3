"""Decoding of Stripe's bracket-notation form bodies and query strings into nested values.

The SDK flattens nested parameters as ``items[0][price]=...``, ``metadata[key]=...`` and
``expand[0]=...``; curl users write ``expand[]=...``. Stripe reads both, so this does too:
numeric segments (and the empty ``[]``) make lists, other segments make dicts.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from tollgate.stripe_standin.errors import invalid

_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


def decode(raw: str) -> dict[str, Any]:
    """Nested params from an urlencoded string (body or query string)."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(raw, keep_blank_values=True):
        _insert(tree, _split_key(key), value)
    result = _listify(tree)
    assert isinstance(result, dict)
    return result


def _split_key(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not bracket:
        return [key]
    tail = "[" + rest
    segments = _SEGMENT.findall(tail)
    if "".join(f"[{s}]" for s in segments) != tail or not head:
        raise invalid(f"Invalid parameter name: {key}", param=key)
    return [head, *segments]


def _insert(tree: dict[str, Any], path: list[str], value: str) -> None:
    node = tree
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        # "[]" appends: give it the next free integer index so ordering is kept.
        key = str(_next_index(node)) if segment == "" else segment
        if last:
            node[key] = value
            return
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise invalid(f"Invalid nested parameter: {'.'.join(path)}", param=path[0])
        node = child


def _next_index(node: dict[str, Any]) -> int:
    numeric = [int(k) for k in node if k.isdigit()]
    return max(numeric, default=-1) + 1


def _listify(node: Any) -> Any:
    """Dicts whose keys are all array indices become lists, ordered by index."""
    if not isinstance(node, dict):
        return node
    converted = {k: _listify(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted
