"""Limits: the plan's, with per-customer overrides on top."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tollgate.billing.catalogue.model import Enforcement
from tollgate.control.errors import ConflictError, InvalidValueError, UnknownFeatureError
from tollgate.control.service import ControlService

JAN_10 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def on_starter(service: ControlService) -> str:
    service.create_customer("cus_1", name="Acme")
    return service.subscribe("cus_1", "starter", at=JAN_10).id


def _limits(service: ControlService, at: datetime | None = None) -> dict[str, tuple[object, ...]]:
    effective = service.effective_limits("cus_1", at)
    return {f: (x.value, x.enforcement, x.source) for f, x in effective.limits.items()}


def test_effective_limits_are_the_plan_merged_with_overrides(
    service: ControlService, on_starter: str
) -> None:
    soft, hard = Enforcement.SOFT, Enforcement.HARD
    assert _limits(service) == {
        "ai_tokens": (Decimal(100000), soft, "plan"),
        "api_calls": (Decimal(10000), soft, "plan"),
        "storage": (Decimal(10), soft, "plan"),
    }
    service.set_limit("cus_1", "api_calls", 25000, Enforcement.HARD)
    service.set_limit("cus_1", "storage", None)
    assert _limits(service) == {
        "ai_tokens": (Decimal(100000), soft, "plan"),
        "api_calls": (Decimal(25000), hard, "override"),
        "storage": (None, None, "override"),
    }
    # Overrides outlive plan changes; the rest follows the new plan.
    service.change_plan(on_starter, "free", when=None)  # at period end
    after = service.effective_limits("cus_1", datetime(2026, 2, 10, 9, tzinfo=UTC))
    assert after.plan == "free"
    assert after.limits["ai_tokens"].value == Decimal(10000)
    assert after.limits["api_calls"].value == Decimal(25000)


def test_enforcement_defaults_to_the_plans(service: ControlService, on_starter: str) -> None:
    assert service.set_limit("cus_1", "api_calls", "12.5").enforcement is Enforcement.SOFT
    service.create_customer("cus_free", name="F")
    service.subscribe("cus_free", "free", at=JAN_10)
    assert service.set_limit("cus_free", "api_calls", 5).enforcement is Enforcement.HARD


def test_set_limit_and_clear_are_audited(service: ControlService, on_starter: str) -> None:
    service.set_limit("cus_1", "api_calls", 5000, Enforcement.HARD)
    service.set_limit("cus_1", "api_calls", 6000, Enforcement.SOFT)
    service.clear_limit("cus_1", "api_calls")
    entries = service.audit_entries(entity="limits", entity_id="cus_1")
    assert [e.action for e in entries] == ["limits.clear", "limits.set", "limits.set"]
    clear, second, first = entries
    assert first.before == {}
    assert first.after is not None
    assert first.after["api_calls"]["value"] == "5000"
    assert second.before is not None
    assert second.before["api_calls"]["value"] == "5000"
    assert second.after is not None
    assert second.after["api_calls"]["enforcement"] == "soft"
    assert clear.after == {}
    assert {e.actor for e in entries} == {"tests:alice"}
    assert _limits(service)["api_calls"][2] == "plan"
    with pytest.raises(ConflictError, match="has no override for 'api_calls'"):
        service.clear_limit("cus_1", "api_calls")


def test_set_limits_from_a_plan_copies_its_limits(service: ControlService, on_starter: str) -> None:
    service.set_limit("cus_1", "ai_tokens", 1)
    copied = service.set_limits_from_plan("cus_1", "professional")
    assert {o.feature: o.value for o in copied} == {
        "ai_tokens": Decimal(500000),
        "api_calls": Decimal(50000),
        "storage": Decimal(50),
    }
    assert {f: v[2] for f, v in _limits(service).items()} == dict.fromkeys(
        ("ai_tokens", "api_calls", "storage"), "override"
    )
    enterprise = service.set_limits_from_plan("cus_1", "enterprise")
    assert {o.value for o in enterprise} == {None}  # unlimited
    entry = service.audit_entries(entity="limits")[0]
    assert entry.action == "limits.copy_from_plan"
    assert entry.after is not None
    assert entry.after["plan"] == "enterprise"


def test_set_limits_from_plan_none_follows_the_current_plan(
    service: ControlService, on_starter: str
) -> None:
    service.set_limits_from_plan("cus_1", "enterprise")
    assert service.set_limits_from_plan("cus_1", None) == []
    assert service.limit_overrides("cus_1") == []
    assert {v[2] for v in _limits(service).values()} == {"plan"}
    entry = service.audit_entries(entity="limits")[0]
    assert entry.action == "limits.reset"
    assert entry.before is not None
    assert set(entry.before) == {"ai_tokens", "api_calls", "storage"}


def test_bad_limits_are_refused(service: ControlService, on_starter: str) -> None:
    with pytest.raises(UnknownFeatureError, match=r"no feature 'gpu_hours'.*it has: ai_tokens"):
        service.set_limit("cus_1", "gpu_hours", 5)
    with pytest.raises(InvalidValueError, match="must be a finite number >= 0"):
        service.set_limit("cus_1", "api_calls", -1)
    with pytest.raises(InvalidValueError, match="is not a number"):
        service.set_limit("cus_1", "api_calls", "lots")
    with pytest.raises(InvalidValueError, match="more than 9 decimal places"):
        service.set_limit("cus_1", "storage", "0.0000000001")
    assert service.limit_overrides("cus_1") == []


def test_without_a_subscription_only_overrides_apply(service: ControlService) -> None:
    service.create_customer("cus_2", name="B")
    service.set_limit("cus_2", "api_calls", 10)
    effective = service.effective_limits("cus_2")
    assert effective.plan is None
    assert list(effective.limits) == ["api_calls"]
