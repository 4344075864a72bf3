"""GET /api/billing/invoices/{id}/pdf and /document: the documents the real pipeline rendered.

The world's close run finalized each billed customer's first cycle, and its
``billing/invoice_documents`` asset rendered their documents; the API serves those very files,
to their own customer only, and renders on demand (the same bytes) an invoice whose document
is missing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ingest_api.billing.models_invoices import InvoiceDocumentOut, InvoiceOut
from tests.billing_api.world import World
from tests.invoices.pdf_checks import check_pdf
from tollgate.invoices.store import DocumentStore


def _invoice(world: World, customer: str, status: str) -> dict[str, Any]:
    response = world.request(
        "GET", "/invoices", world.tenants[customer].key, params={"status": status}
    )
    assert response.status_code == 200, response.text
    invoices: list[dict[str, Any]] = response.json()["invoices"]
    return invoices[0]


def _store(world: World) -> DocumentStore:
    return DocumentStore(world.settings.invoice_documents_dir)


def test_the_pdf_is_the_one_the_pipeline_rendered_and_shows_the_invoice(world: World) -> None:
    invoice = _invoice(world, "acme", "finalized")
    response = world.request("GET", f"/invoices/{invoice['id']}/pdf", world.tenants["acme"].key)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    # Rendered by the pipeline's close run, before any request: served as stored.
    assert response.content == _store(world).pdf_path(invoice["id"]).read_bytes()
    customer = world.control().get_customer("acme")
    check_pdf(
        response.content,
        InvoiceOut.model_validate(invoice),
        customer_name=customer.name,
        issuer_name=world.settings.issuer_name,
    )


def test_the_json_document_is_the_invoice(world: World) -> None:
    invoice = _invoice(world, "acme", "finalized")
    response = world.request(
        "GET", f"/invoices/{invoice['id']}/document", world.tenants["acme"].key
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.content == _store(world).json_path(invoice["id"]).read_bytes()
    InvoiceDocumentOut.model_validate_json(response.content)  # as the OpenAPI document says
    body = response.json()
    assert body["format_version"] == 1
    assert (body["invoice_id"], body["number"], body["status"]) == (
        invoice["id"],
        invoice["number"],
        "finalized",
    )
    assert (body["period_start"], body["period_end"], body["finalized_at"]) == (
        invoice["period_start"],
        invoice["period_end"],
        invoice["finalized_at"],
    )
    assert body["customer"]["id"] == "acme"
    assert body["customer"]["name"] == world.control().get_customer("acme").name
    assert body["issuer"]["name"] == world.settings.issuer_name
    assert body["currency"] == invoice["total"]["currency"] == "usd"
    for field in ("subtotal", "total"):
        assert body[field]["amount"] == invoice[field]["amount"]
        assert body[field]["decimal"] == invoice[field]["decimal"]
    assert [
        (line["id"], line["kind"], line["quantity"], line["unit_amount"], line["amount"]["amount"])
        for line in body["lines"]
    ] == [
        (line["id"], line["kind"], line["quantity"], line["unit_amount"], line["amount"]["amount"])
        for line in invoice["lines"]
    ]


def test_invoices_link_their_documents_and_drafts_do_not(world: World) -> None:
    finalized = _invoice(world, "acme", "finalized")
    assert finalized["pdf_url"] == f"/api/billing/invoices/{finalized['id']}/pdf"
    assert finalized["document_url"] == f"/api/billing/invoices/{finalized['id']}/document"
    draft = _invoice(world, "acme", "draft")
    assert (draft["pdf_url"], draft["document_url"]) == (None, None)


@pytest.mark.parametrize("document", ["pdf", "document"])
def test_a_draft_has_no_document(world: World, document: str) -> None:
    draft = _invoice(world, "acme", "draft")
    response = world.request(
        "GET", f"/invoices/{draft['id']}/{document}", world.tenants["acme"].key
    )
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "invoice_not_finalized"
    assert "drafts have no document" in error["message"]
    assert not _store(world).json_path(draft["id"]).exists()


@pytest.mark.parametrize("document", ["pdf", "document"])
def test_only_its_own_customer_gets_the_document(world: World, document: str) -> None:
    invoice = _invoice(world, "acme", "finalized")
    path = f"/invoices/{invoice['id']}/{document}"
    # Another customer's key: the same 404 as an id that does not exist.
    other = world.request("GET", path, world.tenants["dana"].key)
    unknown = world.request(
        "GET", f"/invoices/inv_000000000000000000000000/{document}", world.tenants["dana"].key
    )
    assert other.status_code == unknown.status_code == 404
    assert other.json()["error"]["code"] == unknown.json()["error"]["code"] == "unknown_invoice"
    assert world.request("GET", path, None).status_code == 401
    assert world.request("GET", path, world.read_key).status_code == 403  # a service key
    own_key_naming_another = world.request(
        "GET", path, world.tenants["dana"].key, params={"customer_id": "acme"}
    )
    assert own_key_naming_another.status_code == 403
    assert world.as_admin("GET", path, "acme").status_code == 200
    assert world.as_admin("GET", path, "dana").status_code == 404


def test_a_missing_document_is_rendered_on_demand_identically(world: World) -> None:
    # nell's invoice only: the other tests read acme's files.
    invoice = _invoice(world, "nell", "finalized")
    store = _store(world)
    rendered = store.read(invoice["id"])
    assert rendered is not None  # by the pipeline
    store.pdf_path(invoice["id"]).unlink()
    store.json_path(invoice["id"]).unlink()

    response = world.request("GET", f"/invoices/{invoice['id']}/pdf", world.tenants["nell"].key)

    assert response.status_code == 200, response.text
    # The API's render (customer from the control database) is the pipeline's (from the
    # control snapshot), byte for byte, and is stored for next time.
    assert response.content == rendered.pdf
    assert store.read(invoice["id"]) == rendered
    document = world.request(
        "GET", f"/invoices/{invoice['id']}/document", world.tenants["nell"].key
    )
    assert json.loads(document.content) == json.loads(rendered.json)
