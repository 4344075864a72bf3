"""``/invoices``: the customer's invoices with their lines, as the pipeline last published them."""

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import error_responses, not_found
from ingest_api.billing.marts import Publication, publication
from ingest_api.billing.models import Money, quantity_text
from ingest_api.billing.models_invoices import (
    InvoiceDetail,
    InvoiceLineOut,
    InvoiceList,
    InvoiceOut,
    InvoiceStatus,
)
from tollgate.warehouse.reader import PublishedMarts

router = APIRouter()

_INVOICES = """
    select invoice_id, invoice_number, invoice_kind, status, subscription_id, cycle_id,
        period_start, period_end, currency, subtotal, total, finalized_at, finalizes_at
    from fct_invoices
    where customer_id = $customer
        and ($status is null or status = $status)
        and ($invoice is null or invoice_id = $invoice)
    order by period_start desc, invoice_id
"""
_LINES = """
    select l.line_id, l.invoice_id, l.line_kind, l.description, l.plan, l.feature, l.dimension,
        l.tier, l.quantity, l.unit_amount, l.amount, l.currency, l.applies_from, l.applies_to,
        l.cycle_id
    from fct_invoice_lines as l
    where l.customer_id = $customer
        and ($invoice is null or l.invoice_id = $invoice)
    order by l.invoice_id, l.sort_order
"""


def _invoices(
    published: Publication, customer_id: str, status: str | None, invoice_id: str | None
) -> list[InvoiceOut]:
    parameters = {"customer": customer_id, "status": status, "invoice": invoice_id}
    headers = published.rows(_INVOICES, parameters)
    lines: dict[str, list[InvoiceLineOut]] = {}
    for row in published.rows(_LINES, {"customer": customer_id, "invoice": invoice_id}):
        lines.setdefault(row["invoice_id"], []).append(_line(row))
    return [_invoice(row, lines.get(row["invoice_id"], [])) for row in headers]


def _line(row: dict[str, Any]) -> InvoiceLineOut:
    return InvoiceLineOut(
        id=row["line_id"],
        kind=row["line_kind"],
        description=row["description"],
        plan=row["plan"],
        feature=row["feature"],
        dimension=row["dimension"],
        tier=row["tier"],
        quantity=quantity_text(Decimal(row["quantity"])),
        unit_amount=row["unit_amount"],
        amount=Money.of(int(row["amount"]), row["currency"]),
        applies_from=row["applies_from"],
        applies_to=row["applies_to"],
        cycle_id=row["cycle_id"],
    )


def _invoice(row: dict[str, Any], lines: list[InvoiceLineOut]) -> InvoiceOut:
    currency = row["currency"]
    return InvoiceOut(
        id=row["invoice_id"],
        number=row["invoice_number"],
        kind=row["invoice_kind"],
        status=row["status"],
        subscription_id=row["subscription_id"],
        cycle_id=row["cycle_id"],
        period_start=row["period_start"],
        period_end=row["period_end"],
        subtotal=Money.of(int(row["subtotal"]), currency),
        total=Money.of(int(row["total"]), currency),
        finalized_at=row["finalized_at"],
        finalizes_at=row["finalizes_at"],
        lines=lines,
    )


def invoice_list(marts: PublishedMarts, caller: Caller, status: str | None) -> InvoiceList:
    """What ``GET /invoices`` answers: the customer's invoices with their lines.

    Public: the dashboards' Invoices page lists invoices with it, in-process."""
    with publication(marts) as published:
        if published is None:
            return InvoiceList(as_of=None, invoices=[])
        invoices = _invoices(published, caller.customer_id, status, None)
        return InvoiceList(as_of=published.as_of, invoices=invoices)


@router.get(
    "/invoices",
    summary="List the customer's invoices with their lines",
    description=(
        "Every invoice of the customer, newest period first: finalized ones as they were "
        "finalized, and drafts as of the pipeline's last run (`as_of`), each with its lines "
        "(base fee, prorations, included and billed usage by tier, adjustments). Empty, with "
        "`as_of: null`, until the pipeline has published."
    ),
    response_model=InvoiceList,
    responses=error_responses(400, 401, 403, 404),
)
def list_invoices(
    request: Request,
    caller: CustomerCaller,
    status: Annotated[InvoiceStatus | None, Query(description="Only drafts or finalized.")] = None,
) -> InvoiceList:
    return invoice_list(request.app.state.marts, caller, status)


@router.get(
    "/invoices/{invoice_id}",
    summary="One invoice with its lines",
    description=(
        "The invoice and its lines, as in GET /api/billing/invoices. 404 if the customer has "
        "no invoice with this id (another customer's included), or nothing is published yet."
    ),
    response_model=InvoiceDetail,
    responses=error_responses(400, 401, 403, 404),
)
def get_invoice(
    request: Request,
    caller: CustomerCaller,
    invoice_id: Annotated[str, Path(min_length=1, max_length=255, description="inv_...")],
) -> InvoiceDetail:
    with publication(request.app.state.marts) as published:
        found = _invoices(published, caller.customer_id, None, invoice_id) if published else []
        if not found or published is None:
            raise not_found(
                "unknown_invoice",
                f"no invoice '{invoice_id}' for this customer",
                "See GET /api/billing/invoices (drafts appear after the pipeline's next run).",
            )
        return InvoiceDetail(as_of=published.as_of, invoice=found[0])
