"""``/webhook-endpoints`` on both control-plane backends: what is accepted, what is refused
(always 422 with a reason, never a 500), and that endpoints are the customer's own."""

from __future__ import annotations

import pytest

from tests.billing_api.world import World


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/hooks", "is not an absolute http(s) URL"),
        ("example.com/hooks", "is not an absolute http(s) URL"),
        ("http://[::1", "is not a valid URL"),
        ("http://example.com:port/", "is not a valid URL"),
        ("http://example.com:99999/", "is not a valid URL"),
        ("https://exa mple.com/", "contains spaces or control characters"),
        ("https://example.com/\r\nX-Evil: 1", "contains spaces or control characters"),
        ("https://user:pw@example.com/", "must not carry credentials"),
    ],
)
def test_a_bad_url_is_refused_with_the_reason(world: World, url: str, reason: str) -> None:
    tenant = world.tenant()
    answer = world.request("POST", "/webhook-endpoints", tenant.key, json={"url": url})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_value"
    assert reason in answer.json()["error"]["message"]
    listed = world.request("GET", "/webhook-endpoints", tenant.key).json()["endpoints"]
    assert listed == []


def test_endpoints_are_the_customer_s_own(world: World) -> None:
    alice, bob = world.tenant(), world.tenant()
    created = world.request(
        "POST",
        "/webhook-endpoints",
        alice.key,
        json={"url": " https://hooks.example/a ", "description": "ops"},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["url"] == "https://hooks.example/a"
    assert endpoint["secret"].startswith("whsec_")
    assert world.request("GET", "/webhook-endpoints", bob.key).json()["endpoints"] == []
    refused = world.request("DELETE", f"/webhook-endpoints/{endpoint['id']}", bob.key)
    assert refused.status_code == 404
    removed = world.request("DELETE", f"/webhook-endpoints/{endpoint['id']}", alice.key)
    assert removed.status_code == 204
    assert world.request("GET", "/webhook-endpoints", alice.key).json()["endpoints"] == []
