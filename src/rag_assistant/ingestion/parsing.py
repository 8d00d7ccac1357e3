"""File bytes to a ParsedDocument of cleaned, located sections."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import DocumentTooComplexError, EmptyDocumentError
from ..file_types import check_size, media_type_for
from ..models import ParsedDocument, Section
from .cleaning import clean_text, remove_repeated_margins
from .text_decoding import decode_text


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """What "too big" means for one document, besides its size in bytes (config.Settings
    holds the defaults; the README explains each). The reader's memory and time are bounded
    by the process it runs in (ingestion/isolation.py)."""

    max_pages: int = 2_000
    #: Characters of text, counted as it is extracted or decoded.
    max_chars: int = 3_000_000
    #: Each section becomes one chunk at least: more sections than chunks is refused early.
    max_chunks: int = 5_000


def parse_document(
    file_name: str, data: bytes, *, max_bytes: int | None = None, limits: DocumentLimits | None = None
) -> ParsedDocument:
    media_type = media_type_for(file_name)
    if max_bytes is not None:
        check_size(len(data), max_bytes)
    if not data.strip():
        raise EmptyDocumentError("the file is empty")
    limits = limits or DocumentLimits()

    encoding = None
    page_count = None
    if media_type == "application/pdf":
        from .pdf import extract_pages

        pages = extract_pages(data, max_pages=limits.max_pages, max_chars=limits.max_chars)
        page_count = len(pages)
        texts = remove_repeated_margins([p.text.replace("\r\n", "\n") for p in pages])
        sections = [
            Section(text=clean_text(text, soft_wrapped_lines=True), page=page.number)
            for page, text in zip(pages, texts, strict=True)
        ]
    else:
        text, encoding = decode_text(data)
        check_characters(len(text), limits.max_chars)
        if media_type == "text/markdown":
            from .markdown import split_sections

            sections = [
                Section(text=clean_text(s.text), heading=s.heading) for s in split_sections(text)
            ]
        else:
            sections = [Section(text=clean_text(text))]

    sections = [s for s in sections if s.text]
    if not sections:
        raise EmptyDocumentError("the file contains no text after cleaning")
    if len(sections) > limits.max_chunks:
        raise DocumentTooComplexError(
            f"the file has {len(sections):,} sections, more than the {limits.max_chunks:,} chunks "
            "a document may have (RAG_MAX_CHUNKS)"
        )
    return ParsedDocument(
        file_name=file_name,
        media_type=media_type,
        sections=tuple(sections),
        page_count=page_count,
        encoding=encoding,
    )


def check_characters(count: int, limit: int, *, more: bool = False) -> None:
    if count > limit:
        what = f"more than {limit:,}" if more else f"{count:,}"
        raise DocumentTooComplexError(
            f"the file's text has {what} characters; the limit is {limit:,} (RAG_MAX_DOCUMENT_CHARS)"
        )
