"""A deterministic generator of realistic usage for a few hundred customers.

Customers get a usage profile (light to heavy, lognormal like real SaaS usage) and send API
calls, AI tokens priced by model, and storage writes, spread over the last days. A small share
of events is deliberately re-sent (the server must count them once) and a few are invalid (the
server must say why), so the demo shows every outcome.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

MODELS = ("gpt-4o-mini", "claude-haiku", "llama-3-70b")
REGIONS = ("eu-west", "us-east", "ap-south")
ENDPOINTS = ("/contacts", "/deals", "/search", "/reports")


@dataclass(frozen=True, slots=True)
class GeneratedEvent:
    event_id: str
    customer_id: str
    event_type: str
    feature: str
    quantity: Decimal
    unit: str
    timestamp: datetime
    properties: dict[str, str]


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    customers: int = 300
    events: int = 20_000
    days: int = 3
    duplicate_share: float = 0.02
    invalid_share: float = 0.002
    seed: int = 7


def customer_ids(count: int) -> list[str]:
    return [f"cus_{n:05d}" for n in range(1, count + 1)]


def generate(plan: TrafficPlan, now: datetime | None = None) -> Iterator[GeneratedEvent]:
    """Yields ``plan.events`` events; re-sent duplicates reuse an earlier event's id."""
    rng = random.Random(plan.seed)
    now = now or datetime.now(UTC)
    customers = customer_ids(plan.customers)
    weights = [rng.lognormvariate(0, 1.2) for _ in customers]
    sent: list[GeneratedEvent] = []
    for n in range(plan.events):
        if sent and rng.random() < plan.duplicate_share:
            yield rng.choice(sent)
            continue
        customer = rng.choices(customers, weights)[0]
        moment = now - timedelta(seconds=rng.uniform(60, plan.days * 86_400))
        event = _event(rng, f"demo-{plan.seed}-{n:08d}", customer, moment)
        if rng.random() < plan.invalid_share:
            event = _invalid(event)
        sent.append(event)
        yield event


def _event(rng: random.Random, event_id: str, customer: str, moment: datetime) -> GeneratedEvent:
    kind = rng.choices(("api", "ai", "storage"), (0.7, 0.25, 0.05))[0]
    if kind == "api":
        return GeneratedEvent(
            event_id,
            customer,
            "api_call",
            "api_calls",
            Decimal(1),
            "call",
            moment,
            {"endpoint": rng.choice(ENDPOINTS), "region": rng.choice(REGIONS)},
        )
    if kind == "ai":
        tokens = int(rng.lognormvariate(6, 1))
        return GeneratedEvent(
            event_id,
            customer,
            "ai_tokens",
            "ai_tokens",
            Decimal(tokens),
            "token",
            moment,
            {"model": rng.choice(MODELS), "token_type": rng.choice(("prompt", "completion"))},
        )
    megabytes = Decimal(int(rng.lognormvariate(2, 1.5) * 1000)) / 1000
    return GeneratedEvent(
        event_id,
        customer,
        "storage",
        "storage",
        megabytes,
        "MB",
        moment,
        {"operation": "upload"},
    )


def _invalid(event: GeneratedEvent) -> GeneratedEvent:
    # A negative quantity: the classic client bug the server must refuse with a clear reason.
    return GeneratedEvent(
        event.event_id,
        event.customer_id,
        event.event_type,
        event.feature,
        -event.quantity - 1,
        event.unit,
        event.timestamp,
        event.properties,
    )
