"""Bodies of ``/invoices`` and ``/notifications``: what the pipeline published, made current."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest_api.billing.models import AsOf, Money, QuantityText

InvoiceStatus = Literal["draft", "finalized"]


class InvoiceLineOut(BaseModel):
    id: str = Field(examples=["il_a305825267e4b94cb3fd9472"])
    kind: Literal[
        "base_fee", "proration_credit", "proration_charge", "included", "usage", "adjustment"
    ]
    description: str = Field(examples=["AI tokens: tier 1 (up to 4500000)"])
    plan: str | None
    feature: str | None
    dimension: str | None = Field(description="The pricing property's value (e.g. a model).")
    tier: int | None = Field(description="1-based tier of a graduated or volume price.")
    quantity: QuantityText
    unit_amount: str | None = Field(
        description="Minor units per unit, exact (may be a fraction); null for flat lines."
    )
    amount: Money
    applies_from: datetime
    applies_to: datetime
    cycle_id: str | None


class InvoiceOut(BaseModel):
    id: str = Field(examples=["inv_d94c43681743a0abdd3fa829"])
    number: str | None = Field(description="Given when finalized; null on drafts.")
    kind: Literal["cycle", "adjustments"] = Field(
        description="cycle: one billing cycle; adjustments: late usage after the last cycle."
    )
    status: InvoiceStatus = Field(
        description="draft: recomputed by each pipeline run until finalized; finalized: final."
    )
    subscription_id: str | None
    cycle_id: str | None
    period_start: datetime
    period_end: datetime
    subtotal: Money
    total: Money
    finalized_at: datetime | None
    finalizes_at: datetime | None = Field(
        description="When a draft becomes final, at the earliest."
    )
    lines: list[InvoiceLineOut]
    pdf_url: str | None = Field(
        default=None,
        description="The invoice's PDF (GET /api/billing/invoices/{id}/pdf); null on drafts.",
        examples=["/api/billing/invoices/inv_d94c43681743a0abdd3fa829/pdf"],
    )
    document_url: str | None = Field(
        default=None,
        description="The same document as JSON (GET /api/billing/invoices/{id}/document); "
        "null on drafts.",
        examples=["/api/billing/invoices/inv_d94c43681743a0abdd3fa829/document"],
    )


class InvoiceList(AsOf):
    invoices: list[InvoiceOut] = Field(description="Newest period first.")


class InvoiceDetail(AsOf):
    invoice: InvoiceOut


# -- invoice documents (tollgate/invoices/document.py writes them; docs/invoices.md) ---------


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentMoney(_Document):
    amount: int = Field(description="Integer minor units.", examples=[17906])
    decimal: str = Field(description="Major units, the currency's places.", examples=["179.06"])
    formatted: str = Field(description="As printed on the PDF.", examples=["USD 179.06"])


class DocumentParty(_Document):
    id: str | None = Field(description="The customer's id; null for the issuer.")
    name: str = Field(description="Exactly as recorded (the PDF may fold non-Latin-1 letters).")
    address: list[str] = Field(description="Postal address lines.")
    email: str | None
    tax_id: str | None


class DocumentLine(_Document):
    id: str
    kind: Literal[
        "base_fee", "proration_credit", "proration_charge", "included", "usage", "adjustment"
    ]
    description: str
    plan: str | None
    feature: str | None
    dimension: str | None
    tier: int | None
    quantity: QuantityText
    unit_amount: str | None = Field(description="Minor units per unit, exact; null: flat line.")
    unit_amount_decimal: str | None = Field(
        description="The unit price in major units, every digit kept.", examples=["0.001"]
    )
    amount: DocumentMoney
    applies_from: datetime
    applies_to: datetime
    cycle_id: str | None


class InvoiceDocumentOut(_Document):
    """The machine-readable twin of the invoice's PDF, as stored beside it."""

    format_version: Literal[1] = Field(description="Changes only if a field changes meaning.")
    invoice_id: str
    number: str = Field(examples=["TG-000001"])
    kind: Literal["cycle", "adjustments"]
    status: Literal["finalized"]
    currency: str = Field(description="ISO 4217 code, lower case.", examples=["usd"])
    currency_exponent: int = Field(description="Decimal places of the minor unit (2 for usd).")
    period_start: datetime
    period_end: datetime = Field(description="Exclusive.")
    finalized_at: datetime = Field(description="Also the PDF's creation date.")
    subscription_id: str | None
    cycle_id: str | None
    issuer: DocumentParty
    customer: DocumentParty
    lines: list[DocumentLine]
    subtotal: DocumentMoney
    total: DocumentMoney


# -- notifications -------------------------------------------------------------------------------

NotificationId = Annotated[str, Field(min_length=1, max_length=200)]


class NotificationOut(BaseModel):
    id: str = Field(examples=["ntf_36f05c41366785127c74fa75"])
    type: str = Field(
        description="limit_warning, limit_exceeded or billing_cycle_end.",
        examples=["limit_warning"],
    )
    severity: str = Field(description="warning, critical, exceeded or info.")
    feature: str | None
    threshold_percent: int | None
    window_start: datetime
    window_end: datetime
    created_at: datetime = Field(description="When the threshold was crossed, or the cycle ended.")
    title: str = Field(examples=["API calls at 90% of the limit"])
    message: str
    is_read: bool
    read_at: datetime | None


class NotificationList(AsOf):
    notifications: list[NotificationOut] = Field(description="Newest first.")


class MarkRead(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"notification_ids": ["ntf_36f05c41366785127c74fa75"]}]},
    )

    notification_ids: list[NotificationId] = Field(
        min_length=1,
        max_length=100,
        description="Ids from GET /api/billing/notifications; every one must be the customer's.",
    )


class ReadMark(BaseModel):
    id: str
    read_at: datetime = Field(description="When it was first marked read.")


class MarkReadResult(BaseModel):
    notifications: list[ReadMark]
