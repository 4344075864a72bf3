"""Everything one stand-in instance holds, and the test-helper operations on it.

The ``/_standin/`` HTTP routes and :class:`~tollgate.stripe_standin.server.StripeStandin`
both call these methods, so a test can drive the stand-in in-process or over HTTP alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tollgate.stripe_standin import billing, webhooks
from tollgate.stripe_standin.errors import invalid
from tollgate.stripe_standin.faults import Faults
from tollgate.stripe_standin.idempotency import IdempotencyKeys
from tollgate.stripe_standin.store import Clock, Store

Json = dict[str, Any]


@dataclass
class StandinState:
    # None accepts any test-mode secret key (sk_test_…); otherwise exactly these keys.
    api_keys: frozenset[str] | None = None
    store: Store = field(default_factory=Store)
    faults: Faults = field(default_factory=Faults)
    idempotency: IdempotencyKeys = field(default_factory=IdempotencyKeys)
    retry_policy: webhooks.RetryPolicy = field(default_factory=webhooks.RetryPolicy)
    dispatcher: webhooks.Dispatcher = field(init=False)

    def __post_init__(self) -> None:
        self.dispatcher = webhooks.Dispatcher(self.store, self.retry_policy)
        self.store.on_event = self.dispatcher

    @property
    def clock(self) -> Clock:
        return self.store.clock

    def accepts(self, api_key: str) -> bool:
        if self.api_keys is None:
            return api_key.startswith("sk_test_") and len(api_key) > len("sk_test_")
        return api_key in self.api_keys

    # --- test helpers -------------------------------------------------------------------

    def add_webhook_endpoint(
        self, url: str, enabled_events: list[str] | None = None, secret: str | None = None
    ) -> Json:
        return webhooks.create_endpoint(
            self.store, url, enabled_events or ["*"], self.clock.now(), secret
        )

    def close_period(self, subscription_id: str, outcome: str = "paid") -> Json:
        _check_outcome(outcome)
        with self.store.lock:
            sub = self.store.get("subscription", subscription_id)
            if sub["status"] == "canceled":
                raise invalid(f"Subscription {subscription_id} is canceled.")
            return billing.close_period(self.store, sub, outcome, None)

    def settle_invoice(self, invoice_id: str, outcome: str) -> Json:
        _check_outcome(outcome)
        with self.store.lock:
            inv = self.store.get("invoice", invoice_id)
            if inv["status"] != "open":
                raise invalid(f"Invoice {invoice_id} is {inv['status']}, not open.")
            billing.settle(self.store, inv, outcome, None)
            return inv

    def close(self) -> None:
        self.dispatcher.close()


def _check_outcome(outcome: str) -> None:
    if outcome not in ("paid", "failed"):
        raise invalid("outcome must be paid or failed", param="outcome")
