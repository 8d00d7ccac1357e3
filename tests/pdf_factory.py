"""Real PDF files with the defects users upload, written with pypdf and pypdfium2."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path


def truncated_pdf(source: Path, fraction: float = 0.6) -> bytes:
    data = source.read_bytes()
    return data[: int(len(data) * fraction)]


def encrypted_pdf(source: Path, password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pageless_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (/Count 0), as some generators write."""
    from pypdf import PdfWriter

    out = io.BytesIO()
    PdfWriter().write(out)
    return out.getvalue()


def treeless_pdf() -> bytes:
    """A complete PDF whose catalog has no page tree at all (no /Pages)."""
    body = b"%PDF-1.4\n"
    offset = len(body)
    body += b"1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    xref = len(body)
    body += b"xref\n0 2\n0000000000 65535 f \n%010d 00000 n \n" % offset
    return body + b"trailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref


def scanned_pdf(pages: int = 2) -> bytes:
    """Pages with only graphics on them, as a scanner makes: no text layer."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        page = document.new_page(612, 792)
        path = raw.FPDFPageObj_CreateNewRect(50, 50, 500, 700)
        raw.FPDFPageObj_SetFillColor(path, 40, 40, 40, 255)
        raw.FPDFPath_SetDrawMode(path, raw.FPDF_FILLMODE_ALTERNATE, False)
        raw.FPDFPage_InsertObject(page.raw, path)
        raw.FPDFPage_GenerateContent(page.raw)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_bytes() -> bytes:
    """A minimal Word document (a ZIP container), to be renamed .pdf."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><w:body>Hello</w:body></w:document>")
    return out.getvalue()
