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

    warehouse: Path | None = Field(
        default=None,
        description="The pipeline's DuckDB file; None is warehouse.duckdb in the data directory. "
        "Only the pipeline opens it; every reader uses the published marts.",
    )
    finalization_grace_seconds: int = Field(
        default=3600,
        ge=0,
        description="How long after a cycle ends its invoice stays a draft, so usage sent late "
        "for that cycle still lands on it (Stripe's finalization grace period is one hour).",
    )

    issuer_name: str = Field(
        default="Tollgate demo issuer",
        min_length=1,
        description="Who issues the invoices: the seller named on every invoice document.",
    )
    issuer_address: str = Field(
        default="1 Example Street\n10115 Berlin\nGermany",
        description="The issuer's postal address, one line per newline.",
    )
    issuer_email: str | None = Field(
        default="billing@tollgate.example", description="Where customers write about invoices."
    )
    issuer_tax_id: str | None = Field(
        default=None, description="The issuer's VAT or tax number, printed when set."
    )

    @property
    def warehouse_path(self) -> Path:
        return (self.warehouse or self.data_dir / "warehouse.duckdb").resolve()

    @property
    def events_dir(self) -> Path:
        """Where the ingest API publishes events (Hive partitions ``date=YYYY-MM-DD/``)."""
        return (self.data_dir / "events").resolve()

    @property
    def control_snapshots_dir(self) -> Path:
        return (self.data_dir / "control-snapshots").resolve()

    @property
    def invoice_ledger_dir(self) -> Path:
        """Finalized invoices: immutable batches, written once by the pipeline, never changed."""
        return (self.data_dir / "invoices" / "finalized").resolve()

    @property
    def invoice_documents_dir(self) -> Path:
        """Each finalized invoice's PDF and JSON, written once (see tollgate/invoices/)."""
        return (self.data_dir / "invoices" / "documents").resolve()

    @property
    def marts_dir(self) -> Path:
        """Published marts: what the API and dashboards read (see tollgate/warehouse/)."""
        return (self.data_dir / "marts").resolve()

    @property
    def control_database_url(self) -> str:
        if self.control_url:
            return self.control_url
        return f"sqlite:///{self.data_dir / 'control.sqlite'}"

    def catalogue(self) -> Catalogue:
        return default_catalogue(self.plans_file)
