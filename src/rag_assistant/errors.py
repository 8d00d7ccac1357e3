"""Errors a user can act on. Each carries a stable code and a message that says what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base class: `code` is stable for scripts and APIs, `str()` is for people."""

    code = "rag_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


class IngestError(RagError):
    """One file could not be indexed; the others are unaffected."""

    code = "ingest_failed"


class UnsupportedFileError(IngestError):
    code = "unsupported_file"


class EmptyDocumentError(IngestError):
    code = "empty_document"


class FileTooLargeError(IngestError):
    code = "file_too_large"


class CorruptFileError(IngestError):
    code = "corrupt_file"


class EncryptedFileError(IngestError):
    code = "encrypted_file"


class NoTextLayerError(IngestError):
    code = "no_text_layer"


class DecodingError(IngestError):
    code = "decoding_failed"


class DocumentTooComplexError(IngestError):
    """The file exceeds a per-document bound (pages, characters, chunks, the reader's
    memory); the message names the bound and its setting."""

    code = "too_complex"


class ParseTimeoutError(IngestError):
    """Reading the file took longer than RAG_PARSE_TIMEOUT."""

    code = "timeout"


class ServerBusyError(RagError):
    """Every ingestion worker is busy and the queue is full: nothing was recorded; retry."""

    code = "server_busy"


class LeaseLostError(RagError):
    """The document was deleted (or its lease taken over) while a new version was being
    indexed: the delete wins, the new version is dropped."""

    code = "superseded"

    def __init__(
        self,
        message: str = "the document was deleted (or taken over by another upload) while this version "
        "was being indexed; nothing was written",
        *, code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)


class DocumentBusyError(RagError):
    """Another worker is indexing this document right now; try again later."""

    code = "document_busy"


class DocumentNotFoundError(RagError):
    code = "document_not_found"


class ModelMismatchError(RagError):
    """The store was built with another embedding model; vectors must not be mixed."""

    code = "embedding_model_mismatch"


class ConfigurationError(RagError):
    code = "configuration_error"


class EmbeddingServiceError(IngestError):
    """A hosted embedding model (OpenAI, Bedrock) failed; worth retrying later."""

    code = "embedding_unavailable"
