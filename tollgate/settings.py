"""Configuration shared by every Tollgate process, read from ``TOLLGATE_*`` environment variables.

The ingest API, the operator CLI, the pipeline and the demo all find the data directory, the
plan catalogue and the control-plane database the same way, so they always agree on them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollgate.billing.catalogue import Catalogue, default_catalogue


class TollgateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Root of WAL, Parquet and the control database."
    )
    plans_file: Path | None = Field(
        default=None, description="Plan catalogue YAML; None is the bundled catalogue."
    )
    control_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the control database (customers, subscriptions, keys); "
        "None is SQLite in the data directory. PostgreSQL: postgresql+psycopg://user@host/db.",
    )

    @property
    def control_database_url(self) -> str:
        if self.control_url:
            return self.control_url
        return f"sqlite:///{self.data_dir / 'control.sqlite'}"

    def catalogue(self) -> Catalogue:
        return default_catalogue(self.plans_file)
