"""Customers and products: plain CRUD with metadata, as Stripe documents them."""

from __future__ import annotations

from typing import Any

from tollgate.stripe_standin import listing, params
from tollgate.stripe_standin.errors import StripeError, invalid
from tollgate.stripe_standin.routing import Call, Route, retrieve
from tollgate.stripe_standin.store import new_id

Json = dict[str, Any]

_CUSTOMER_FIELDS = ("name", "email", "description", "phone")


def _create_customer(call: Call) -> Json:
    params.reject_unknown(call.params, (*_CUSTOMER_FIELDS, "metadata"))
    customer: Json = {
        "id": new_id("cus"),
        "object": "customer",
        "balance": 0,
        "created": call.now,
        "currency": None,
        "delinquent": False,
        "invoice_prefix": None,
        "livemode": False,
        "metadata": {},
        **{f: params.string(call.params, f) for f in _CUSTOMER_FIELDS},
    }
    params.apply_metadata(customer, call.params)
    with call.store.lock:
        return call.store.add("customer", customer)


def _retrieve_customer(call: Call) -> Json:
    with call.store.lock:
        customer = call.store.find("customer", call.path["id"])
        deleted = call.store.find("customer.deleted", call.path["id"])
    if customer is not None:
        return customer
    if deleted is not None:
        # Stripe still answers for a deleted customer, with a tombstone.
        return deleted
    return call.store.get("customer", call.path["id"])


def _update_customer(call: Call) -> Json:
    params.reject_unknown(call.params, (*_CUSTOMER_FIELDS, "metadata"))
    with call.store.lock:
        customer = call.store.get("customer", call.path["id"])
        for f in _CUSTOMER_FIELDS:
            if f in call.params:
                customer[f] = params.string(call.params, f)
        params.apply_metadata(customer, call.params)
        return customer


def _delete_customer(call: Call) -> Json:
    with call.store.lock:
        customer = call.store.get("customer", call.path["id"])
        del call.store.table("customer")[customer["id"]]
        tombstone = {"id": customer["id"], "object": "customer", "deleted": True}
        return call.store.add("customer.deleted", tombstone)


def _list_customers(call: Call) -> Json:
    params.reject_unknown(call.params, (*listing.PAGINATION, "email"))
    email = params.string(call.params, "email")
    with call.store.lock:
        found = [c for c in call.store.all("customer") if email is None or c["email"] == email]
    return listing.page(found, call.params, "/v1/customers")


_PRODUCT_TEXT = ("name", "description", "unit_label", "statement_descriptor")


def _create_product(call: Call) -> Json:
    params.reject_unknown(call.params, (*_PRODUCT_TEXT, "id", "active", "metadata"))
    product_id = params.string(call.params, "id") or new_id("prod")
    active = params.boolean(call.params, "active")
    product: Json = {
        "id": product_id,
        "object": "product",
        "active": True if active is None else active,
        "created": call.now,
        "updated": call.now,
        "livemode": False,
        "metadata": {},
        "default_price": None,
        **{f: params.string(call.params, f) for f in _PRODUCT_TEXT},
    }
    product["name"] = params.required_string(call.params, "name")
    params.apply_metadata(product, call.params)
    with call.store.lock:
        if call.store.find("product", product_id) is not None:
            raise StripeError(
                400,
                f"Product already exists with id: {product_id}",
                code="resource_already_exists",
                param="id",
            )
        return call.store.add("product", product)


def _update_product(call: Call) -> Json:
    params.reject_unknown(call.params, (*_PRODUCT_TEXT, "active", "metadata"))
    with call.store.lock:
        product = call.store.get("product", call.path["id"])
        for f in _PRODUCT_TEXT:
            if f in call.params:
                if f == "name" and not params.string(call.params, f):
                    raise invalid("A product must have a name.", param="name")
                product[f] = params.string(call.params, f)
        active = params.boolean(call.params, "active")
        if active is not None:
            product["active"] = active
        params.apply_metadata(product, call.params)
        product["updated"] = call.now
        return product


def _list_products(call: Call) -> Json:
    params.reject_unknown(call.params, (*listing.PAGINATION, "active", "ids"))
    active = params.boolean(call.params, "active")
    ids = set(params.string_list(call.params, "ids"))
    with call.store.lock:
        found = [
            p
            for p in call.store.all("product")
            if (active is None or p["active"] == active) and (not ids or p["id"] in ids)
        ]
    return listing.page(found, call.params, "/v1/products")


ROUTES = [
    Route("POST", "/v1/customers", _create_customer),
    Route("GET", "/v1/customers", _list_customers),
    Route("GET", "/v1/customers/{id}", _retrieve_customer),
    Route("POST", "/v1/customers/{id}", _update_customer),
    Route("DELETE", "/v1/customers/{id}", _delete_customer),
    Route("POST", "/v1/products", _create_product),
    Route("GET", "/v1/products", _list_products),
    Route("GET", "/v1/products/{id}", retrieve("product")),
    Route("POST", "/v1/products/{id}", _update_product),
]
