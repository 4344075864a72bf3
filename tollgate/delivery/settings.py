"""How notices are delivered: ``TOLLGATE_DELIVERY_*`` (SMTP itself: ``email_settings.py``)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollgate.delivery.backoff import MAX_ATTEMPTS


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_DELIVERY_", extra="ignore")

    enabled: bool = Field(
        default=True,
        description="Run the dispatcher in the ingest API process (false: notices are listed "
        "in-app only).",
    )
    poll_seconds: float = Field(
        default=1.0, gt=0, description="How often new notices and due deliveries are looked for."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long an endpoint has to answer one attempt."
    )
    max_attempts: int = Field(
        default=MAX_ATTEMPTS, ge=1, description="Attempts before a delivery is given up."
    )
    max_age_hours: float = Field(
        default=72.0,
        gt=0,
        description="Notices older than this when first seen (e.g. old history on a first run) "
        "are listed in-app but not sent.",
    )
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long an attempt may run before a crashed sender's claim is taken "
        "over; longer than any attempt's timeout.",
    )
    max_in_flight: int = Field(default=32, ge=1, description="Deliveries sent at once.")
    max_in_flight_per_target: int = Field(
        default=4,
        ge=1,
        description="Deliveries sent at once to one endpoint or address, so that a slow one "
        "cannot take every slot.",
    )

    max_in_flight_per_customer: int = Field(
        default=8,
        ge=1,
        description="Deliveries sent at once for one customer, whatever its number of "
        "endpoints: no customer can take every slot.",
    )
    smtp_threads: int = Field(
        default=4, ge=1, description="E-mails sent at once (each blocks a thread while it runs)."
    )
    allow_private_endpoints: bool = Field(
        default=False,
        description="Deliver to webhook endpoints on loopback, private or link-local addresses "
        "(off: refused, so customers cannot reach the deployment's own network).",
    )

    @property
    def max_age(self) -> timedelta:
        return timedelta(hours=self.max_age_hours)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)
