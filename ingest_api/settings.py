"""Configuration of the ingest API, read from ``TOLLGATE_*`` environment variables.

Invalid values fail at start-up with pydantic's message naming the variable, rather
than surfacing later as odd behaviour in the request path.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr

from tollgate.settings import TollgateSettings


def _seconds_or_iso(value: object) -> object:
    """Lets durations be given as plain seconds ("60", "2.5") as well as ISO 8601 ("P35D")."""
    if isinstance(value, str):
        try:
            return timedelta(seconds=float(value))
        except (ValueError, OverflowError):
            return value
    return value


Duration = Annotated[timedelta, BeforeValidator(_seconds_or_iso)]


class IngestSettings(TollgateSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    max_batch_events: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Stripe accepts meter events up to 35 days old and 5 minutes ahead; we use the same bounds
    # so that everything we accept can also be reported to Stripe.
    backfill_window: Duration = timedelta(days=35)
    future_tolerance: Duration = timedelta(minutes=5)
    # None means "same as backfill_window".
    dedup_window: Duration | None = None

    wal_segment_max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
    wal_segment_max_age: Duration = timedelta(seconds=60)
    # Serve POST /v1/events from the ASGI fast path (off only to measure what it saves).
    fast_path: bool = True

    # Off only for experiments; acknowledged events are not crash-safe without it.
    wal_fsync: bool = True
    # Refuse events past hard limits and keep usage current between pipeline runs. Off only
    # to measure what it costs (benchmarks/limits.py); limit checks then see published usage.
    enforce_limits: bool = True

    # Stripe's own variable names (no TOLLGATE_ prefix), as its docs and CLI use them.
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("stripe_webhook_secret", "STRIPE_WEBHOOK_SECRET"),
        description="The signing secret (whsec_...) of this server's webhook endpoint in "
        "Stripe; unset, POST /webhooks/stripe answers 503.",
    )
    stripe_webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        description="How old a Stripe-Signature timestamp may be (Stripe's default, 300 s).",
    )

    @property
    def effective_dedup_window(self) -> timedelta:
        return self.dedup_window if self.dedup_window is not None else self.backfill_window

    @property
    def wal_dir(self) -> Path:
        return self.data_dir / "wal"

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "rejections.jsonl"
