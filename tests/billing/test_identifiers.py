"""Deterministic identifiers: the same facts give the same id in every process, forever."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tollgate.billing.identifiers import invoice_id, line_id, notification_id

MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def test_ids_are_a_prefix_and_the_hash_of_canonical_fields() -> None:
    assert invoice_id("cus_1", MARCH) == "inv_" + sha("cus_1\x1f2026-03-01T00:00:00.000000+00:00")
    assert line_id("inv_x", "usage", "ai_tokens") == "il_" + sha("inv_x\x1fusage\x1fai_tokens")
    assert notification_id("cus_1", "usage_alert", "ai_tokens", MARCH, 90) == "ntf_" + sha(
        "cus_1\x1fusage_alert\x1fai_tokens\x1f2026-03-01T00:00:00.000000+00:00\x1f90"
    )
    # A missing feature or threshold is the empty field.
    assert notification_id("cus_1", "cycle_end", None, MARCH, None) == "ntf_" + sha(
        "cus_1\x1fcycle_end\x1f\x1f2026-03-01T00:00:00.000000+00:00\x1f"
    )


def test_ids_never_change() -> None:
    # Stored ids depend on these exact values: a change here needs a migration, not a new
    # expected value.
    assert invoice_id("cus_1", MARCH) == "inv_73236db842609e52169e3716"
    assert line_id("inv_x", "usage", "ai_tokens") == "il_ea83b6fab146427b27e13f6f"
    assert notification_id("cus_1", "usage_alert", None, MARCH, None) == (
        "ntf_49b35569b3590f673d68d0f9"
    )


def test_the_instant_counts_not_its_time_zone() -> None:
    berlin = MARCH.astimezone(ZoneInfo("Europe/Berlin"))  # 01:00 local
    plus_five = MARCH.astimezone(timezone(timedelta(hours=5)))
    assert (
        invoice_id("cus_1", berlin) == invoice_id("cus_1", plus_five) == invoice_id("cus_1", MARCH)
    )
    # Microseconds are part of the instant.
    later = MARCH + timedelta(microseconds=1)
    assert invoice_id("cus_1", later) == "inv_" + sha("cus_1\x1f2026-03-01T00:00:00.000001+00:00")


def test_every_field_matters() -> None:
    base = ("cus_1", "usage_alert", "ai_tokens", MARCH, 90)
    variants: list[tuple[Any, ...]] = [
        ("cus_2", "usage_alert", "ai_tokens", MARCH, 90),
        ("cus_1", "limit_reached", "ai_tokens", MARCH, 90),
        ("cus_1", "usage_alert", "api_calls", MARCH, 90),
        ("cus_1", "usage_alert", "ai_tokens", MARCH + timedelta(seconds=1), 90),
        ("cus_1", "usage_alert", "ai_tokens", MARCH, 75),
        ("cus_1", "usage_alert", "ai_tokens", MARCH, None),
    ]
    ids = {notification_id(*base), *(notification_id(*variant) for variant in variants)}
    assert len(ids) == 1 + len(variants)
    # Kinds and prefixes keep the id spaces apart.
    assert invoice_id("cus_1", MARCH).startswith("inv_")
    assert len(invoice_id("cus_1", MARCH)) == len("inv_") + 24


def test_fields_cannot_be_confused() -> None:
    # The separator inside a field would make ("a\x1fb", "c") and ("a", "b\x1fc") collide.
    with pytest.raises(ValueError, match="cannot contain U\\+001F"):
        line_id("inv_x", "usage\x1fai", "tokens")


@pytest.mark.parametrize(
    "call",
    [
        lambda: invoice_id("cus_1", datetime(2026, 3, 1)),  # naive on purpose
        lambda: notification_id("cus_1", "k", None, datetime(2026, 3, 1), 90),
    ],
)
def test_naive_timestamps_are_refused(call: Any) -> None:
    with pytest.raises(ValueError, match="must be timezone-aware"):
        call()


def test_missing_required_fields_are_refused() -> None:
    # What a SQL NULL becomes: refused, never hashed as "None".
    with pytest.raises(ValueError, match="must be text, got NoneType"):
        invoice_id(None, MARCH)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must be an integer"):
        notification_id("cus_1", "k", None, MARCH, "90")  # type: ignore[arg-type]
