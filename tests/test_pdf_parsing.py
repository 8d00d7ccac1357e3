import pytest
from conftest import SSDF_PDF, ZERO_TRUST_PDF
from pdf_factory import docx_bytes, encrypted_pdf, pageless_pdf, scanned_pdf, treeless_pdf, truncated_pdf

from rag_assistant.errors import CorruptFileError, EncryptedFileError, NoTextLayerError
from rag_assistant.ingestion.parsing import parse_document


def test_nist_pdf_pages_are_numbered_and_cleaned() -> None:
    parsed = parse_document(ZERO_TRUST_PDF.name, ZERO_TRUST_PDF.read_bytes())
    assert parsed.media_type == "application/pdf" and parsed.page_count == 59
    pages = [s.page for s in parsed.sections]
    assert pages == sorted(pages) and pages[0] >= 1 and pages[-1] <= 59
    text = {s.page: s.text for s in parsed.sections}
    # The tenets are on physical page 15 (printed page 6).
    assert "adherence to the following zero trust basic tenets" in text[15]
    # Running header/footer lines are gone from the body pages.
    body = [t for page, t in text.items() if page >= 5]
    assert not any("available free of charge from" in t for t in body)
    assert not any(t.startswith("NIST SP 800-207 ZERO TRUST ARCHITECTURE") for t in body)
    # Table-of-contents dot leaders are not indexed.
    assert not any("......" in t for t in text.values())


def test_second_nist_pdf_parses() -> None:
    parsed = parse_document(SSDF_PDF.name, SSDF_PDF.read_bytes())
    assert parsed.page_count == 36
    assert any("Secure Software Development Framework" in s.text for s in parsed.sections)


def test_truncated_pdf_fails_with_a_reason() -> None:
    with pytest.raises(CorruptFileError, match="truncated") as raised:
        parse_document("cut.pdf", truncated_pdf(SSDF_PDF))
    # The marker as it appears in the file, not a doubled printf escape.
    assert "no %EOF at the end" in str(raised.value) and "%%" not in str(raised.value)


def test_pdf_without_pages_says_so() -> None:
    # PDFium refuses it without recording an error: its message said "PDFium: Success" in a
    # fresh reader, and the previous file's error after another failure (here: a password).
    with pytest.raises(EncryptedFileError):
        parse_document("locked.pdf", encrypted_pdf(SSDF_PDF))
    with pytest.raises(CorruptFileError) as raised:
        parse_document("blank.pdf", pageless_pdf())
    assert str(raised.value) == "the PDF has no pages; there is nothing in it to index"
    # Without a page tree at all: neither "Success" nor the previous file's "password".
    with pytest.raises(CorruptFileError) as raised:
        parse_document("bare.pdf", treeless_pdf())
    assert "no readable page tree" in str(raised.value) and "Success" not in str(raised.value)


def test_encrypted_pdf_fails_with_a_reason() -> None:
    with pytest.raises(EncryptedFileError, match="password"):
        parse_document("locked.pdf", encrypted_pdf(SSDF_PDF))


def test_scanned_pdf_without_text_layer_fails_with_a_reason() -> None:
    with pytest.raises(NoTextLayerError, match="OCR"):
        parse_document("scan.pdf", scanned_pdf())


def test_docx_renamed_to_pdf_is_recognised() -> None:
    with pytest.raises(CorruptFileError, match="docx"):
        parse_document("report.pdf", docx_bytes())
