"""Who an invoice document names: the issuer (settings) and the customer (control plane).

The API and the dashboards read the customer from the control database as the caller sees it;
the pipeline never opens that database and reads the control snapshot its run exported
instead (``tollgate.control.snapshot``), which is the same row as of that run.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from tollgate.control.snapshot import current_snapshot
from tollgate.invoices.document import Party
from tollgate.settings import TollgateSettings


def issuer(settings: TollgateSettings) -> Party:
    address = tuple(line.strip() for line in settings.issuer_address.splitlines() if line.strip())
    return Party(
        name=settings.issuer_name,
        address=address,
        email=settings.issuer_email or None,
        tax_id=settings.issuer_tax_id or None,
    )


def customer(customer_id: str, name: str, email: str | None) -> Party:
    return Party(name=name, email=email or None, id=customer_id)


def snapshot_customers(snapshots_dir: Path) -> dict[str, Party]:
    """Every customer of the current control snapshot, by id; empty if none was exported."""
    snapshot = current_snapshot(snapshots_dir)
    if snapshot is None:
        return {}
    table = pq.read_table(snapshot / "customers.parquet", columns=["id", "name", "email"])
    return {row["id"]: customer(row["id"], row["name"], row["email"]) for row in table.to_pylist()}
