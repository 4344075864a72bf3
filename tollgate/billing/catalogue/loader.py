"""Loads the plan catalogue from YAML with errors that name the plan, feature and field.

Numbers are read as ``Decimal`` straight from the file's text, so ``unit_amount: 0.2`` is
exactly 0.2 and never passes through a float.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from tollgate.billing.catalogue.model import Catalogue, undefined_features

BUNDLED_CATALOGUE = Path(__file__).with_name("plans.yaml")

_PRICE_MODELS = {"per_unit", "package", "graduated", "volume", "dimension"}


class CatalogueError(ValueError):
    """The catalogue file is missing, not YAML, or not a valid catalogue; lists every problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        listing = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"invalid plan catalogue {path}:\n{listing}")


class _DecimalLoader(yaml.SafeLoader):
    pass


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal | str:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    if text.lower().lstrip("+-") in {".inf", ".nan"}:
        return text  # rejected by validation with a clear message, never a float
    return Decimal(text)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def parse_catalogue(text: str, path: Path) -> Catalogue:
    try:
        document: Any = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise CatalogueError(path, [f"not valid YAML: {error}"]) from None
    if not isinstance(document, dict):
        raise CatalogueError(path, ["expected a mapping with 'features:' and 'plans:'"])
    try:
        return Catalogue.model_validate(document)
    except ValidationError as error:
        problems = [_describe(e) for e in error.errors()]
        # Cross-references are checked by the model only once every field is valid; check
        # them on the raw document too, so one load reports every problem.
        for problem in _undefined_features(document):
            if not any(problem in known for known in problems):
                problems.append(f"catalogue: {problem}")
        raise CatalogueError(path, problems) from None


def load_catalogue(path: Path) -> Catalogue:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogueError(path, [f"cannot read the file: {error.strerror}"]) from None
    return parse_catalogue(text, path)


@cache
def _cached(path: Path, mtime_ns: int) -> Catalogue:
    return load_catalogue(path)


def default_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (the bundled one by default), re-read when the file changes."""
    path = (path or BUNDLED_CATALOGUE).resolve()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise CatalogueError(path, [f"cannot read the file: {error.strerror}"]) from None
    return _cached(path, mtime)


def _undefined_features(document: dict[Any, Any]) -> list[str]:
    features, plans = document.get("features"), document.get("plans")
    if not isinstance(features, dict) or not isinstance(plans, dict):
        return []
    plan_features = {
        str(name): [str(feature) for feature in plan["features"]]
        for name, plan in plans.items()
        if isinstance(plan, dict) and isinstance(plan.get("features"), dict)
    }
    return undefined_features(plan_features, (str(name) for name in features))


def _describe(error: ErrorDetails) -> str:
    """``plan 'starter', feature 'api_calls', field 'price.tiers[1].up_to': <what is wrong>``."""
    loc = list(error["loc"])
    where: list[str] = []
    if len(loc) >= 2 and loc[0] == "plans":
        where.append(f"plan '{loc[1]}'")
        loc = loc[2:]
        if len(loc) >= 2 and loc[0] == "features":
            where.append(f"feature '{loc[1]}'")
            loc = loc[2:]
    elif len(loc) >= 2 and loc[0] == "features":
        where.append(f"feature definition '{loc[1]}'")
        loc = loc[2:]
    field = _field_path(loc)
    if field:
        where.append(f"field '{field}'")
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field (check its spelling against docs/pricing.md)"
    elif error["type"] == "missing":
        message = "required field is missing"
    return f"{', '.join(where) or 'catalogue'}: {message}"


def _field_path(loc: list[int | str]) -> str:
    text = ""
    previous: int | str | None = None
    for part in loc:
        # Pydantic names the price model it tried ("graduated") in the location; the reader
        # wrote "price:", not "price.graduated:".
        if isinstance(part, str) and part in _PRICE_MODELS and previous not in {None, "prices"}:
            previous = part
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
        previous = part
    return text
