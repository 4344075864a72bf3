"""GET /api/billing/invoices and /invoices/{id}: invoices the real pipeline produced.

acme (Professional, $79) used 600,000 tokens and 51,000 calls in its first cycle: 100,000
tokens above the 500,000 included at 0.1 cent and 1,000 calls above 50,000 at 0.006 cent, so
7,900 + 10,000 + 6 = 17,906 cents, finalized. Its current cycle is a draft of the base fee
(40,000 calls are within the included 50,000).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.billing_api.world import World


def _invoices(world: World, customer: str, **params: Any) -> dict[str, Any]:
    response = world.request("GET", "/invoices", world.tenants[customer].key, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_history_lists_finalized_and_draft_invoices_newest_first(world: World) -> None:
    body = _invoices(world, "acme")
    assert body["as_of"] is not None
    draft, finalized = body["invoices"]
    assert finalized["status"] == "finalized"
    assert finalized["number"].startswith("TG-")
    assert finalized["kind"] == "cycle"
    assert finalized["period_start"] == world.first_cycle_start.isoformat().replace("+00:00", "Z")
    assert finalized["total"] == {"amount": 17906, "currency": "usd", "decimal": "179.06"}
    assert finalized["subscription_id"] == world.tenants["acme"].subscription_id
    assert draft["status"] == "draft"
    assert draft["number"] is None
    assert draft["period_start"] == finalized["period_end"]
    assert draft["finalizes_at"] is not None
    assert draft["total"]["amount"] == 7900


def test_invoice_lines_bill_base_fee_and_usage_by_tier(world: World) -> None:
    finalized = _invoices(world, "acme", status="finalized")["invoices"]
    [invoice] = finalized
    lines = {(line["kind"], line["feature"]): line for line in invoice["lines"]}
    assert lines[("base_fee", None)]["amount"]["amount"] == 7900
    assert lines[("base_fee", None)]["description"] == "Professional plan"
    tokens = lines[("usage", "ai_tokens")]
    assert (tokens["quantity"], tokens["unit_amount"], tokens["tier"]) == ("100000", "0.1", 1)
    assert tokens["amount"]["amount"] == 10_000
    assert lines[("included", "ai_tokens")]["quantity"] == "500000"
    calls = lines[("usage", "api_calls")]
    assert (calls["quantity"], calls["amount"]["amount"]) == ("1000", 6)
    assert sum(line["amount"]["amount"] for line in invoice["lines"]) == invoice["total"]["amount"]


def test_dimension_priced_usage_has_a_line_per_value(world: World) -> None:
    [draft] = _invoices(world, "pp", status="draft")["invoices"]
    by_model = {
        line["dimension"]: line["amount"]["amount"]
        for line in draft["lines"]
        if line["feature"] == "ai_tokens"
    }
    # 2,500 tokens at 0.2 cent, 1,000 at the self-hosted model's 0.1 cent.
    assert by_model == {"gpt-4o-mini": 500, "llama-3-70b": 100}
    assert draft["total"]["amount"] == 600


def test_one_invoice_by_id(world: World) -> None:
    listed = _invoices(world, "acme")
    for invoice in listed["invoices"]:
        response = world.request("GET", f"/invoices/{invoice['id']}", world.tenants["acme"].key)
        assert response.status_code == 200
        assert response.json() == {"as_of": listed["as_of"], "invoice": invoice}


def test_an_admin_reads_the_named_customers_invoices(world: World) -> None:
    response = world.as_admin("GET", "/invoices", "acme")
    assert response.json() == _invoices(world, "acme")


def test_filters(world: World) -> None:
    drafts = _invoices(world, "acme", status="draft")["invoices"]
    assert [invoice["status"] for invoice in drafts] == ["draft"]
    response = world.request("GET", "/invoices", world.tenants["acme"].key, params={"status": "x"})
    assert response.status_code == 400


def test_a_customer_without_invoices_gets_an_empty_list(world: World) -> None:
    tenant = world.tenant("starter")
    body = world.request("GET", "/invoices", tenant.key).json()
    assert body["invoices"] == []
    assert body["as_of"] is not None


@pytest.mark.parametrize("invoice_id", ["inv_000000000000000000000000", "x" * 255])
def test_an_unknown_invoice_is_404(world: World, invoice_id: str) -> None:
    response = world.request("GET", f"/invoices/{invoice_id}", world.tenants["acme"].key)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_invoice"
