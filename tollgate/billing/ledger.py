"""The invoice ledger: finalized invoices, written once and never changed.

Drafts are recomputed by every pipeline run; a finalized invoice is not. When a cycle has ended
and its grace period has passed, the pipeline appends the draft as it stands to the ledger, as
one immutable batch directory of Parquet files (``batch-<n>/invoices.parquet`` and
``lines.parquet``), numbered in order. The warehouse is derived state that can be rebuilt from
events, the control snapshot and this ledger; the ledger itself is the financial record, so a
re-run, a changed catalogue or a late event can never alter what a customer was invoiced.

Writes are atomic (a temporary directory renamed into place): a crash leaves either the whole
batch or none of it, and a re-run finalizes what is still unfinalized, once.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tollgate.atomic_dirs import fsync_directory, fsync_tree

INVOICES_FILE = "invoices.parquet"
LINES_FILE = "lines.parquet"
NUMBER_PREFIX = "TG-"

_TIMESTAMP = pa.timestamp("us", tz="UTC")
_QUANTITY = pa.decimal128(38, 18)
_BATCH = re.compile(r"^batch-(\d{6})$")

INVOICES_SCHEMA = pa.schema(
    [
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("invoice_number", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        # cycle: a billing cycle's invoice; adjustments: late usage after the last cycle ended.
        pa.field("invoice_kind", pa.string(), nullable=False),
        pa.field("subscription_id", pa.string()),
        pa.field("cycle_id", pa.string()),
        pa.field("period_start", _TIMESTAMP, nullable=False),
        pa.field("period_end", _TIMESTAMP, nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        pa.field("subtotal", pa.int64(), nullable=False),
        pa.field("total", pa.int64(), nullable=False),
        pa.field("finalized_at", _TIMESTAMP, nullable=False),
        pa.field("batch", pa.int64(), nullable=False),
    ]
)

LINES_SCHEMA = pa.schema(
    [
        pa.field("line_id", pa.string(), nullable=False),
        pa.field("invoice_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        # base_fee, proration_credit, proration_charge, included, usage, adjustment
        pa.field("line_kind", pa.string(), nullable=False),
        # The cycle whose usage or fee this line bills (for an adjustment: the earlier one).
        pa.field("cycle_id", pa.string(), nullable=False),
        pa.field("applies_from", _TIMESTAMP, nullable=False),
        pa.field("applies_to", _TIMESTAMP, nullable=False),
        pa.field("plan", pa.string(), nullable=False),
        pa.field("feature", pa.string()),
        pa.field("dimension", pa.string()),
        pa.field("tier", pa.int32()),
        pa.field("description", pa.string(), nullable=False),
        pa.field("quantity", _QUANTITY, nullable=False),
        # Exact decimals in minor units, as text (sub-cent prices do not fit an integer).
        pa.field("unit_amount", pa.string()),
        pa.field("flat_amount", pa.string()),
        pa.field("exact_amount", pa.string()),
        pa.field("amount", pa.int64(), nullable=False),
        pa.field("currency", pa.string(), nullable=False),
        # The events behind a usage line: part files with seq in (from, to] (see docs).
        pa.field("trace_seq_from", pa.int64()),
        pa.field("trace_seq_to", pa.int64()),
        pa.field("sort_order", pa.int32(), nullable=False),
    ]
)


class LedgerError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Batch:
    number: int
    path: Path


def batches(ledger_dir: Path) -> list[Batch]:
    if not ledger_dir.is_dir():
        return []
    found = [
        Batch(int(match.group(1)), path)
        for path in ledger_dir.iterdir()
        if (match := _BATCH.match(path.name)) and path.is_dir()
    ]
    return sorted(found, key=lambda batch: batch.number)


def ensure_ledger(ledger_dir: Path) -> None:
    """Writes the empty first batch, so readers' globs match before anything is finalized."""
    if not batches(ledger_dir):
        _write_batch(ledger_dir, 0, INVOICES_SCHEMA.empty_table(), LINES_SCHEMA.empty_table())


