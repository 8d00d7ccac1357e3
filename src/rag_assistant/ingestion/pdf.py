"""PDF text extraction with pdfium (pypdfium2).

Chosen over pypdf after measuring both on the NIST PDFs: the same text, 14-20x the pages
per second (docs/BENCHMARKS.md). Page numbers are physical (1-based), what a viewer shows.
"""

from __future__ import annotations

import re
import threading

from ..errors import CorruptFileError, DocumentTooComplexError, EncryptedFileError, NoTextLayerError
from ..models import Page

_PDF_MAGIC = b"%PDF-"
_OTHER_FORMATS = {
    b"PK\x03\x04": "a ZIP container (a .docx, .xlsx or .pptx renamed to .pdf?)",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"{\\rtf": "an RTF document",
}


def _sniff_not_pdf(data: bytes) -> str | None:
    # The header may be preceded by junk (the spec allows 1024 bytes), so search, not match.
    if _PDF_MAGIC in data[:1024]:
        return None
    for magic, what in _OTHER_FORMATS.items():
        if data.startswith(magic):
            return f"the file is not a PDF: it is {what}"
    return "the file is not a PDF: no '%PDF-' header"


#: PDFium is not thread-safe, not even across documents (pypdfium2's docs: concurrent calls
#: "would crash or corrupt the process"). The server reads PDFs in reader processes of one
#: thread; whoever parses in-process (RAG_PARSE_ISOLATION=none, scripts) is serialized here.
_PDFIUM = threading.Lock()


def extract_pages(data: bytes, *, max_pages: int | None = None, max_chars: int | None = None) -> list[Page]:
    """Text of every page. Raises an IngestError subclass with a reason a person can act on,
    DocumentTooComplexError past `max_pages` pages or `max_chars` characters of text."""
    not_pdf = _sniff_not_pdf(data)
    if not_pdf:
        raise CorruptFileError(not_pdf)
    with _PDFIUM:
        pages = _extract(data, max_pages, max_chars)
    if not any(page.text.strip() for page in pages):
        raise NoTextLayerError(
            f"the PDF has {len(pages)} page(s) but no text layer (a scan?); "
            "run OCR on it first (for example with ocrmypdf) and upload the result"
        )
    return pages


def _extract(data: bytes, max_pages: int | None, max_chars: int | None) -> list[Page]:
    import pypdfium2 as pdfium  # heavy native library: imported only when a PDF arrives

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        # PDFium refuses a document without pages (or without a page tree) yet records no
        # error for it, so its message carries the last error of this process: "Success", or
        # a stale "password" from the file before. Hence the checks of the bytes themselves.
        if _has_no_pages(data):
            raise CorruptFileError("the PDF has no pages; there is nothing in it to index") from None
        if "password" in str(exc).lower() and b"/Encrypt" in data:
            raise EncryptedFileError(
                "the PDF is encrypted with a password; save an unprotected copy and upload that"
            ) from None
        hint = "" if b"%%EOF" in data[-4096:] else "; it looks truncated (no %EOF at the end)"
        raise CorruptFileError(f"the PDF could not be read ({_pdfium_reason(exc, data)}){hint}") from None

    pages: list[Page] = []
    failed_pages = 0
    characters = 0
    try:
        if max_pages is not None and len(document) > max_pages:
            raise DocumentTooComplexError(
                f"the PDF has {len(document):,} pages; the limit is {max_pages:,} (RAG_MAX_PAGES)"
            )
        for index in range(len(document)):
            try:
                page = document[index]
                textpage = page.get_textpage()
                text = textpage.get_text_range()
                textpage.close()
                page.close()
            except pdfium.PdfiumError:
                # A damaged page loses only itself; the reader still gets the rest.
                failed_pages += 1
                text = ""
            pages.append(Page(number=index + 1, text=text))
            characters += len(text)
            if max_chars is not None and characters > max_chars:
                from .parsing import check_characters

                check_characters(characters, max_chars, more=True)
    finally:
        document.close()

    if not pages:
        raise CorruptFileError("the PDF has no pages; there is nothing in it to index")
    if failed_pages == len(pages):
        raise CorruptFileError("no page of the PDF could be read (the file is damaged)")
    return pages


_EMPTY_PAGE_TREE = re.compile(rb"/Count\s+0\b")
_PAGE_OBJECT = re.compile(rb"/Type\s*/Page\b")  # a page, not the /Pages tree above it


def _has_no_pages(data: bytes) -> bool:
    """A complete file with an empty page tree (/Count 0) and no page object in sight."""
    return b"%%EOF" in data[-4096:] and bool(_EMPTY_PAGE_TREE.search(data)) and not _PAGE_OBJECT.search(data)


def _pdfium_reason(exc: Exception, data: bytes) -> str:
    import pypdfium2.raw as pdfium_c

    code = getattr(exc, "err_code", None)
    # No error recorded for this file (see _extract): "Success", or another file's password.
    if code == pdfium_c.FPDF_ERR_SUCCESS or (code == pdfium_c.FPDF_ERR_PASSWORD and b"/Encrypt" not in data):
        return "no readable page tree in it"
    message = str(exc)
    start = message.find("(PDFium: ")
    return message[start + 1 : -1] if start >= 0 and message.endswith(")") else message
