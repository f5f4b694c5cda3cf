"""The e-invoice XML a PDF carries as an attachment (Factur-X, ZUGFeRD, XRechnung, UBL)."""

from __future__ import annotations

import io
import logging

import facturx
import pypdf

from extraction.documents import reader_errors

# factur-x logs every attachment it skips; that is noise in a worker's log.
logging.getLogger("factur-x").setLevel(logging.ERROR)


def embedded_xml(data: bytes) -> bytes | None:
    """The invoice XML attached to the PDF: Factur-X's own search first, then any *.xml file."""
    with reader_errors("the PDF's attachments"):
        _, xml = facturx.get_xml_from_pdf(data, check_xsd=False)
        if xml:
            return bytes(xml)
        reader = pypdf.PdfReader(io.BytesIO(data))
        for attachment in reader.attachment_list:
            if attachment.name.lower().endswith(".xml") and attachment.content:
                return bytes(attachment.content)
    return None
