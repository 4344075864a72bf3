"""Renders the example invoice of docs/invoices.md to docs/screenshots/invoice.png.

A customer on Starter upgrades to Professional on October 16th and uses 5.2 million AI tokens
and 62,000 API calls in October. Every figure comes from the pricing and proration engines
(``tollgate.billing``) and the shipped catalogue, as the pipeline computes them; the page is
drawn by ``tollgate.invoices.pdf`` and rasterized with pypdfium2.

    .venv/bin/python docs/render_invoice_example.py [--png PATH] [--pdf PATH]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pypdfium2  # type: ignore[import-untyped]  # no types shipped; docs/ is outside mypy's files

from ingest_api.billing.models import Money, quantity_text
from ingest_api.billing.models_invoices import InvoiceLineOut, InvoiceOut
from tollgate.billing.catalogue import default_catalogue
from tollgate.billing.cycles import Cycle
from tollgate.billing.pricing import decimal_text, usage_lines
from tollgate.billing.proration import prorate_change
from tollgate.invoices import parties
from tollgate.invoices.document import InvoiceDocument, Party
from tollgate.invoices.pdf import render_pdf
from tollgate.settings import TollgateSettings

START = datetime(2026, 10, 1, tzinfo=UTC)
END = datetime(2026, 11, 1, tzinfo=UTC)
UPGRADE = datetime(2026, 10, 16, tzinfo=UTC)
USAGE = {"ai_tokens": Decimal(5_200_000), "api_calls": Decimal(62_000)}
HERE = Path(__file__).parent


def example_invoice() -> InvoiceOut:
    catalogue = default_catalogue(None)
    starter, professional = catalogue.plans["starter"], catalogue.plans["professional"]
    change = prorate_change(
        starter.base_price, professional.base_price, Cycle(START, END, START, END), UPGRADE
    )
    changed = f"{UPGRADE:%Y-%m-%d %H:%M} UTC"
    lines = [
        _line("base_fee", "Starter plan", "starter", starter.base_price, quantity="1"),
        _line(
            "proration_credit", f"Unused time on starter after {changed}", "starter", change.credit
        ),
        _line(
            "proration_charge",
            f"Remaining time on professional from {changed}",
            "professional",
            change.charge,
        ),
    ]
    for feature, quantity in USAGE.items():
        name = catalogue.features[feature].display_name
        for usage in usage_lines(professional, feature, quantity):
            lines.append(
                _line(
                    usage.kind,
                    f"{name}: {usage.description}",
                    "professional",
                    usage.amount,
                    quantity=quantity_text(usage.quantity),
                    unit_amount=None
                    if usage.unit_amount is None
                    else decimal_text(usage.unit_amount),
                    tier=usage.tier,
                    feature=feature,
                )
            )
    total = sum(line.amount.amount for line in lines)
    return InvoiceOut(
        id="inv_9fd23b3294dd73cc1907abe6",
        number="TG-000042",
        kind="cycle",
        status="finalized",
        subscription_id="sub_4f2a9c0d1e3b5a77",
        cycle_id="cus_00017/2026-10-01T00:00:00Z",
        period_start=START,
        period_end=END,
        subtotal=Money.of(total, "usd"),
        total=Money.of(total, "usd"),
        finalized_at=END + timedelta(hours=1),
        finalizes_at=None,
        lines=lines,
    )


def _line(
    kind: str,
    description: str,
    plan: str,
    amount: int,
    *,
    quantity: str = "1",
    unit_amount: str | None = None,
    tier: int | None = None,
    feature: str | None = None,
) -> InvoiceLineOut:
    return InvoiceLineOut.model_validate(
        {
            "id": f"il_example_{kind}_{tier or 0}_{feature or 'base'}",
            "kind": kind,
            "description": description,
            "plan": plan,
            "feature": feature,
            "dimension": None,
            "tier": tier,
            "quantity": quantity,
            "unit_amount": unit_amount,
            "amount": Money.of(amount, "usd"),
            "applies_from": START,
            "applies_to": END,
            "cycle_id": "cus_00017/2026-10-01T00:00:00Z",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--png", type=Path, default=HERE / "screenshots" / "invoice.png")
    parser.add_argument("--pdf", type=Path, default=None)
    arguments = parser.parse_args()
    issuer = parties.issuer(TollgateSettings())
    customer = Party("Acme Analytics GmbH", email="billing@acme.example", id="cus_00017")
    document = InvoiceDocument.from_invoice(example_invoice(), issuer=issuer, customer=customer)
    pdf = render_pdf(document)
    if arguments.pdf is not None:
        arguments.pdf.write_bytes(pdf)
    page = pypdfium2.PdfDocument(pdf)[0]
    page.render(scale=1.5).to_pil().save(arguments.png, optimize=True)
    print(f"wrote {arguments.png}")


if __name__ == "__main__":
    main()
