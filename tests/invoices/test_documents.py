"""Invoice documents: rendered by the real pipeline for every plan, and read back.

One scenario, run forward (real Dagster jobs, real dbt): a customer on each plan of the
catalogue, one of them upgrading mid-cycle (proration lines), October closed and finalized;
then usage for October arriving late, billed as an adjustment on November's invoice, which
the next close finalizes. The ``billing/invoice_documents`` asset of those close runs renders
the documents; the tests read them back with pypdf and compare them with the invoices the
billing API reads from the same publication.

Further down, the renderer and the store on their own: text outside Latin-1, long invoices,
byte-identical re-renders, path-safe ids, write-once files.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest

from ingest_api.billing.models import Money
from ingest_api.billing.models_invoices import InvoiceDocumentOut, InvoiceLineOut, InvoiceOut
from ingest_api.billing.routes_invoices import finalized_invoices
from tests.invoices.pdf_checks import check_pdf, pdf_text
from tests.pipelines.scenario import Event, Scenario, utc
from tollgate.billing.catalogue import default_catalogue
from tollgate.invoices import parties
from tollgate.invoices.document import InvoiceDocument, NotFinalizedError, Party
from tollgate.invoices.service import ensure_document, render
from tollgate.invoices.store import DocumentStore, InvalidInvoiceIdError, StoredDocument
from tollgate.warehouse.reader import PublishedMarts

pytestmark = pytest.mark.timeout(900)

OCT_1 = utc(2026, 10, 1)
NOV_1 = utc(2026, 11, 1)
DEC_1 = utc(2026, 12, 1)
# One customer per plan; names with Latin-1 accents, which the PDF's core font shows as they are.
CUSTOMERS = {
    "c_free": ("free", "Fränk's Free Tier"),
    "c_starter": ("starter", "Starter Støre"),
    "c_pro": ("professional", "Professional Café GmbH"),
    "c_ent": ("enterprise", "Enterprise Ñandú S.A."),
    "c_ppu": ("pay_per_use", "Pay-per-use Ltd"),
    "c_up": ("starter", "Upgrader Inc"),  # to professional on October 16th
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    scenario = Scenario(tmp_path_factory.mktemp("documents"))
    control = scenario.control(OCT_1)
    for customer_id, (plan, name) in CUSTOMERS.items():
        control.create_customer(customer_id, name=name, email=f"{customer_id}@example.com")
        control.subscribe(customer_id, plan, at=OCT_1)
    upgrader = control.list_subscriptions("c_up")[0].id
    scenario.control(utc(2026, 10, 16)).change_plan(upgrader, "professional", at=utc(2026, 10, 16))
    scenario.publish(
        [
            # Past both of the professional plan's token tiers, and above its included calls.
            Event("c_pro", "ai_tokens", 6_000_000, utc(2026, 10, 2, 9)),
            Event("c_pro", "api_call", 51_000, utc(2026, 10, 5, 10)),
            Event("c_starter", "api_call", 12_345, utc(2026, 10, 3)),
            Event("c_starter", "ai_tokens", 120_000, utc(2026, 10, 3)),
            Event("c_ent", "ai_tokens", 9_000_000, utc(2026, 10, 4)),
            Event("c_ppu", "ai_tokens", 2_500, utc(2026, 10, 4), properties={"model": "gpt-4o"}),
            Event("c_ppu", "api_call", 1_500, utc(2026, 10, 4)),
            Event("c_free", "api_call", 800, utc(2026, 10, 4)),
            Event("c_up", "ai_tokens", 700_000, utc(2026, 10, 20)),
        ],
        received_at=utc(2026, 10, 6, 1),
    )
    scenario.run(utc(2026, 11, 1, 2), close=True)
    scenario.publish(
        [Event("c_pro", "ai_tokens", 50_000, utc(2026, 10, 20), event_id="late-1")],
        received_at=utc(2026, 11, 2),
    )
    scenario.run(utc(2026, 12, 1, 2), close=True)
    return scenario


def _finalized(scenario: Scenario) -> list[tuple[str, InvoiceOut]]:
    return finalized_invoices(PublishedMarts(scenario.settings.marts_dir))


def _store(scenario: Scenario) -> DocumentStore:
    return DocumentStore(scenario.settings.invoice_documents_dir)


def test_the_scenario_covers_every_plan_prorations_and_a_late_usage_adjustment(
    scenario: Scenario,
) -> None:
    invoices = [invoice for _, invoice in _finalized(scenario)]
    plans = {line.plan for invoice in invoices for line in invoice.lines}
    assert set(default_catalogue(None).plans) <= plans
    kinds = {line.kind for invoice in invoices for line in invoice.lines}
    assert {"proration_credit", "proration_charge", "adjustment", "usage"} <= kinds
    tiers = {line.tier for i in invoices for line in i.lines if line.feature == "ai_tokens"}
    assert {1, 2} <= tiers


def test_the_pipeline_rendered_a_document_for_every_finalized_invoice(
    scenario: Scenario,
) -> None:
    finalized = _finalized(scenario)
    assert len(finalized) == 2 * len(CUSTOMERS)  # October and November, each customer
    written = sorted(path.name for path in scenario.settings.invoice_documents_dir.iterdir())
    assert written == sorted(
        f"{invoice.id}.{suffix}" for _, invoice in finalized for suffix in ("json", "pdf")
    )


def test_each_pdf_shows_the_invoice_figures(scenario: Scenario) -> None:
    store = _store(scenario)
    issuer = scenario.settings.issuer_name
    for customer_id, invoice in _finalized(scenario):
        stored = store.read(invoice.id)
        assert stored is not None, invoice.id
        check_pdf(stored.pdf, invoice, customer_name=CUSTOMERS[customer_id][1], issuer_name=issuer)


def test_late_usage_and_proration_lines_are_labelled_on_the_pdf(scenario: Scenario) -> None:
    by_customer: dict[str, list[InvoiceOut]] = {}
    for customer_id, invoice in _finalized(scenario):
        by_customer.setdefault(customer_id, []).append(invoice)
    [november] = [i for i in by_customer["c_pro"] if i.period_start == NOV_1]
    [adjustment] = [line for line in november.lines if line.kind == "adjustment"]
    # 50,000 tokens more in October, all in the second tier (past 5,000,000) at 0.08 cent.
    assert (adjustment.quantity, adjustment.amount.amount) == ("50000", 4_000)
    stored = _store(scenario).read(november.id)
    assert stored is not None
    assert f"Late usage adjustment {' '.join(adjustment.description.split())}" in pdf_text(
        stored.pdf
    )
    [october] = [i for i in by_customer["c_up"] if i.period_start == OCT_1]
    stored = _store(scenario).read(october.id)
    assert stored is not None
    text = pdf_text(stored.pdf)
    for line in october.lines:
        if line.kind.startswith("proration_"):
            label = "Proration credit" if line.kind == "proration_credit" else "Proration charge"
            assert f"{label} {' '.join(line.description.split())}" in text


def test_each_json_document_is_the_invoice(scenario: Scenario) -> None:
    store = _store(scenario)
    for customer_id, invoice in _finalized(scenario):
        stored = store.read(invoice.id)
        assert stored is not None
        document = InvoiceDocumentOut.model_validate_json(stored.json)  # the documented schema
        body = json.loads(stored.json)
        assert document.invoice_id == invoice.id
        assert document.number == invoice.number
        assert document.status == invoice.status == "finalized"
        assert (document.period_start, document.period_end) == (
            invoice.period_start,
            invoice.period_end,
        )
        assert document.finalized_at == invoice.finalized_at
        assert document.customer.id == customer_id
        assert document.customer.name == CUSTOMERS[customer_id][1]
        assert document.customer.email == f"{customer_id}@example.com"
        assert document.currency == invoice.total.currency
        assert document.total.amount == invoice.total.amount
        assert document.subtotal.amount == invoice.subtotal.amount
        assert document.total.decimal == invoice.total.decimal
        assert [
            (line.id, line.kind, line.quantity, line.unit_amount, line.amount.amount, line.tier)
            for line in document.lines
        ] == [
            (line.id, line.kind, line.quantity, line.unit_amount, line.amount.amount, line.tier)
            for line in invoice.lines
        ]
        # Unit prices stay exact decimal strings; amounts stay integers; nothing is a float.
        for line in body["lines"]:
            assert isinstance(line["amount"]["amount"], int)
            assert line["unit_amount"] is None or isinstance(line["unit_amount"], str)
        assert sum(line.amount.amount for line in document.lines) == document.subtotal.amount


def test_documents_render_identically_again(scenario: Scenario) -> None:
    store = _store(scenario)
    customers = parties.snapshot_customers(scenario.settings.control_snapshots_dir)
    issuer = parties.issuer(scenario.settings)
    for customer_id, invoice in _finalized(scenario):
        path = store.pdf_path(invoice.id)
        before = (path.read_bytes(), path.stat().st_mtime_ns)
        document = InvoiceDocument.from_invoice(
            invoice, issuer=issuer, customer=customers[customer_id]
        )
        assert render(document) == store.read(invoice.id)
        again = ensure_document(store, invoice, issuer=issuer, customer=customers[customer_id])
        assert again.pdf == before[0]
        assert path.stat().st_mtime_ns == before[1]  # found, not rewritten


def test_the_pdf_is_dated_when_the_invoice_was_finalized(scenario: Scenario) -> None:
    _, invoice = _finalized(scenario)[0]
    stored = _store(scenario).read(invoice.id)
    assert stored is not None
    assert invoice.finalized_at is not None
    metadata = pypdf.PdfReader(io.BytesIO(stored.pdf)).metadata
    assert metadata is not None
    assert metadata.creation_date == invoice.finalized_at
    assert metadata.title == f"Invoice {invoice.number}"


# -- the renderer and the store on their own ---------------------------------------------------


def _invoice(lines: int = 3, *, status: str = "finalized") -> InvoiceOut:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        InvoiceLineOut(
            id=f"il_{index:024x}",
            kind="usage",
            description=f"AI tokens ({'gpt-4o' if index % 2 else 'llama'}): tier 1 (up to "
            f"{index * 1000})",
            plan="professional",
            feature="ai_tokens",
            dimension=None,
            tier=1,
            quantity=str(1000 + index),
            unit_amount="0.125",
            amount=Money.of(round((1000 + index) * Decimal("0.125")), "usd"),
            applies_from=start,
            applies_to=end,
            cycle_id="c",
        )
        for index in range(lines)
    ]
    total = sum(row.amount.amount for row in rows)
    return InvoiceOut(
        id="inv_0123456789abcdef01234567",
        number="TG-000042" if status == "finalized" else None,
        kind="cycle",
        status="finalized" if status == "finalized" else "draft",
        subscription_id="sub_1",
        cycle_id="c",
        period_start=start,
        period_end=end,
        subtotal=Money.of(total, "usd"),
        total=Money.of(total, "usd"),
        finalized_at=end + timedelta(hours=1) if status == "finalized" else None,
        finalizes_at=None,
        lines=rows,
    )


ISSUER = Party("Tollgate demo issuer", ("1 Example Street", "10115 Berlin"), "billing@example.com")


def test_names_outside_latin_1_are_folded_on_the_pdf_and_kept_in_the_json() -> None:
    name = "Łukasz Żółć \u2013 株式会社 \u201cΩmega\u201d"  # en dash, curly quotes
    customer = Party(name, email="ł@example.com", id="c_1")
    document = InvoiceDocument.from_invoice(_invoice(), issuer=ISSUER, customer=customer)
    stored = render(document)
    # Accents outside Latin-1 dropped (ó is Latin-1: kept), typographic punctuation made
    # ASCII, other scripts replaced.
    assert 'Lukasz Zólc - ???? "?mega"' in pdf_text(stored.pdf)
    assert json.loads(stored.json)["customer"]["name"] == name


def test_a_long_invoice_runs_over_pages_with_every_line() -> None:
    invoice = _invoice(lines=60)
    document = InvoiceDocument.from_invoice(invoice, issuer=ISSUER, customer=Party("A", id="a"))
    pdf = render(document).pdf
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages) > 1
    check_pdf(pdf, invoice, customer_name="A", issuer_name=ISSUER.name)


def test_the_same_document_renders_to_the_same_bytes() -> None:
    document = InvoiceDocument.from_invoice(_invoice(), issuer=ISSUER, customer=Party("A"))
    assert render(document) == render(document)
    renamed = replace(document, customer=Party("B"))
    assert render(renamed).pdf != render(document).pdf


def test_a_draft_has_no_document(tmp_path: Path) -> None:
    draft = _invoice(status="draft")
    with pytest.raises(NotFinalizedError):
        InvoiceDocument.from_invoice(draft, issuer=ISSUER, customer=Party("A"))
    with pytest.raises(NotFinalizedError):
        ensure_document(DocumentStore(tmp_path), draft, issuer=ISSUER, customer=Party("A"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "invoice_id", ["../inv_1", "inv_../x", "inv_1/../../x", "inv_", "inv_1.pdf", "x", "INV_1"]
)
def test_ids_that_could_leave_the_directory_are_refused(tmp_path: Path, invoice_id: str) -> None:
    store = DocumentStore(tmp_path)
    with pytest.raises(InvalidInvoiceIdError):
        store.pdf_path(invoice_id)
    with pytest.raises(InvalidInvoiceIdError):
        store.write(StoredDocument(invoice_id, b"%PDF", b"{}"))


def test_a_stored_document_is_never_replaced(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path / "documents")
    first = StoredDocument("inv_abc123", b"%PDF-first", b'{"n": 1}\n')
    assert store.write(first) == first
    assert store.write(StoredDocument("inv_abc123", b"%PDF-second", b"{}")) == first
    assert store.read("inv_abc123") == first
    assert sorted(p.name for p in (tmp_path / "documents").iterdir()) == [
        "inv_abc123.json",
        "inv_abc123.pdf",
    ]  # no temporary files left behind
    assert store.read("inv_missing") is None
