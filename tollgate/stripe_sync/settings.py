"""Stripe credentials, named as the original system named them (no TOLLGATE_ prefix)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StripeSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    secret_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_SECRET_KEY"),
        description="sk_test_... or sk_live_...; unset: Tollgate runs without Stripe.",
    )
    publishable_key: str | None = Field(
        default=None, validation_alias=AliasChoices("STRIPE_PUBLISHABLE_KEY")
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STRIPE_WEBHOOK_SECRET"),
        description="whsec_...: verifies POST /webhooks/stripe.",
    )
    api_base: str | None = Field(
        default=None,
        validation_alias=AliasChoices("TOLLGATE_STRIPE_API_BASE"),
        description="Where the SDK sends requests instead of api.stripe.com: the local Stripe "
        "stand-in (tollgate/stripe_standin) for tests and the demo.",
    )
    timeout_seconds: float = Field(
        default=30, gt=0, validation_alias=AliasChoices("TOLLGATE_STRIPE_TIMEOUT_SECONDS")
    )
    max_attempts: int = Field(
        default=6, ge=1, validation_alias=AliasChoices("TOLLGATE_STRIPE_MAX_ATTEMPTS")
    )

    @property
    def enabled(self) -> bool:
        return self.secret_key is not None
