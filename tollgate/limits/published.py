"""What the last pipeline publication counted: the base that live usage adds to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from tollgate.atomic_dirs import current_directory
from tollgate.warehouse.reader import NothingPublishedError, PublishedMarts

# The staging table of loaded events files, published beside the marts for this purpose.
LOADED_FILES_TABLE = "stg_ingest__event_files"


@dataclass(frozen=True)
class PublishedUsage:
    publication: str | None  # the publication's name; None: nothing published yet
    as_of: datetime | None
    # (event date ordinal, part seq) of every events file the run had loaded
    loaded: frozenset[tuple[int, int]] = frozenset()
    # (customer, feature, window start) -> used, for the windows current at as_of
    window_used: dict[tuple[str, str, datetime], Decimal] = field(default_factory=dict)
    # (customer, feature, cycle start) -> dimension value -> quantity, cycles current at as_of
    cycle_used: dict[tuple[str, str, datetime], dict[str | None, Decimal]] = field(
        default_factory=dict
    )
    # invoice id -> total (minor units) of every draft invoice: with ``cycle_used``, from the
    # same run, the base of a cycle's cost so far (``spend.py``, as the billing summary's)
    drafts: dict[str, int] = field(default_factory=dict)


NOTHING = PublishedUsage(None, None)


def current_publication(marts: PublishedMarts) -> str | None:
    """The current publication's name (one small file read): cheap enough to poll."""
    current = current_directory(marts.dest_dir)
    return None if current is None else current.name


def read_published_usage(marts: PublishedMarts, customer_id: str | None = None) -> PublishedUsage:
    """Everything the publication counted, or ``customer_id``'s usage only."""
    try:
        connection = marts.connect()
    except NothingPublishedError:
        return NOTHING
    with connection:
        name = str(connection.sql("select current_schema()").fetchall()[0][0])
        manifest = marts.manifest()
        as_of_text = manifest.get("extra", {}).get("as_of")
        if not as_of_text or LOADED_FILES_TABLE not in manifest.get("tables", {}):
            # Published by an older version, without what live usage needs: count from zero
            # plus everything on disk would double count, so treat it as nothing published.
            return NOTHING
        as_of = datetime.fromisoformat(as_of_text).astimezone(UTC)
        loaded = frozenset(
            (day.toordinal(), int(seq))
            for day, seq in connection.sql(
                f"select event_date, part_seq from {LOADED_FILES_TABLE}"  # noqa: S608
            ).fetchall()
            if isinstance(day, date)
        )
        only = "" if customer_id is None else "and customer_id = $customer"
        window_used = {
            (customer, feature, _utc(start)): Decimal(used)
            for customer, feature, start, used in connection.execute(
                f"select customer_id, feature, window_start, used from fct_limit_status "  # noqa: S608
                f"where true {only}",
                {"customer": customer_id} if customer_id is not None else {},
            ).fetchall()
        }
        cycle_used: dict[tuple[str, str, datetime], dict[str | None, Decimal]] = {}
        rows = connection.execute(
            "select customer_id, feature, cycle_start, dimension, quantity from fct_cycle_usage "  # noqa: S608
            f"where cycle_start <= $as_of and $as_of < cycle_end {only}",
            {"as_of": as_of} | ({"customer": customer_id} if customer_id is not None else {}),
        ).fetchall()
        for customer, feature, start, dimension, quantity in rows:
            cycle_used.setdefault((customer, feature, _utc(start)), {})[dimension] = Decimal(
                quantity
            )
        drafts: dict[str, int] = {}
        if "fct_invoices" in manifest.get("tables", {}):
            drafts = {
                str(invoice): int(total)
                for invoice, total in connection.execute(
                    "select invoice_id, total from fct_invoices "  # noqa: S608
                    f"where status = 'draft' {only}",
                    {"customer": customer_id} if customer_id is not None else {},
                ).fetchall()
            }
    return PublishedUsage(name, as_of, loaded, window_used, cycle_used, drafts)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