def finalized_invoice_ids(ledger_dir: Path) -> set[str]:
    ids: set[str] = set()
    for batch in batches(ledger_dir):
        column = pq.read_table(batch.path / INVOICES_FILE, columns=["invoice_id"])["invoice_id"]
        ids.update(column.to_pylist())
    return ids


def append_batch(
    ledger_dir: Path, invoices: pa.Table, lines: pa.Table, *, finalized_at: datetime
) -> Batch | None:
    """Finalizes ``invoices`` (draft headers) with their ``lines``; returns the new batch.

    Invoices already in the ledger are skipped, so a re-run after a crash finalizes each
    invoice exactly once. Numbers continue the ledger's sequence, in the order given.
    """
    ensure_ledger(ledger_dir)
    # One finalizer at a time, whatever process or Dagster instance it runs in: the set of
    # finalized ids and the next number must come from the same state of the ledger.
    with _exclusive(ledger_dir):
        return _append(ledger_dir, invoices, lines, finalized_at)


@contextmanager
def _exclusive(ledger_dir: Path) -> Iterator[None]:
    with (ledger_dir / ".lock").open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _append(
    ledger_dir: Path, invoices: pa.Table, lines: pa.Table, finalized_at: datetime
) -> Batch | None:
    done = finalized_invoice_ids(ledger_dir)
    invoices = invoices.filter(
        pc.invert(pc.is_in(invoices["invoice_id"], pa.array(sorted(done), pa.string())))
    )
    if invoices.num_rows == 0:
        return None
    lines = lines.filter(pc.is_in(lines["invoice_id"], invoices["invoice_id"]))
    _check_totals(invoices, lines)
    existing = batches(ledger_dir)
    number = existing[-1].number + 1
    first = _invoice_count(existing) + 1
    numbers = [f"{NUMBER_PREFIX}{first + i:06d}" for i in range(invoices.num_rows)]
    stamped = (
        invoices.append_column("invoice_number", pa.array(numbers))
        .append_column("finalized_at", pa.array([finalized_at] * invoices.num_rows, _TIMESTAMP))
        .append_column("batch", pa.array([number] * invoices.num_rows, pa.int64()))
    )
    path = _write_batch(
        ledger_dir,
        number,
        stamped.select(INVOICES_SCHEMA.names).cast(INVOICES_SCHEMA),
        lines.select(LINES_SCHEMA.names).cast(LINES_SCHEMA),
    )
    return Batch(number, path)


def _check_totals(invoices: pa.Table, lines: pa.Table) -> None:
    # The last guard before money becomes final: a header must equal the sum of its lines.
    sums: dict[str, int] = {}
    for invoice_id, amount in zip(
        lines["invoice_id"].to_pylist(), lines["amount"].to_pylist(), strict=True
    ):
        sums[invoice_id] = sums.get(invoice_id, 0) + amount
    for invoice_id, total in zip(
        invoices["invoice_id"].to_pylist(), invoices["total"].to_pylist(), strict=True
    ):
        if sums.get(invoice_id, 0) != total:
            raise LedgerError(
                f"invoice {invoice_id}: total {total} is not the sum of its lines "
                f"({sums.get(invoice_id, 0)}); nothing was finalized"
            )


def _invoice_count(existing: list[Batch]) -> int:
    return sum(pq.read_metadata(batch.path / INVOICES_FILE).num_rows for batch in existing)


def _write_batch(ledger_dir: Path, number: int, invoices: pa.Table, lines: pa.Table) -> Path:
    ledger_dir.mkdir(parents=True, exist_ok=True)
    final = ledger_dir / f"batch-{number:06d}"
    staging = ledger_dir / f".batch-{number:06d}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        pq.write_table(invoices, staging / INVOICES_FILE, compression="zstd")
        pq.write_table(lines, staging / LINES_FILE, compression="zstd")
        fsync_tree(staging)
        # rename fails if the batch exists: two writers can never both finalize batch n.
        os.rename(staging, final)
        fsync_directory(ledger_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final
