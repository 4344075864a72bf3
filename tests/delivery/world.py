"""An in-process delivery world: a control database, a dispatcher with a clock the test moves,
a real webhook receiver and (optionally) a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.identifiers import notification_id
from tollgate.control.database import open_control_database
from tollgate.control.deliveries import Claim, DeliveryLedger
from tollgate.control.models import RaisedNotification
from tollgate.control.service import ControlService
from tollgate.control.webhook_endpoints import CreatedEndpoint, WebhookEndpoints
from tollgate.delivery.dispatcher import Dispatcher
from tollgate.delivery.email_settings import SmtpSettings
from tollgate.delivery.settings import DeliverySettings
from tollgate.delivery.sources import NoticeSources
from tollgate.warehouse.reader import PublishedMarts

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class DeliveryWorld:
    data_dir: Path
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings(host=None))
    settings: DeliverySettings = field(
        default_factory=lambda: DeliverySettings(
            webhook_timeout_seconds=5, allow_private_endpoints=True
        )
    )
    clock: Clock = field(default_factory=Clock)

    def __post_init__(self) -> None:
        self.engine = open_control_database(f"sqlite:///{self.data_dir / 'control.sqlite'}")
        self.control = ControlService(
            self.engine, default_catalogue(), actor="tests", clock=self.clock
        )
        self.ledger = DeliveryLedger(self.engine, clock=self.clock)
        self.endpoints = WebhookEndpoints(self.engine, actor="tests", clock=self.clock)
        self.marts = PublishedMarts(self.data_dir / "marts")
        self.dispatcher = self.new_dispatcher()

    def new_dispatcher(self) -> Dispatcher:
        """A dispatcher as a fresh process would make: no memory of the previous one."""
        sources = NoticeSources(
            self.ledger, self.marts, max_age=self.settings.max_age, clock=self.clock
        )
        return Dispatcher(
            self.ledger,
            sources,
            self.control.notification_preferences,
            self.settings,
            self.smtp,
            clock=self.clock,
        )

    def customer(self, customer_id: str, email: str | None = None) -> str:
        self.control.create_customer(customer_id, name=f"Customer {customer_id}", email=email)
        return customer_id

    def endpoint(self, customer_id: str, url: str) -> CreatedEndpoint:
        return self.endpoints.create(customer_id, url)

    def raise_notice(
        self,
        customer_id: str,
        *,
        feature: str = "api_calls",
        threshold: int = 75,
        kind: str = "limit_warning",
        created_at: datetime | None = None,
        raised_at: datetime | None = None,
    ) -> str:
        window_start = datetime(2026, 11, 1, tzinfo=UTC)
        ntf = notification_id(customer_id, kind, feature, window_start, threshold)
        self.control.raise_notification(
            RaisedNotification(
                notification_id=ntf,
                customer_id=customer_id,
                notification_type=kind,
                severity="warning",
                feature=feature,
                threshold_percent=threshold,
                window_start=window_start,
                window_end=datetime(2026, 12, 1, tzinfo=UTC),
                created_at=created_at or self.clock.now,
                raised_at=raised_at or self.clock.now,
                title=f"API calls at {threshold}% of the limit",
                message=f"API calls usage reached {threshold}% of the hard limit.",
            )
        )
        return ntf

    def run(self, dispatcher: Dispatcher | None = None) -> int:
        """One tick, then waits for every delivery it started to be recorded."""
        chosen = dispatcher or self.dispatcher

        async def once() -> int:
            started = await chosen.tick()
            await chosen.close()
            return started

        return asyncio.run(once())

    def take_up(self) -> int:
        """What a dispatcher's tick does first: the notices raised are taken up (webhooks)."""
        return self.ledger.take_up(
            self.ledger.raised_not_taken_up(self.clock.now - timedelta(days=1)),
            channels={"webhook"},
            preferences=self.control.notification_preferences,
            max_age=timedelta(days=3),
        )

    def claim_as_a_sender_that_dies(self) -> Claim:
        """What a dispatcher does up to its first send, after which its process dies."""
        self.take_up()
        [claimed] = self.ledger.claim(limit=10, lease=self.settings.lease)
        return claimed

    def statuses(self) -> dict[str, str]:
        return {d.delivery_id: d.status for d in self.ledger.log()}


def after(clock: Clock, minutes: float) -> Callable[[], None]:
    return lambda: clock.advance(timedelta(minutes=minutes))
