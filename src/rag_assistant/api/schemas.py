"""Request and response bodies: the public contract of the API (and of its OpenAPI)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000
MAX_TOP_K = 20
MAX_FILE_NAME_CHARS = 1000


class QueryRequest(BaseModel):
    # Strict: top_k is an integer, not true, "3" or 3.0 (JSON has no other way to say 3).
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(
        ..., min_length=1, max_length=MAX_QUESTION_CHARS, description="The question, in any language."
    )
    top_k: int | None = Field(
        None, ge=1, le=MAX_TOP_K, description="How many sources to retrieve (default: RAG_TOP_K, 5)."
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("question must not be blank")
        return value.strip()


class UploadUrlRequest(BaseModel):
    """POST /rag/documents/upload-url (AWS): where to PUT one file."""

    model_config = ConfigDict(extra="forbid", strict=True)

    file_name: str = Field(..., min_length=1, max_length=MAX_FILE_NAME_CHARS)
    size_bytes: int = Field(..., ge=1, description="The exact size: the URL accepts this many bytes only.")
    content_type: str = Field("application/octet-stream", max_length=200,
                              description="Ignored: the type follows from the file name.")


class Source(BaseModel):
    number: int = Field(..., description="The n of [n] in the answer.")
    document_id: str
    file_name: str
    page: int | None = Field(None, description="First PDF page of the chunk (1-based).")
    page_end: int | None = None
    heading: str | None = Field(None, description="Markdown heading path of the chunk.")
    chunk_id: str
    score: float
    snippet: str
    quote: str | None = Field(None, description="The text the answer took from this source.")
    cited: bool = Field(False, description="Whether the answer cites this source.")


class QueryResponse(BaseModel):
    question: str
    answer: str
    answered: bool = Field(..., description="False when the documents do not contain the answer.")
    grounded: bool = Field(False, description="Answered, and every [n] points at one of the sources.")
    generator: str = Field(..., description="Which answer generator answered (extractive, openai, ...).")
    notice: str | None = Field(None, description="Why another generator answered (the LLM failed, no key).")
    usage: dict[str, float] | None = Field(None, description="LLM tokens, seconds and estimated cost (US$).")
    sources: list[Source]
    timings_ms: dict[str, float]


class DocumentOut(BaseModel):
    document_id: str
    file_name: str
    status: Literal["processing", "ready", "failed"]
    chunk_count: int
    size_bytes: int
    media_type: str
    page_count: int | None
    embedding_model: str
    error: str | None
    created_at: str
    updated_at: str


class DocumentList(BaseModel):
    documents: list[DocumentOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class UploadResult(BaseModel):
    outcome: Literal["indexed", "unchanged"]
    document: DocumentOut


class ErrorDetail(BaseModel):
    code: str = Field(..., description="Stable, for programs: invalid_json, validation_error, ...")
    message: str = Field(..., description="For people: what is wrong and what to do.")
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class AuthInfo(BaseModel):
    scope: Literal["none", "writes", "all"] = Field(
        ..., description="Which routes need the key: none, writes (upload, delete) or all.")
    header: str = Field(..., description="Where the key goes (also accepted: Authorization: Bearer).")


class ServerConfig(BaseModel):
    upload_mode: Literal["direct", "presigned"]
    max_upload_bytes: int
    accepted_types: list[str]
    generator: str
    embedding_model: str
    auth: AuthInfo
