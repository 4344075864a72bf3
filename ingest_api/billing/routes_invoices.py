"""``/invoices``: the customer's invoices with their lines, as the pipeline last published them,
and each finalized invoice's document (PDF and JSON, ``tollgate/invoices/``)."""

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from ingest_api.billing.auth import Caller, CustomerCaller
from ingest_api.billing.errors import error_responses, not_found
from ingest_api.billing.marts import Publication, publication
from ingest_api.billing.models import Money, quantity_text
from ingest_api.billing.models_invoices import (
    InvoiceDetail,
    InvoiceDocumentOut,
    InvoiceLineOut,
    InvoiceList,
    InvoiceOut,
    InvoiceStatus,
)
from tollgate.invoices import parties
from tollgate.invoices.service import ensure_document
from tollgate.invoices.store import DocumentStore, StoredDocument
from tollgate.settings import TollgateSettings
from tollgate.warehouse.reader import PublishedMarts

router = APIRouter()

InvoiceIdParam = Annotated[str, Path(min_length=1, max_length=255, description="inv_...")]

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
    finalized = row["status"] == "finalized"
    base = f"/api/billing/invoices/{row['invoice_id']}"
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
        pdf_url=f"{base}/pdf" if finalized else None,
        document_url=f"{base}/document" if finalized else None,
    )


def invoice_list(marts: PublishedMarts, caller: Caller, status: str | None) -> InvoiceList:
    """What ``GET /invoices`` answers: the customer's invoices with their lines.

    Public: the dashboards' Invoices page lists invoices with it, in-process."""
    with publication(marts) as published:
        if published is None:
            return InvoiceList(as_of=None, invoices=[])
        invoices = _invoices(published, caller.customer_id, status, None)
        return InvoiceList(as_of=published.as_of, invoices=invoices)


_FINALIZED = """
    select customer_id, invoice_id from fct_invoices
    where status = 'finalized'
    order by customer_id, invoice_id
"""


def finalized_invoices(
    marts: PublishedMarts, wanted: Callable[[str], bool] = lambda _: True
) -> list[tuple[str, InvoiceOut]]:
    """The finalized invoices of the current publication whose id is ``wanted``, with their
    customer, as ``GET /invoices/{id}`` shows them: what the pipeline renders documents of
    (``billing/invoice_documents``). Only the wanted ones are read in full, so a run costs
    what it renders, not the whole history."""
    with publication(marts) as published:
        if published is None:
            return []
        rows = published.rows(_FINALIZED, {})
        return [
            (row["customer_id"], invoice)
            for row in rows
            if wanted(row["invoice_id"])
            for invoice in _invoices(published, row["customer_id"], "finalized", row["invoice_id"])
        ]


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
    invoice_id: InvoiceIdParam,
) -> InvoiceDetail:
    as_of, invoice = _one_invoice(request.app.state.marts, caller, invoice_id)
    return InvoiceDetail(as_of=as_of, invoice=invoice)


def _one_invoice(
    marts: PublishedMarts, caller: Caller, invoice_id: str
) -> tuple[datetime | None, InvoiceOut]:
    with publication(marts) as published:
        found = _invoices(published, caller.customer_id, None, invoice_id) if published else []
        if not found or published is None:
            # Another customer's invoice is answered exactly like an unknown one.
            raise not_found(
                "unknown_invoice",
                f"no invoice '{invoice_id}' for this customer",
                "See GET /api/billing/invoices (drafts appear after the pipeline's next run).",
            )
        return published.as_of, found[0]


def invoice_document(
    marts: PublishedMarts, settings: TollgateSettings, caller: Caller, invoice_id: str
) -> tuple[InvoiceOut, StoredDocument]:
    """The customer's finalized invoice and its document, rendered and stored first if the
    pipeline has not rendered it yet (so it is there the moment the invoice is final).

    Public: the dashboards' Invoices page offers the PDF with it, in-process."""
    _, invoice = _one_invoice(marts, caller, invoice_id)
    if invoice.status != "finalized":
        raise not_found(
            "invoice_not_finalized",
            f"invoice '{invoice_id}' is a draft: drafts have no document; it is rendered when "
            "the invoice is finalized",
            "See the invoice's finalizes_at in GET /api/billing/invoices/{id}.",
        )
    customer = caller.customer
    stored = ensure_document(
        DocumentStore(settings.invoice_documents_dir),
        invoice,
        issuer=parties.issuer(settings),
        customer=parties.customer(customer.id, customer.name, customer.email),
    )
    return invoice, stored


def _settings(request: Request) -> TollgateSettings:
    settings: TollgateSettings = request.app.state.endpoint.service.settings
    return settings


_NO_DOCUMENT = (
    " 404 `unknown_invoice` if the customer has no invoice with this id (another customer's "
    "included), 404 `invoice_not_finalized` for a draft: drafts have no document."
)


@router.get(
    "/invoices/{invoice_id}/pdf",
    summary="A finalized invoice as a PDF",
    description=(
        "The invoice's PDF: issuer and customer, period, every line with its quantity, tier "
        "and unit price, subtotal, total, currency and status. Rendered once when the invoice "
        "is finalized (or on the first request after) and never changed." + _NO_DOCUMENT
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The PDF, `Content-Disposition: inline` with the invoice's number.",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        },
        **error_responses(400, 401, 403, 404),
    },
)
def get_invoice_pdf(
    request: Request, caller: CustomerCaller, invoice_id: InvoiceIdParam
) -> Response:
    invoice, stored = invoice_document(
        request.app.state.marts, _settings(request), caller, invoice_id
    )
    return Response(
        stored.pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{invoice.number}.pdf"'},
    )


@router.get(
    "/invoices/{invoice_id}/document",
    summary="A finalized invoice's document as JSON",
    description=(
        "The machine-readable twin of the PDF, as stored beside it: amounts as integer minor "
        "units and formatted, unit prices as exact decimal strings, times in ISO 8601 UTC, "
        "`format_version` 1 (docs/invoices.md)." + _NO_DOCUMENT
    ),
    response_class=JSONResponse,
    responses={
        200: {"model": InvoiceDocumentOut, "description": "The document, as stored."},
        **error_responses(400, 401, 403, 404),
    },
)
def get_invoice_document(
    request: Request, caller: CustomerCaller, invoice_id: InvoiceIdParam
) -> Response:
    _, stored = invoice_document(request.app.state.marts, _settings(request), caller, invoice_id)
    # The stored bytes themselves: what the API serves is exactly what was archived.
    return Response(stored.json, media_type="application/json")
