"""How Tollgate's catalogue objects are found again in Stripe: one place for every name.

Stripe is the only record of what was synced: products carry Tollgate's own ids, prices are
found by lookup key, meters by event name, customers and subscriptions by metadata. So a
re-run finds what an earlier run created and creates nothing twice.
"""

from __future__ import annotations

import re

METADATA_PLAN = "tollgate_plan"
METADATA_FEATURE = "tollgate_feature"
METADATA_DIMENSION = "tollgate_dimension"
METADATA_FINGERPRINT = "tollgate_fingerprint"
METADATA_CUSTOMER = "tollgate_customer_id"
METADATA_SUBSCRIPTION = "tollgate_subscription_id"

# A dimension's meter for the values a price does not list.
OTHER_VALUES = "other"


def product_id(plan: str) -> str:
    return f"tollgate_plan_{plan}"


def base_price_key(plan: str) -> str:
    return f"tollgate:{plan}:base"


def usage_price_key(plan: str, feature: str, dimension: str | None) -> str:
    suffix = "" if dimension is None else f":{_slug(dimension)}"
    return f"tollgate:{plan}:{feature}{suffix}"


def meter_event_name(feature: str, dimension: str | None) -> str:
    """A meter per feature, or per feature and dimension value for prices split by one."""
    return f"tollgate_{feature}" if dimension is None else f"tollgate_{feature}__{_slug(dimension)}"


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_") or "_"
