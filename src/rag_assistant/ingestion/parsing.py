"""File bytes to a ParsedDocument of cleaned, located sections."""

from __future__ import annotations

from ..errors import EmptyDocumentError
from ..file_types import check_size, media_type_for
from ..models import ParsedDocument, Section
from .cleaning import clean_text, remove_repeated_margins
from .text_decoding import decode_text

def parse_document(file_name: str, data: bytes, *, max_bytes: int | None = None) -> ParsedDocument:
    media_type = media_type_for(file_name)
    if max_bytes is not None:
        check_size(len(data), max_bytes)
    if not data.strip():
        raise EmptyDocumentError("the file is empty")

    encoding = None
    page_count = None
    if media_type == "application/pdf":
        from .pdf import extract_pages

        pages = extract_pages(data)
        page_count = len(pages)
        texts = remove_repeated_margins([p.text.replace("\r\n", "\n") for p in pages])
        sections = [
            Section(text=clean_text(text, soft_wrapped_lines=True), page=page.number)
            for page, text in zip(pages, texts, strict=True)
        ]
    else:
        text, encoding = decode_text(data)
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
    return ParsedDocument(
        file_name=file_name,
        media_type=media_type,
        sections=tuple(sections),
        page_count=page_count,
        encoding=encoding,
    )
