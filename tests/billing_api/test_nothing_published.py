"""Before the pipeline's first run: empty lists and ``as_of: null``, never an error."""

from __future__ import annotations

from tests.billing_api.world import World


def test_reads_answer_empty_until_the_pipeline_publishes(bare_world: World) -> None:
    tenant = bare_world.tenant("starter")
    invoices = bare_world.request("GET", "/invoices", tenant.key)
    assert invoices.status_code == 200
    assert invoices.json() == {"as_of": None, "invoices": []}
    notices = bare_world.request("GET", "/notifications", tenant.key)
    assert notices.json() == {"as_of": None, "notifications": []}
    one = bare_world.request("GET", "/invoices/inv_000000000000000000000000", tenant.key)
    assert one.status_code == 404
    assert bare_world.request("GET", "/usage", tenant.key).json()["days"] == []


def test_the_summary_prices_the_cycle_without_a_draft(bare_world: World) -> None:
    tenant = bare_world.tenant("professional")
    summary = bare_world.request("GET", "/summary", tenant.key).json()
    assert summary["as_of"] is None
    assert summary["cost"]["basis"] == "live_estimate"
    assert summary["cost"]["so_far"]["amount"] == 7900
    limits = bare_world.request("GET", "/limits", tenant.key).json()["limits"]
    assert {limit["used"] for limit in limits} == {"0"}
