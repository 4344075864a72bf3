"""Rendering a finalized invoice's document once and serving the stored one after.

The pipeline's ``billing/invoice_documents`` asset and the billing API (on demand, for an
invoice the asset has not reached yet) both come here, so they write the same bytes.
"""

from __future__ import annotations

from tollgate.invoices.document import InvoiceDocument, InvoiceLike, NotFinalizedError, Party
from tollgate.invoices.pdf import render_pdf
from tollgate.invoices.store import DocumentStore, StoredDocument


def render(document: InvoiceDocument) -> StoredDocument:
    return StoredDocument(document.invoice_id, render_pdf(document), document.to_json())


def ensure_document(
    store: DocumentStore, invoice: InvoiceLike, *, issuer: Party, customer: Party
) -> StoredDocument:
    """The invoice's stored document, rendered and stored first if it has none yet.

    Raises ``NotFinalizedError`` for a draft, whatever is on disk."""
    if invoice.status != "finalized":
        raise NotFinalizedError(invoice.id)
    stored = store.read(invoice.id)
    if stored is not None:
        return stored
    document = InvoiceDocument.from_invoice(invoice, issuer=issuer, customer=customer)
    return store.write(render(document))
