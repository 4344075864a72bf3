"""Reading an invoice's PDF back (pypdf) and holding it to the invoice's own figures.

Figures are compared as numbers parsed from the text, not as strings formatted the way the
renderer formats them, so a test fails when a figure is wrong, not when a layout changes.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pypdf

from ingest_api.billing.models_invoices import InvoiceOut


def pdf_text(pdf: bytes) -> str:
    """Every page's text, whitespace runs (line breaks inside table cells) made one space."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def _words(text: str) -> str:
    return " ".join(text.split())


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _major_to_minor(text: str, currency: str) -> Decimal:
    assert currency == "usd", "these tests bill in usd (two decimals)"
    return _number(text) * 100


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _money_after(text: str, label: str, currency: str) -> Decimal:
    code = currency.upper()
    start = text.index(f"{label} {code} ") + len(f"{label} {code} ")
    return _major_to_minor(text[start:].split(" ", 1)[0], currency)


def check_pdf(pdf: bytes, invoice: InvoiceOut, *, customer_name: str, issuer_name: str) -> None:
    """The PDF shows every figure of ``invoice``: asserts, naming the first one missing."""
    text = pdf_text(pdf)
    currency = invoice.total.currency
    assert invoice.number is not None
    assert f"Invoice {invoice.number}" in text
    assert f"Invoice number {invoice.number}" in text
    assert invoice.status == "finalized"
    assert "Status: Finalized" in text
    assert _words(customer_name) in text
    assert _words(issuer_name) in text
    assert f"Period {_utc(invoice.period_start)} to {_utc(invoice.period_end)}" in text
    assert f"Currency {currency.upper()}" in text
    position = 0
    for line in invoice.lines:
        description = _words(line.description)
        found = text.find(description, position)
        assert found >= 0, f"line {line.id} ({description!r}) not found in order in {text!r}"
        position = found + len(description)
        tokens = text[position:].split()
        if line.tier is not None:
            assert tokens.pop(0) == str(line.tier), (line.description, tokens[:5])
        assert _number(tokens.pop(0)) == Decimal(line.quantity), (line.description, tokens[:5])
        if line.unit_amount is not None:
            # Unit prices are exact: every digit of the minor units survives, in major units.
            unit = _major_to_minor(tokens.pop(0), currency)
            assert unit == Decimal(line.unit_amount), (line.description, unit)
        assert tokens.pop(0) == currency.upper(), (line.description, tokens[:5])
        amount = _major_to_minor(tokens.pop(0), currency)
        assert amount == line.amount.amount, (line.description, amount)
    assert _money_after(text, "Subtotal", currency) == invoice.subtotal.amount
    assert _money_after(text, "Total", currency) == invoice.total.amount
