"""The invoice document as a PDF page (fpdf2), byte for byte the same for the same document.

Determinism: fpdf2 stamps the creation date (here: the invoice's ``finalized_at``), its own
name as producer (here: fixed) and a file id hashed from the content; nothing else varies, so a
re-run writes identical files and the store can tell "already rendered" by comparing bytes.

Fonts: the PDF core font Helvetica, so no font file has to ship or be found at run time. It
covers Latin-1 only; other characters are folded (``pdf_text``): accents are dropped from
letters outside Latin-1 (``ł`` -> ``l``), typographic punctuation becomes its ASCII
equivalent, and anything else (CJK, Cyrillic ...) becomes ``?``. The JSON document keeps every
name exactly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos
from fpdf.fonts import FontFace

from tollgate.billing.money import format_money
from tollgate.invoices.document import DocumentLine, InvoiceDocument, Party
from tollgate.invoices.formatting import quantity_display, unit_price_major

PRODUCER = "Tollgate invoices"
_FONT = "Helvetica"
_ENCODING = "latin-1"
_REPLACEMENTS = {
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u2192": "->",
    "\u20ac": "EUR",
    "\u2022": "*",
    # Letters NFKD does not take apart into a Latin-1 letter and an accent.
    "\u0141": "L",
    "\u0142": "l",
    "\u0110": "D",
    "\u0111": "d",
    "\u0152": "OE",
    "\u0153": "oe",
    "\u0131": "i",
}
INVOICE_KINDS = {"cycle": "Billing cycle", "adjustments": "Late usage adjustments"}
KIND_LABELS = {
    "base_fee": "Base fee",
    "proration_credit": "Proration credit",
    "proration_charge": "Proration charge",
    "included": "Included usage",
    "usage": "Usage",
    "adjustment": "Late usage adjustment",
}
STATUS_LABELS = {"finalized": "Finalized", "draft": "Draft"}
# Type, description, tier, quantity, unit price, amount: fractions of the page's width.
_COLUMNS = (0.15, 0.37, 0.06, 0.14, 0.14, 0.14)


def pdf_text(text: str) -> str:
    """``text`` in what Helvetica can show (Latin-1), folded as the module says."""
    out: list[str] = []
    for char in text:
        if char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        elif _encodable(char):
            out.append(char)
        else:
            folded = "".join(
                c
                for c in unicodedata.normalize("NFKD", char)
                if _encodable(c) and not unicodedata.combining(c)
            )
            out.append(folded or "?")
    return "".join(out)


def _encodable(char: str) -> bool:
    # Control characters would print as boxes or break the content stream's text.
    if unicodedata.category(char) in {"Cc", "Cf"}:
        return False
    try:
        char.encode(_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


def render_pdf(document: InvoiceDocument) -> bytes:
    pdf = _Invoice(document)
    pdf.render()
    return bytes(pdf.output())


def day(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d}"


def moment_text(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def period_text(document: InvoiceDocument) -> str:
    """The period as printed: start and end as UTC instants (the end is exclusive)."""
    return f"{moment_text(document.period_start)} to {moment_text(document.period_end)}"


def unit_price_text(line: DocumentLine, currency: str) -> str:
    if line.unit_amount is None:
        return ""
    return unit_price_major(line.unit_amount, currency, grouping=True)


class _Invoice(FPDF):
    def __init__(self, document: InvoiceDocument) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.document = document
        self.set_creation_date(document.finalized_at.astimezone(UTC))
        self.set_producer(PRODUCER)
        self.set_creator(PRODUCER)
        self.set_title(pdf_text(f"Invoice {document.number}"))
        self.set_author(pdf_text(document.issuer.name))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-13)
        self._font(8)
        self.cell(
            0,
            5,
            pdf_text(f"{self.document.number} - page {self.page_no()} of {{nb}}"),
            align="C",
        )

    def render(self) -> None:
        doc = self.document
        self.add_page()
        self._font(20, bold=True)
        self._line(f"Invoice {doc.number}", height=10)
        self._font(10)
        self._line(f"Status: {STATUS_LABELS.get(doc.status, doc.status)}")
        self.ln(4)
        self._parties(doc.issuer, doc.customer)
        self.ln(4)
        self._facts(
            [
                ("Invoice number", doc.number),
                ("Invoice id", doc.invoice_id),
                ("Kind", INVOICE_KINDS.get(doc.kind, doc.kind)),
                ("Issued", moment_text(doc.finalized_at)),
                ("Period", period_text(doc)),
                ("Currency", doc.currency.upper()),
                ("Subscription", doc.subscription_id or "-"),
            ]
        )
        self.ln(4)
        self._lines(doc)
        self.ln(3)
        self._totals(doc)

    def _font(self, size: float, *, bold: bool = False) -> None:
        self.set_font(_FONT, "B" if bold else "", size)

    def _line(self, text: str, *, height: float = 5) -> None:
        self.cell(0, height, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _parties(self, issuer: Party, customer: Party) -> None:
        top = self.get_y()
        half = self.epw / 2
        bottom = top
        for x, heading, party in (
            (self.l_margin, "From", issuer),
            (self.l_margin + half, "Bill to", customer),
        ):
            self.set_xy(x, top)
            self._font(9, bold=True)
            self.cell(half, 5, heading, new_x=XPos.LEFT, new_y=YPos.NEXT)
            self._font(10)
            for text in _party_lines(party):
                self.cell(half, 5, pdf_text(text), new_x=XPos.LEFT, new_y=YPos.NEXT)
            bottom = max(bottom, self.get_y())
        self.set_xy(self.l_margin, bottom)

    def _facts(self, facts: Iterable[tuple[str, str]]) -> None:
        for label, value in facts:
            self._font(9, bold=True)
            self.cell(32, 5, pdf_text(label))
            self._font(10)
            self.cell(0, 5, pdf_text(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def _lines(self, doc: InvoiceDocument) -> None:
        self._font(9)
        with self.table(
            col_widths=_COLUMNS,
            text_align=("LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
            borders_layout=TableBordersLayout.HORIZONTAL_LINES,
            headings_style=FontFace(emphasis="BOLD"),
            line_height=5,
            padding=1,
        ) as table:
            heading = table.row()
            unit = f"Unit price ({doc.currency.upper()})"
            for text in ("Type", "Description", "Tier", "Quantity", unit, "Amount"):
                heading.cell(text)
            for line in doc.lines:
                row = table.row()
                row.cell(pdf_text(KIND_LABELS.get(line.kind, line.kind)))
                row.cell(pdf_text(line.description))
                row.cell("" if line.tier is None else str(line.tier))
                row.cell(quantity_display(line.quantity))
                row.cell(unit_price_text(line, doc.currency))
                row.cell(pdf_text(format_money(line.amount, doc.currency)))

    def _totals(self, doc: InvoiceDocument) -> None:
        label_width = self.epw * 0.72
        for label, amount, bold in (
            ("Subtotal", doc.subtotal, False),
            ("Total", doc.total, True),
        ):
            self._font(10, bold=bold)
            self.cell(label_width, 6, label, align="R")
            self.cell(
                0,
                6,
                format_money(amount, doc.currency),
                align="R",
                new_x=XPos.LMARGIN,
                new_y=YPos.NEXT,
            )
        self.ln(4)
        self._font(8)
        self.multi_cell(
            0,
            4,
            "Each line's amount is rounded once, half away from zero, to the currency's minor "
            "unit; unit prices are exact. Quantities are in each feature's unit. Periods are in "
            "UTC; a period's end is not part of it.",
        )


def _party_lines(party: Party) -> list[str]:
    lines = [party.name, *party.address]
    if party.id is not None:
        lines.append(f"Customer id: {party.id}")
    if party.email:
        lines.append(party.email)
    if party.tax_id:
        lines.append(f"Tax id: {party.tax_id}")
    return lines
