"""The values that cross the seams: plain frozen dataclasses, no behaviour beyond helpers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class DocumentStatus(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Page:
    """Text of one physical page (PDF) or of the whole file (TXT/Markdown: page None)."""

    number: int | None
    text: str


@dataclass(frozen=True, slots=True)
class Section:
    """A run of text with where it came from: the page and, for Markdown, its heading path."""

    text: str
    page: int | None = None
    heading: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    file_name: str
    media_type: str
    sections: tuple[Section, ...]
    page_count: int | None = None
    encoding: str | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: str
    document_id: str
    index: int
    text: str
    page: int | None = None
    page_end: int | None = None
    heading: str | None = None
    token_count: int = 0

    def embedding_text(self) -> str:
        # The heading path gives a Markdown chunk the context its own words may lack.
        return f"{self.heading}\n{self.text}" if self.heading else self.text


@dataclass(frozen=True, slots=True)
class Document:
    document_id: str
    file_name: str
    source: str
    content_hash: str
    status: DocumentStatus
    chunk_count: int = 0
    size_bytes: int = 0
    media_type: str = ""
    page_count: int | None = None
    embedding_model: str = ""
    error: str | None = None
    created_at: str = ""
    updated_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        return data


@dataclass(frozen=True, slots=True)
class SearchHit:
    chunk: Chunk
    file_name: str
    score: float

    def to_dict(self, snippet_chars: int = 1500) -> dict[str, Any]:
        text = self.chunk.text
        snippet = text if len(text) <= snippet_chars else text[:snippet_chars].rstrip() + "…"
        return {
            "document_id": self.chunk.document_id,
            "file_name": self.file_name,
            "page": self.chunk.page,
            "page_end": self.chunk.page_end,
            "heading": self.chunk.heading,
            "chunk_id": self.chunk.chunk_id,
            "score": round(self.score, 4),
            "snippet": snippet,
        }


@dataclass(frozen=True, slots=True)
class Citation:
    """Source [n] of an answer: the hit it points at and the sentence(s) taken from it."""

    number: int
    hit: SearchHit
    quote: str = ""
    cited: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = self.hit.to_dict()
        data["number"] = self.number
        data["quote"] = self.quote or None
        data["cited"] = self.cited
        return data


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    text: str
    answered: bool
    citations: tuple[Citation, ...]
    generator: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: answered, and every [n] in the text points at one of the sources
    grounded: bool = False
    #: set when the configured generator could not answer and another did (and why)
    notice: str | None = None
    #: LLM token counts and estimated cost, when an LLM answered
    usage: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "question": self.question,
            "answer": self.text,
            "answered": self.answered,
            "grounded": self.grounded,
            "generator": self.generator,
            "sources": [c.to_dict() for c in self.citations],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if self.notice:
            data["notice"] = self.notice
        if self.usage:
            data["usage"] = self.usage
        return data


class IngestOutcome(StrEnum):
    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class IngestResult:
    source: str
    file_name: str
    outcome: IngestOutcome
    document_id: str | None = None
    chunk_count: int = 0
    reason: str | None = None
    #: stable code of the failure (an IngestError code), for APIs and scripts
    error_code: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is not IngestOutcome.FAILED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        data["seconds"] = round(self.seconds, 3)
        return data


@dataclass(frozen=True, slots=True)
class ServiceInfo:
    """What an assistant offers (its /rag/config): who answers and what it accepts."""

    generator: str
    #: True when answers are written piece by piece (an LLM): worth showing as they come
    streams_text: bool
    embedding_model: str
    retrieval_mode: str
    max_file_bytes: int
    accepted_types: tuple[str, ...]
    default_top_k: int


# The events of RagService.ask_stream, in order: SourcesFound, AnswerText*, AnswerReady.


@dataclass(frozen=True, slots=True)
class SourcesFound:
    hits: tuple[SearchHit, ...]


@dataclass(frozen=True, slots=True)
class AnswerText:
    text: str


@dataclass(frozen=True, slots=True)
class AnswerReady:
    answer: Answer


AnswerEvent = SourcesFound | AnswerText | AnswerReady
