"""The /_standin/ helpers over HTTP, for drivers that are not in-process (the demo)."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.stripe_standin.conftest import T0, make_customer
from tollgate.stripe_standin import StripeStandin


def test_clock_and_faults_over_http(client: stripe.StripeClient, standin: StripeStandin) -> None:
    with httpx.Client(base_url=standin.url) as http:
        assert http.post("/_standin/clock", json={"advance": 60}).json() == {"now": T0 + 60}
        assert standin.now() == T0 + 60
        added = http.post(
            "/_standin/faults", json={"method": "POST", "path": "/v1/customers", "kind": "500"}
        )
        assert added.json()["faults"][0]["remaining"] == 1
        with pytest.raises(stripe.APIError):
            make_customer(client)
        counts = http.get("/_standin/requests").json()["requests"]
        assert counts["POST /v1/customers"] == 1
        assert http.post("/_standin/faults", json={"kind": "nope"}).status_code == 400
        assert http.delete("/_standin/faults").json() == {"faults": []}


def test_only_configured_keys_are_accepted() -> None:
    with StripeStandin(api_keys={"sk_test_one"}) as standin:
        make_customer(standin.client("sk_test_one"))
        with pytest.raises(stripe.AuthenticationError):
            make_customer(standin.client("sk_test_two"))
