"""What an invoice document says: one finalized invoice, its issuer and its customer.

Built from the billing API's invoice (``InvoiceOut``) or anything shaped like it, so the PDF,
the JSON and ``GET /api/billing/invoices/{id}`` can never disagree on a figure. Amounts stay
integer minor units and unit prices exact decimal strings of minor units: nothing here is a
float, and nothing is priced or rounded again (``tollgate.billing.money`` rounded each line
once, in the pipeline).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tollgate.billing.money import exponent, format_money, major_units_text
from tollgate.invoices.formatting import unit_price_major

# Bump when a field changes meaning or disappears; adding a field does not.
FORMAT_VERSION = 1


class NotFinalizedError(ValueError):
    """Drafts have no document: they change with every pipeline run until finalized."""

    def __init__(self, invoice_id: str) -> None:
        super().__init__(
            f"invoice '{invoice_id}' is a draft; drafts have no document, it is rendered when "
            "the invoice is finalized"
        )
        self.invoice_id = invoice_id


class MoneyLike(Protocol):
    @property
    def amount(self) -> int: ...
    @property
    def currency(self) -> str: ...


class LineLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def plan(self) -> str | None: ...
    @property
    def feature(self) -> str | None: ...
    @property
    def dimension(self) -> str | None: ...
    @property
    def tier(self) -> int | None: ...
    @property
    def quantity(self) -> str: ...
    @property
    def unit_amount(self) -> str | None: ...
    @property
    def amount(self) -> MoneyLike: ...
    @property
    def applies_from(self) -> datetime: ...
    @property
    def applies_to(self) -> datetime: ...
    @property
    def cycle_id(self) -> str | None: ...


class InvoiceLike(Protocol):
    """The shape of ``ingest_api.billing.models_invoices.InvoiceOut``."""

    @property
    def id(self) -> str: ...
    @property
    def number(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def subscription_id(self) -> str | None: ...
    @property
    def cycle_id(self) -> str | None: ...
    @property
    def period_start(self) -> datetime: ...
    @property
    def period_end(self) -> datetime: ...
    @property
    def subtotal(self) -> MoneyLike: ...
    @property
    def total(self) -> MoneyLike: ...
    @property
    def finalized_at(self) -> datetime | None: ...
    @property
    def lines(self) -> Sequence[LineLike]: ...


@dataclass(frozen=True, slots=True)
class Party:
    """An issuer or a customer as the document names them."""

    name: str
    address: tuple[str, ...] = ()
    email: str | None = None
    tax_id: str | None = None
    id: str | None = None  # the customer's id; None for the issuer

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "address": list(self.address),
            "email": self.email,
            "tax_id": self.tax_id,
        }


@dataclass(frozen=True, slots=True)
class DocumentLine:
    id: str
    kind: str
    description: str
    plan: str | None
    feature: str | None
    dimension: str | None
    tier: int | None
    quantity: str  # exact decimal text, in the feature's unit
    unit_amount: str | None  # exact minor units per unit (may be a fraction); None: flat line
    amount: int  # minor units
    applies_from: datetime
    applies_to: datetime
    cycle_id: str | None


@dataclass(frozen=True, slots=True)
class InvoiceDocument:
    invoice_id: str
    number: str
    kind: str
    status: str
    currency: str
    period_start: datetime
    period_end: datetime
    finalized_at: datetime
    subscription_id: str | None
    cycle_id: str | None
    subtotal: int
    total: int
    issuer: Party
    customer: Party
    lines: tuple[DocumentLine, ...]

    @classmethod
    def from_invoice(
        cls, invoice: InvoiceLike, *, issuer: Party, customer: Party
    ) -> InvoiceDocument:
        if invoice.status != "finalized" or invoice.number is None or invoice.finalized_at is None:
            raise NotFinalizedError(invoice.id)
        return cls(
            invoice_id=invoice.id,
            number=invoice.number,
            kind=invoice.kind,
            status=invoice.status,
            currency=invoice.total.currency,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            finalized_at=invoice.finalized_at,
            subscription_id=invoice.subscription_id,
            cycle_id=invoice.cycle_id,
            subtotal=invoice.subtotal.amount,
            total=invoice.total.amount,
            issuer=issuer,
            customer=customer,
            lines=tuple(
                DocumentLine(
                    id=line.id,
                    kind=line.kind,
                    description=line.description,
                    plan=line.plan,
                    feature=line.feature,
                    dimension=line.dimension,
                    tier=line.tier,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount,
                    amount=line.amount.amount,
                    applies_from=line.applies_from,
                    applies_to=line.applies_to,
                    cycle_id=line.cycle_id,
                )
                for line in invoice.lines
            ),
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The machine-readable document (``docs/invoices.md`` describes every field)."""
        return {
            "format_version": FORMAT_VERSION,
            "invoice_id": self.invoice_id,
            "number": self.number,
            "kind": self.kind,
            "status": self.status,
            "currency": self.currency,
            "currency_exponent": exponent(self.currency),
            "period_start": _iso(self.period_start),
            "period_end": _iso(self.period_end),
            "finalized_at": _iso(self.finalized_at),
            "subscription_id": self.subscription_id,
            "cycle_id": self.cycle_id,
            "issuer": self.issuer.to_json(),
            "customer": self.customer.to_json(),
            "lines": [self._line_json(line) for line in self.lines],
            "subtotal": self._money(self.subtotal),
            "total": self._money(self.total),
        }

    def to_json(self) -> bytes:
        """Stable bytes: the same document always serializes identically."""
        text = json.dumps(self.to_json_dict(), indent=2, ensure_ascii=False)
        return (text + "\n").encode("utf-8")

    def _money(self, amount: int) -> dict[str, Any]:
        return {
            "amount": amount,
            "decimal": major_units_text(amount, self.currency),
            "formatted": format_money(amount, self.currency),
        }

    def _line_json(self, line: DocumentLine) -> dict[str, Any]:
        unit_major = (
            None if line.unit_amount is None else unit_price_major(line.unit_amount, self.currency)
        )
        return {
            "id": line.id,
            "kind": line.kind,
            "description": line.description,
            "plan": line.plan,
            "feature": line.feature,
            "dimension": line.dimension,
            "tier": line.tier,
            "quantity": line.quantity,
            "unit_amount": line.unit_amount,
            "unit_amount_decimal": unit_major,
            "amount": self._money(line.amount),
            "applies_from": _iso(line.applies_from),
            "applies_to": _iso(line.applies_to),
            "cycle_id": line.cycle_id,
        }


def _iso(moment: datetime) -> str:
    # One spelling for one instant (UTC, "Z"), whatever zone the reader handed over.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
