"""Invoice documents: a PDF and a machine-readable JSON for every finalized invoice.

``document`` (what a document says, and its JSON), ``pdf`` (fpdf2 rendering), ``store`` (the
files, written once), ``parties`` (issuer and customer), ``service`` (render once, serve
after). See docs/invoices.md.
"""
