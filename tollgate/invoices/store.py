"""Invoice documents on disk: ``<data dir>/invoices/documents/<invoice id>.pdf`` and ``.json``.

A finalized invoice never changes, so neither does its document: each file is written once,
atomically (temporary file, fsync, rename, fsync of the directory), and never replaced. A
writer that finds the file already there keeps it, whatever it would have written (a
customer renamed since, say), so a document once served stays the one served. Writers racing
on the same invoice render the same bytes; whichever rename lands last leaves those bytes.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tollgate.atomic_dirs import fsync_directory

# Invoice ids are "inv_" (or "inv_adj_") and hex digits (tollgate.billing.identifiers, the
# adjustments-only invoices' SQL): nothing that could name another directory.
_INVOICE_ID = re.compile(r"inv_[0-9a-z_]{1,120}")


class InvalidInvoiceIdError(ValueError):
    def __init__(self, invoice_id: str) -> None:
        super().__init__(f"not an invoice id: {invoice_id!r}")
        self.invoice_id = invoice_id


@dataclass(frozen=True, slots=True)
class StoredDocument:
    invoice_id: str
    pdf: bytes
    json: bytes


class DocumentStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def pdf_path(self, invoice_id: str) -> Path:
        return self.directory / f"{_checked(invoice_id)}.pdf"

    def json_path(self, invoice_id: str) -> Path:
        return self.directory / f"{_checked(invoice_id)}.json"

    def read(self, invoice_id: str) -> StoredDocument | None:
        """Both files, or None unless both exist (the JSON is written last)."""
        try:
            json_bytes = self.json_path(invoice_id).read_bytes()
            pdf_bytes = self.pdf_path(invoice_id).read_bytes()
        except FileNotFoundError:
            return None
        return StoredDocument(invoice_id, pdf_bytes, json_bytes)

    def has(self, invoice_id: str) -> bool:
        return self.json_path(invoice_id).is_file() and self.pdf_path(invoice_id).is_file()

    def write(self, document: StoredDocument) -> StoredDocument:
        """Stores what is missing of ``document``; returns what is stored afterwards."""
        self.directory.mkdir(parents=True, exist_ok=True)
        # The PDF first: readers take "the JSON exists" to mean both do.
        pdf = _write_once(self.pdf_path(document.invoice_id), document.pdf)
        json_bytes = _write_once(self.json_path(document.invoice_id), document.json)
        return StoredDocument(document.invoice_id, pdf, json_bytes)


def _checked(invoice_id: str) -> str:
    if not _INVOICE_ID.fullmatch(invoice_id):
        raise InvalidInvoiceIdError(invoice_id)
    return invoice_id


def _write_once(path: Path, content: bytes) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return content
