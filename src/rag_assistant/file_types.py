"""The files the assistant reads, and how big they may be: one table and one message for
every door a file comes in by (CLI, local upload, presigned upload, S3 event).

Light on purpose: the documents Lambda imports it without the ingestion stack.
"""

from __future__ import annotations

from pathlib import PurePath

from .errors import FileTooLargeError, UnsupportedFileError

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
}


def suffix_of(file_name: str) -> str:
    return PurePath(file_name).suffix.lower()


def is_supported(file_name: str) -> bool:
    return suffix_of(file_name) in MEDIA_TYPES


def media_type_for(file_name: str) -> str:
    """The media type of a supported file; UnsupportedFileError names the supported ones."""
    suffix = suffix_of(file_name)
    try:
        return MEDIA_TYPES[suffix]
    except KeyError:
        supported = ", ".join(sorted(MEDIA_TYPES))
        raise UnsupportedFileError(
            f"unsupported file type {suffix or '(no extension)'!r}; supported: {supported}"
        ) from None


def too_large(limit: int, size: int | None = None) -> FileTooLargeError:
    """The one "file too large" error; `size` None when only "more than the limit" is known
    (a stream cut off at limit + 1 bytes)."""
    what = f"the file is {size:,} bytes" if size is not None else "the file is larger than that"
    return FileTooLargeError(f"{what}; the limit is {limit:,} bytes (RAG_MAX_FILE_BYTES)")


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise too_large(limit, size)
