"""Invoice extraction: PDF (or UBL/CII XML) bytes in, typed fields with source and confidence out.

    extract_invoice_isolated(data, filename=..., limits=ExtractionLimits())  # for workers
    extract_invoice(data, filename=..., limits=...)                          # in-process

Both raise UnreadableDocument(reason, code) for documents that cannot be read.
"""

from extraction.documents import UnreadableDocument
from extraction.isolation import extract_invoice_isolated
from extraction.limits import ExtractionLimits
from extraction.pipeline import extract_invoice

__all__ = ["ExtractionLimits", "UnreadableDocument", "extract_invoice", "extract_invoice_isolated"]
