"""How notification e-mail reaches an SMTP server, read from ``TOLLGATE_SMTP_*`` variables.

E-mail delivery is off until ``TOLLGATE_SMTP_HOST`` is set. Everything is checked when the
settings are read, so a mistake stops the process at start-up with one clear line instead of
turning every notification into a failed delivery later.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SmtpSecurity = Literal["none", "starttls", "tls"]


class SmtpSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_SMTP_", extra="ignore")

    host: str | None = Field(
        default=None, description="SMTP server (relay) host name; None turns e-mail delivery off."
    )
    port: int = Field(
        default=587,
        ge=1,
        le=65535,
        description="587 for submission with STARTTLS, 465 for implicit TLS, 25 for a relay.",
    )
    username: str | None = Field(default=None, description="SMTP AUTH user; None: no AUTH.")
    password: SecretStr | None = Field(default=None, description="SMTP AUTH password.")
    security: SmtpSecurity = Field(
        default="starttls",
        description="none: plain text; starttls: upgrade after connecting (refused if the server "
        "does not offer it); tls: implicit TLS from the first byte (SMTPS, usually port 465).",
    )
    sender: str = Field(
        default="Tollgate <notifications@tollgate.invalid>",
        description="The From header and the envelope sender.",
    )
    timeout_seconds: float = Field(
        default=30,
        gt=0,
        description="Limit on each network operation (connect, each command and reply).",
    )
    ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA certificates to trust instead of the system's, "
        "e.g. a private CA.",
    )
    validate_certificates: bool = Field(
        default=True,
        description="Verify the server's certificate and host name; false only for testing.",
    )

    @field_validator("host", "username")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        # An exported but empty variable (TOLLGATE_SMTP_HOST=) means "not set", not host "".
        if value is None:
            return None
        value = value.strip()
        return value or None

    @field_validator("sender")
    @classmethod
    def _sender_is_an_address(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("TOLLGATE_SMTP_SENDER must be one line")
        _, address = parseaddr(value)
        if "@" not in address:
            raise ValueError(
                f"TOLLGATE_SMTP_SENDER {value!r} has no e-mail address; "
                "expected e.g. 'Tollgate <notifications@example.com>'"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SmtpSettings:
        if self.username is not None and self.password is None:
            raise ValueError("TOLLGATE_SMTP_USERNAME is set but TOLLGATE_SMTP_PASSWORD is not")
        if self.password is not None and self.username is None:
            raise ValueError("TOLLGATE_SMTP_PASSWORD is set but TOLLGATE_SMTP_USERNAME is not")
        if self.username is not None and self.security == "none":
            raise ValueError(
                "TOLLGATE_SMTP_USERNAME is set with TOLLGATE_SMTP_SECURITY=none: the password "
                "would cross the network in clear text; use starttls or tls"
            )
        if self.ca_file is not None:
            if not self.validate_certificates:
                raise ValueError(
                    "TOLLGATE_SMTP_CA_FILE has no effect with "
                    "TOLLGATE_SMTP_VALIDATE_CERTIFICATES=false; set one or the other"
                )
            if not self.ca_file.is_file():
                raise ValueError(f"TOLLGATE_SMTP_CA_FILE {self.ca_file} is not a readable file")
        return self

    @property
    def enabled(self) -> bool:
        return self.host is not None
