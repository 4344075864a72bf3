"""Prices: per-unit and tiered, licensed and metered, with lookup keys, as Stripe validates them.

Tiers are kept on the stored price but, as in Stripe, only returned when the caller expands
``tiers`` (``data.tiers`` on lists).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from tollgate.stripe_standin import listing, params
from tollgate.stripe_standin.errors import invalid, missing
from tollgate.stripe_standin.routing import Call, Route
from tollgate.stripe_standin.store import Store, new_id

Json = dict[str, Any]

_INTERVALS = ("day", "week", "month", "year")
_MAX_DECIMALS = 12  # Stripe: "a decimal value ... with at most 12 decimal places"


def render(price: Json, expand: list[str], prefix: str = "") -> Json:
    shown = copy.deepcopy(price)
    if f"{prefix}tiers" not in expand:
        shown.pop("tiers", None)
    return shown


def _decimal_string(value: Decimal | None, param: str) -> str | None:
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _MAX_DECIMALS:
        raise invalid(f"Invalid {param}: at most 12 decimal places are allowed", param=param)
    if value < 0:
        raise invalid(f"Invalid {param}: must be at least 0", param=param)
    return format(value.normalize(), "f")


def _money(obj: Json, field: str, param: str) -> tuple[int | None, str | None]:
    """``field`` and ``field_decimal`` as Stripe returns them; only one may be given."""
    whole = params.integer(obj, field)
    exact = params.decimal(obj, f"{field}_decimal")
    if whole is not None and exact is not None:
        raise invalid(
            f"You may only specify one of these parameters: {field}, {field}_decimal.",
            param=f"{param}{field}_decimal",
        )
    if whole is not None:
        if whole < 0:
            raise invalid(f"Invalid {field}: must be at least 0", param=f"{param}{field}")
        return whole, str(whole)
    text = _decimal_string(exact, f"{param}{field}_decimal")
    if text is None:
        return None, None
    integral = Decimal(text) == Decimal(text).to_integral_value()
    return (int(Decimal(text)) if integral else None), text


def _tiers(raw: list[Json]) -> list[Json]:
    if not raw:
        raise missing("tiers")
    tiers: list[Json] = []
    previous = 0
    for index, tier in enumerate(raw):
        prefix = f"tiers[{index}]["
        params.reject_unknown(
            tier,
            ("up_to", "unit_amount", "unit_amount_decimal", "flat_amount", "flat_amount_decimal"),
        )
        up_raw = params.string(tier, "up_to")
        if up_raw is None:
            raise missing(f"tiers[{index}][up_to]")
        up_to = None if up_raw == "inf" else params.integer(tier, "up_to")
        if up_to is not None and up_to <= previous:
            raise invalid("Tiers must be in increasing order of up_to.", param=f"{prefix}up_to]")
        unit, unit_decimal = _money(tier, "unit_amount", prefix)
        flat, flat_decimal = _money(tier, "flat_amount", prefix)
        if unit_decimal is None and flat_decimal is None:
            raise invalid(
                "Each tier must have a unit_amount or a flat_amount.", param=f"{prefix}unit_amount]"
            )
        tiers.append(
            {
                "flat_amount": flat,
                "flat_amount_decimal": flat_decimal,
                "unit_amount": unit,
                "unit_amount_decimal": unit_decimal,
                "up_to": up_to,
            }
        )
        previous = up_to if up_to is not None else previous
    if tiers[-1]["up_to"] is not None:
        raise invalid("The last tier must have up_to=inf.", param=f"tiers[{len(tiers) - 1}][up_to]")
    if any(t["up_to"] is None for t in tiers[:-1]):
        raise invalid("Only the last tier may have up_to=inf.", param="tiers")
    return tiers


def _recurring(store: Store, raw: Json | None) -> Json | None:
    if raw is None:
        return None
    params.reject_unknown(raw, ("interval", "interval_count", "usage_type", "meter"))
    interval = params.choice(raw, "interval", _INTERVALS)
    if interval is None:
        raise missing("recurring[interval]")
    count = params.integer(raw, "interval_count") or 1
    if count < 1:
        raise invalid("Invalid recurring[interval_count]", param="recurring[interval_count]")
    usage_type = params.choice(raw, "usage_type", ("licensed", "metered"), default="licensed")
    meter = params.string(raw, "meter")
    if usage_type == "metered" and meter is None:
        raise invalid(
            "Missing required param: recurring[meter]. Metered prices must be backed by a meter.",
            param="recurring[meter]",
            code="parameter_missing",
        )
    if usage_type == "licensed" and meter is not None:
        raise invalid(
            "recurring[meter] can only be set when recurring[usage_type] is metered.",
            param="recurring[meter]",
        )
    if meter is not None:
        store.get("billing.meter", meter, param="recurring[meter]")
    return {
        "interval": interval,
        "interval_count": count,
        "meter": meter,
        "trial_period_days": None,
        "usage_type": usage_type,
    }


def _claim_lookup_key(store: Store, price: Json, key: str | None, transfer: bool) -> None:
    if key is None:
        return
    holder = next((p for p in store.all("price") if p["lookup_key"] == key), None)
    if holder is not None and holder["id"] != price["id"]:
        if not transfer:
            raise invalid(
                f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key"
            )
        holder["lookup_key"] = None
    price["lookup_key"] = key


def _product(call: Call) -> str:
    product = params.string(call.params, "product")
    data = params.mapping(call.params, "product_data")
    if product is not None and data is not None:
        raise invalid("You may only specify one of these parameters: product, product_data.")
    if data is not None:
        params.reject_unknown(data, ("name", "metadata"))
        created: Json = {
            "id": new_id("prod"),
            "object": "product",
            "active": True,
            "created": call.now,
            "updated": call.now,
            "livemode": False,
            "metadata": {},
            "default_price": None,
            "description": None,
            "unit_label": None,
            "statement_descriptor": None,
            "name": params.required_string(data, "name"),
        }
        params.apply_metadata(created, data)
        call.store.add("product", created)
        return str(created["id"])
    if product is None:
        raise missing("product")
    call.store.get("product", product, param="product")
    return product


_CREATE = (
    "currency",
    "product",
    "product_data",
    "unit_amount",
    "unit_amount_decimal",
    "recurring",
    "billing_scheme",
    "tiers_mode",
    "tiers",
    "lookup_key",
    "transfer_lookup_key",
    "metadata",
    "nickname",
    "active",
    "tax_behavior",
    "transform_quantity",
)


def _transform_quantity(raw: Json | None, scheme: str | None) -> Json | None:
    """Stripe: divide the quantity by ``divide_by`` and round ``up`` or ``down`` before pricing
    (a package price); per-unit prices only."""
    if raw is None:
        return None
    if scheme == "tiered":
        raise invalid(
            "transform_quantity cannot be combined with tiers.", param="transform_quantity"
        )
    params.reject_unknown(raw, ("divide_by", "round"))
    divide_by = params.integer(raw, "divide_by", required=True)
    if divide_by is None or divide_by <= 0:
        raise invalid(
            "transform_quantity[divide_by] must be a positive integer.",
            param="transform_quantity[divide_by]",
        )
    rounding = params.choice(raw, "round", ("up", "down"))
    if rounding is None:
        raise missing("transform_quantity[round]")
    return {"divide_by": divide_by, "round": rounding}


def _create(call: Call) -> Json:
    p = call.params
    params.reject_unknown(p, _CREATE)
    currency = params.required_string(p, "currency").lower()
    scheme = params.choice(p, "billing_scheme", ("per_unit", "tiered"), default="per_unit")
    tiers_mode = params.choice(p, "tiers_mode", ("graduated", "volume"))
    unit, unit_decimal = _money(p, "unit_amount", "")
    tiers: list[Json] | None = None
    if scheme == "tiered":
        if unit_decimal is not None:
            raise invalid("unit_amount cannot be set on a tiered price.", param="unit_amount")
        if tiers_mode is None:
            raise missing("tiers_mode")
        tiers = _tiers(params.object_list(p, "tiers"))
    else:
        if "tiers" in p or tiers_mode is not None:
            raise invalid(
                "Tiers can only be set when billing_scheme is tiered.", param="billing_scheme"
            )
        if unit_decimal is None:
            raise missing("unit_amount")
    transform = _transform_quantity(params.mapping(p, "transform_quantity"), scheme)
    active = params.boolean(p, "active")
    with call.store.lock:
        recurring = _recurring(call.store, params.mapping(p, "recurring"))
        price: Json = {
            "id": new_id("price"),
            "object": "price",
            "active": True if active is None else active,
            "billing_scheme": scheme,
            "created": call.now,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": params.string(p, "nickname"),
            "product": _product(call),
            "recurring": recurring,
            "tax_behavior": params.string(p, "tax_behavior") or "unspecified",
            "tiers": tiers,
            "tiers_mode": tiers_mode if scheme == "tiered" else None,
            "transform_quantity": transform,
            "type": "recurring" if recurring else "one_time",
            "unit_amount": unit,
            "unit_amount_decimal": unit_decimal,
        }
        params.apply_metadata(price, p)
        _claim_lookup_key(
            call.store,
            price,
            params.string(p, "lookup_key"),
            bool(params.boolean(p, "transfer_lookup_key")),
        )
        call.store.add("price", price)
        return render(price, params.string_list(p, "expand"))


def _retrieve(call: Call) -> Json:
    with call.store.lock:
        price = call.store.get("price", call.path["id"])
        return render(price, params.string_list(call.params, "expand"))


def _update(call: Call) -> Json:
    p = call.params
    params.reject_unknown(
        p, ("active", "metadata", "lookup_key", "nickname", "transfer_lookup_key", "tax_behavior")
    )
    with call.store.lock:
        price = call.store.get("price", call.path["id"])
        active = params.boolean(p, "active")
        if active is not None:
            price["active"] = active
        if "nickname" in p:
            price["nickname"] = params.string(p, "nickname")
        if "lookup_key" in p:
            key = params.string(p, "lookup_key")
            if key is None:
                price["lookup_key"] = None
            _claim_lookup_key(
                call.store, price, key, bool(params.boolean(p, "transfer_lookup_key"))
            )
        params.apply_metadata(price, p)
        return render(price, params.string_list(p, "expand"))


def _list(call: Call) -> Json:
    p = call.params
    params.reject_unknown(
        p, (*listing.PAGINATION, "lookup_keys", "product", "active", "currency", "type")
    )
    keys = set(params.string_list(p, "lookup_keys"))
    product = params.string(p, "product")
    active = params.boolean(p, "active")
    currency = params.string(p, "currency")
    kind = params.string(p, "type")
    expand = params.string_list(p, "expand")
    with call.store.lock:
        found = [
            price
            for price in call.store.all("price")
            if (not keys or price["lookup_key"] in keys)
            and (product is None or price["product"] == product)
            and (active is None or price["active"] == active)
            and (currency is None or price["currency"] == currency.lower())
            and (kind is None or price["type"] == kind)
        ]
        result = listing.page(found, p, "/v1/prices")
        result["data"] = [render(price, expand, "data.") for price in result["data"]]
        return result


ROUTES = [
    Route("POST", "/v1/prices", _create),
    Route("GET", "/v1/prices", _list),
    Route("GET", "/v1/prices/{id}", _retrieve),
    Route("POST", "/v1/prices/{id}", _update),
]
