"""The billing API's OpenAPI document: every operation described, typed and exemplified."""

from __future__ import annotations

from typing import Any

from tests.billing_api.world import World

ENVELOPE = "#/components/schemas/ErrorEnvelope"


def _operations(world: World) -> list[tuple[str, str, dict[str, Any]]]:
    document = world.client.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        if path.startswith("/api/billing/")
        for method, operation in item.items()
    ]


# What a success is answered with, where it is not 200: (method, last path segment) -> status.
_SUCCESS = {
    ("POST", "subscription"): "201",
    ("POST", "webhook-endpoints"): "201",
    ("POST", "resend"): "202",
}


def test_every_endpoint_is_documented(world: World) -> None:
    operations = _operations(world)
    assert {(method, path) for method, path, _ in operations} == {
        ("GET", "/api/billing/plans"),
        ("GET", "/api/billing/summary"),
        ("GET", "/api/billing/usage"),
        ("GET", "/api/billing/limits"),
        ("POST", "/api/billing/subscription"),
        ("PUT", "/api/billing/subscription/{subscription_id}"),
        ("DELETE", "/api/billing/subscription/{subscription_id}"),
        ("GET", "/api/billing/invoices"),
        ("GET", "/api/billing/invoices/{invoice_id}"),
        ("GET", "/api/billing/invoices/{invoice_id}/pdf"),
        ("GET", "/api/billing/invoices/{invoice_id}/document"),
        ("GET", "/api/billing/notifications"),
        ("POST", "/api/billing/notifications/mark-read"),
        ("GET", "/api/billing/notification-preferences"),
        ("PUT", "/api/billing/notification-preferences"),
        ("GET", "/api/billing/spend-thresholds"),
        ("PUT", "/api/billing/spend-thresholds"),
        ("POST", "/api/billing/estimate"),
        ("POST", "/api/billing/prorate"),
        ("PUT", "/api/billing/admin/limits"),
        ("PUT", "/api/billing/admin/limits/from-plan"),
        ("POST", "/api/billing/webhook-endpoints"),
        ("GET", "/api/billing/webhook-endpoints"),
        ("DELETE", "/api/billing/webhook-endpoints/{endpoint_id}"),
        ("GET", "/api/billing/deliveries"),
        ("POST", "/api/billing/deliveries/{delivery_id}/resend"),
        ("GET", "/api/billing/admin/deliveries"),
    }
    for method, path, operation in operations:
        where = f"{method} {path}"
        assert operation["summary"], where
        assert len(operation["description"]) > 80, where
        assert operation["tags"] == ["billing"], where
        assert operation["security"] == [{"ApiKey": []}], where
        responses = operation["responses"]
        if path.endswith("/webhook-endpoints/{endpoint_id}"):
            assert "204" in responses, where
        elif path.endswith("/pdf"):
            assert responses["200"]["content"]["application/pdf"], where
        else:
            ok = responses[_SUCCESS.get((method, path.rsplit("/", 1)[-1]), "200")]
            assert ok["content"]["application/json"]["schema"]["$ref"], where
        errors = {"401", "422"} | (
            {"400", "403", "404"}
            if not path.endswith(("plans", "admin/deliveries"))
            else {"400", "403"}
            if path.endswith("admin/deliveries")
            else set()
        )
        for status in errors:
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": ENVELOPE}, (where, status)
        if "requestBody" in operation:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            schemas = world.client.get("/openapi.json").json()["components"]["schemas"]
            assert schemas[ref.rsplit("/", 1)[1]]["examples"], where


def test_changes_document_conflicts(world: World) -> None:
    for method, path, operation in _operations(world):
        if "subscription" in path or path.endswith("prorate"):
            assert "409" in operation["responses"], f"{method} {path}"


def test_the_customer_parameter_is_documented(world: World) -> None:
    for method, path, operation in _operations(world):
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        if path.endswith("/plans"):
            assert "customer_id" not in names
        else:
            assert "customer_id" in names, f"{method} {path}"
