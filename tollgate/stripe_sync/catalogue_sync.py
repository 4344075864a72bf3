"""Mirrors the plan catalogue in Stripe: a product per plan, a meter per billable feature (and
dimension value), and prices that price exactly as Tollgate does.

Idempotent: products have Tollgate's ids, meters are found by event name, prices by lookup
key and compared by fingerprint. A re-run creates nothing; a changed price (Stripe prices are
immutable) becomes a new price that takes over the lookup key, and the old one is archived.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import stripe

from tollgate.billing.catalogue import Catalogue
from tollgate.stripe_sync.client import call, metadata_of
from tollgate.stripe_sync.naming import METADATA_FINGERPRINT, METADATA_PLAN, product_id
from tollgate.stripe_sync.price_specs import PriceSpec, meter_event_names, price_specs

T = TypeVar("T")


@dataclass
class CatalogueSyncResult:
    created: list[str] = field(default_factory=list)  # "product tollgate_plan_starter", ...
    updated: list[str] = field(default_factory=list)
    archived: list[str] = field(default_factory=list)
    unchanged: int = 0
    # lookup key -> price id, and meter event name -> meter id, as they stand after the sync
    prices: dict[str, str] = field(default_factory=dict)
    meters: dict[str, str] = field(default_factory=dict)


class CatalogueSync:
    def __init__(self, client: stripe.StripeClient, *, attempts: int = 6) -> None:
        self._client = client
        self._attempts = attempts

    def _call(self, operation: Callable[[], T]) -> T:
        return call(operation, attempts=self._attempts)

    def sync(self, catalogue: Catalogue) -> CatalogueSyncResult:
        result = CatalogueSyncResult()
        for name, plan in catalogue.plans.items():
            self._product(name, plan.display_name, plan.description, result)
        meters = {
            meter.event_name: meter
            for meter in self._call(
                lambda: self._client.v1.billing.meters.list({"limit": 100})
            ).auto_paging_iter()
        }
        for event_name, feature in sorted(meter_event_names(catalogue).items()):
            display = catalogue.features[feature].display_name
            self._meter(event_name, display, meters, result)
        for spec in price_specs(catalogue):
            self._price(spec, result)
        return result

    def _product(self, plan: str, name: str, description: str, result: CatalogueSyncResult) -> None:
        wanted: dict[str, Any] = {"name": name, "metadata": {METADATA_PLAN: plan}, "active": True}
        if description:
            wanted["description"] = description
        try:
            product = self._call(lambda: self._client.v1.products.retrieve(product_id(plan)))
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise
            self._call(
                lambda: self._client.v1.products.create(
                    cast(Any, {"id": product_id(plan), **wanted}),
                    {"idempotency_key": f"tollgate-product-{plan}"},
                )
            )
            result.created.append(f"product {product_id(plan)}")
            return
        if product.name != name or (product.description or "") != description or not product.active:
            self._call(lambda: self._client.v1.products.update(product_id(plan), cast(Any, wanted)))
            result.updated.append(f"product {product_id(plan)}")
        else:
            result.unchanged += 1

    def _meter(
        self,
        event_name: str,
        display: str,
        existing: dict[str, stripe.billing.Meter],
        result: CatalogueSyncResult,
    ) -> None:
        meter = existing.get(event_name)
        if meter is None:
            created = self._call(
                lambda: self._client.v1.billing.meters.create(
                    {
                        "display_name": f"{display} ({event_name})",
                        "event_name": event_name,
                        # Tollgate sends each cycle's billable quantity as increments.
                        "default_aggregation": {"formula": "sum"},
                        "customer_mapping": {
                            "type": "by_id",
                            "event_payload_key": "stripe_customer_id",
                        },
                        "value_settings": {"event_payload_key": "value"},
                    },
                    {"idempotency_key": f"tollgate-meter-{event_name}"},
                )
            )
            result.created.append(f"meter {event_name}")
            result.meters[event_name] = created.id
            return
        if meter.status != "active":
            self._call(lambda: self._client.v1.billing.meters.reactivate(meter.id))
            result.updated.append(f"meter {event_name}")
        else:
            result.unchanged += 1
        result.meters[event_name] = meter.id

    def _price(self, spec: PriceSpec, result: CatalogueSyncResult) -> None:
        found = self._call(
            lambda: self._client.v1.prices.list({"lookup_keys": [spec.lookup_key], "limit": 1})
        ).data
        current = found[0] if found else None
        if (
            current is not None
            and metadata_of(current).get(METADATA_FINGERPRINT) == spec.fingerprint
        ):
            result.prices[spec.lookup_key] = current.id
            nickname = spec.params.get("nickname")
            if current.nickname != nickname:  # a name, not a charge: prices allow changing it
                self._call(
                    lambda: self._client.v1.prices.update(
                        current.id, cast(Any, {"nickname": nickname})
                    )
                )
                result.updated.append(f"price {spec.lookup_key} (nickname)")
            else:
                result.unchanged += 1
            return
        meter_id = result.meters.get(spec.event_name) if spec.event_name else None
        created = self._call(
            lambda: self._client.v1.prices.create(
                cast(Any, spec.create_params(meter_id)),
                {"idempotency_key": _price_key(spec, current)},
            )
        )
        result.prices[spec.lookup_key] = created.id
        if current is None:
            result.created.append(f"price {spec.lookup_key}")
            return
        # The new price took the lookup key; subscriptions move to it at their next sync.
        self._call(lambda: self._client.v1.prices.update(current.id, {"active": False}))
        result.updated.append(f"price {spec.lookup_key}")
        result.archived.append(current.id)


def _price_key(spec: PriceSpec, current: stripe.Price | None) -> str:
    # The price it replaces is part of the key: going back to an earlier price within a day
    # must create it again, not replay the archived one.
    replaces = current.id if current is not None else "new"
    return f"tollgate-price-{spec.lookup_key}-{spec.fingerprint}-{replaces}"
