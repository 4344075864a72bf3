"""``billing/invoice_documents``: a PDF and a JSON for every finalized invoice published.

Reads the publication only (never the warehouse), as the billing API does and through the
same function, so the documents show exactly what ``GET /api/billing/invoices`` shows; the
customers' names come from the control snapshot this run exported. Invoices that have their
documents already are skipped: a finalized invoice's document is written once.
"""

import dagster as dg

from ingest_api.billing.routes_invoices import finalized_invoices
from pipelines.defs.billing.settings_resource import TollgateResource
from tollgate.invoices import parties
from tollgate.invoices.service import ensure_document
from tollgate.invoices.store import DocumentStore
from tollgate.warehouse.reader import PublishedMarts

DOCUMENTS_KEY = dg.AssetKey(["billing", "invoice_documents"])


@dg.asset(
    key=DOCUMENTS_KEY,
    deps=[dg.AssetKey(["billing", "published_marts"])],
    group_name="billing",
    kinds={"pdf", "json"},
    description=(
        "Renders each finalized invoice of the current publication that has no document yet "
        "as a PDF and a JSON under <data dir>/invoices/documents/ (tollgate/invoices/), for "
        "GET /api/billing/invoices/{id}/pdf and the dashboards' Invoices page."
    ),
)
def invoice_documents(
    context: dg.AssetExecutionContext, tollgate: TollgateResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    settings = tollgate.settings()
    store = DocumentStore(settings.invoice_documents_dir)
    pending = finalized_invoices(
        PublishedMarts(settings.marts_dir), lambda invoice_id: not store.has(invoice_id)
    )
    customers = parties.snapshot_customers(settings.control_snapshots_dir) if pending else {}
    issuer = parties.issuer(settings)
    for customer_id, invoice in pending:
        # A customer missing from the snapshot cannot happen (customers are never deleted);
        # their id still identifies them on the document if it ever does.
        customer = customers.get(customer_id) or parties.customer(customer_id, customer_id, None)
        ensure_document(store, invoice, issuer=issuer, customer=customer)
    context.log.info("rendered %d invoice documents", len(pending))
    return dg.MaterializeResult(
        metadata={
            "rendered": len(pending),
            "directory": dg.MetadataValue.path(str(settings.invoice_documents_dir)),
        }
    )
