"""The Stripe stand-in, Tollgate's catalogue synced into it, and a control database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import stripe
from sqlalchemy import Engine

from tollgate.billing.catalogue import Catalogue, default_catalogue
from tollgate.control.database import open_control_database
from tollgate.stripe_standin import StripeStandin
from tollgate.stripe_sync.catalogue_sync import CatalogueSync, CatalogueSyncResult

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class World:
    standin: StripeStandin
    client: stripe.StripeClient
    catalogue: Catalogue
    synced: CatalogueSyncResult
    engine: Engine

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.standin.now(), UTC)

    def stripe_customer(self, name: str) -> str:
        return self.client.v1.customers.create({"name": name}).id

    def meter_total(self, event_name: str, customer: str, start: datetime, end: datetime) -> int:
        summaries = self.client.v1.billing.meters.event_summaries.list(
            self.synced.meters[event_name],
            {
                "customer": customer,
                "start_time": int(start.timestamp()),
                "end_time": int(end.timestamp()),
            },
        )
        return int(sum(summary.aggregated_value for summary in summaries.data))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    catalogue = default_catalogue()
    engine = open_control_database(f"sqlite:///{tmp_path / 'control.sqlite'}")
    with StripeStandin(now=int(NOW.timestamp())) as standin:
        client = standin.client(timeout=2.0)
        synced = CatalogueSync(client, attempts=1).sync(catalogue)
        yield World(standin, client, catalogue, synced, engine)
    engine.dispose()
