"""The service layer: ingest, ask, search, list, delete. No CLI, HTTP or Lambda in here."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from .answering.base import AnswerGenerator
from .config import Settings
from .embedding.base import Embedder
from .errors import DocumentBusyError, DocumentNotFoundError, FileTooLargeError, IngestError
from .ingestion.chunking import chunk_sections
from .ingestion.parsing import MEDIA_TYPES, media_type_for, parse_document
from .models import (
    Answer,
    Citation,
    Document,
    DocumentStatus,
    IngestOutcome,
    IngestResult,
    SearchHit,
)
from .retrieval.retriever import Retriever
from .sources import clean_file_name, document_id_for, local_source, upload_source
from .store.base import VectorStore, utc_now

log = logging.getLogger("rag_assistant.service")

MAX_SOURCES = 50
#: How long an ingestion lease lasts: the upload Lambda's 15-minute timeout.
LOCK_SECONDS = 900


class RagService:
    def __init__(
        self,
        settings: Settings,
        store: VectorStore,
        embedder: Embedder,
        answerer_factory: Callable[[], AnswerGenerator],
    ) -> None:
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self._answerer_factory = answerer_factory
        self._answerer: AnswerGenerator | None = None
        self._model_bound = False
        self.retriever = Retriever(
            store, embedder, mode=settings.retrieval_mode, dense_weight=settings.hybrid_dense_weight
        )

    # --- ingestion -----------------------------------------------------------------------

    def ingest_bytes(self, source: str, file_name: str, data: bytes) -> IngestResult:
        """Index one file. Never raises for a bad file: the reason is in the result."""
        started = time.perf_counter()
        document_id = document_id_for(source)
        owner = uuid.uuid4().hex
        if not self.store.lock_document(document_id, owner, LOCK_SECONDS):
            return IngestResult(
                source, file_name, IngestOutcome.FAILED, document_id,
                reason="another worker is indexing this document; try again later",
                error_code=DocumentBusyError.code,
            )
        try:
            result = self._ingest(document_id, source, file_name, data)
        except IngestError as exc:
            self.record_failure(document_id, source, file_name, data, str(exc))
            result = IngestResult(
                source, file_name, IngestOutcome.FAILED, document_id, reason=str(exc), error_code=exc.code
            )
        except Exception as exc:  # a bug must not stop the other files of a batch
            log.exception("unexpected error while indexing", extra={"document_id": document_id})
            reason = f"internal error ({type(exc).__name__}); see the log for details"
            self.record_failure(document_id, source, file_name, data, reason)
            result = IngestResult(
                source, file_name, IngestOutcome.FAILED, document_id, reason=reason, error_code="internal_error"
            )
        finally:
            self.store.unlock_document(document_id, owner)
        result = replace(result, seconds=time.perf_counter() - started)
        log.info(
            "ingested %s: %s",
            file_name,
            result.outcome,
            extra={"document_id": document_id, "outcome": str(result.outcome), "chunks": result.chunk_count,
                   "seconds": round(result.seconds, 3), "reason": result.reason},
        )
        return result

    def _ingest(self, document_id: str, source: str, file_name: str, data: bytes) -> IngestResult:
        media_type = media_type_for(file_name)
        self._bind_model(claim=True)
        content_hash = hashlib.sha256(data).hexdigest()
        existing = self.store.get_document(document_id)
        if (
            existing is not None
            and existing.status is DocumentStatus.READY
            and existing.content_hash == content_hash
            and existing.embedding_model == self.embedder.name
            and existing.file_name == file_name
        ):
            return IngestResult(
                source, file_name, IngestOutcome.UNCHANGED, document_id, existing.chunk_count
            )

        parsed = parse_document(file_name, data, max_bytes=self.settings.max_file_bytes)
        size = min(self.settings.chunk_size_tokens, self.embedder.max_tokens - 2)
        overlap = min(self.settings.chunk_overlap_tokens, size // 2)
        chunks = chunk_sections(document_id, content_hash, parsed.sections, self.embedder, size, overlap)
        if not chunks:
            raise IngestError("the file contains no text to index", code="empty_document")
        vectors = self.embedder.embed_documents([c.embedding_text() for c in chunks])
        now = utc_now()
        document = Document(
            document_id=document_id,
            file_name=file_name,
            source=source,
            content_hash=content_hash,
            status=DocumentStatus.READY,
            chunk_count=len(chunks),
            size_bytes=len(data),
            media_type=media_type,
            page_count=parsed.page_count,
            embedding_model=self.embedder.name,
            error=None,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        self.store.replace_chunks(document, chunks, vectors)
        return IngestResult(source, file_name, IngestOutcome.INDEXED, document_id, len(chunks))

    def record_failure(
        self, document_id: str, source: str, file_name: str, data: bytes, reason: str
    ) -> None:
        """A failed new version leaves the last good one searchable, with the error noted."""
        try:
            now = utc_now()
            existing = self.store.get_document(document_id)
            if existing is not None and existing.status is DocumentStatus.READY:
                self.store.upsert_document(
                    replace(existing, error=f"the latest version failed: {reason}", updated_at=now)
                )
                return
            self.store.upsert_document(
                Document(
                    document_id=document_id,
                    file_name=file_name,
                    source=source,
                    content_hash=hashlib.sha256(data).hexdigest(),
                    status=DocumentStatus.FAILED,
                    size_bytes=len(data),
                    media_type=MEDIA_TYPES.get(Path(file_name).suffix.lower(), ""),
                    embedding_model=self.embedder.name,
                    error=reason,
                    created_at=existing.created_at if existing else now,
                    updated_at=now,
                )
            )
        except Exception:
            log.exception("could not record the failure", extra={"document_id": document_id})

    def ingest_path(self, path: Path) -> IngestResult:
        source = local_source(path)
        try:
            size = path.stat().st_size
            if size > self.settings.max_file_bytes:
                raise FileTooLargeError(
                    f"the file is {size:,} bytes; the limit is "
                    f"{self.settings.max_file_bytes:,} (RAG_MAX_FILE_BYTES)"
                )
            data = path.read_bytes()
        except (OSError, IngestError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            code = exc.code if isinstance(exc, IngestError) else "unreadable_file"
            return IngestResult(
                source, path.name, IngestOutcome.FAILED, document_id_for(source), reason=reason, error_code=code
            )
        return self.ingest_bytes(source, path.name, data)

    # --- questions -----------------------------------------------------------------------

    def search(self, query: str, top_k: int | None = None) -> list[SearchHit]:
        self._bind_model(claim=False)
        return self.retriever.search(query, _bounded(top_k or self.settings.top_k))

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        answer = None
        for event in self.ask_stream(question, top_k):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def ask_stream(self, question: str, top_k: int | None = None) -> Iterator[list[SearchHit] | str | Answer]:
        """The sources (a list of hits) first, then text pieces as the answer is generated,
        then the Answer itself (the text cleaned, citations resolved)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        hits = self.search(question, top_k)
        timings["retrieval"] = (time.perf_counter() - started) * 1000
        yield hits
        answerer = self.answerer
        generated = None
        for piece in answerer.generate_stream(question, hits):
            if isinstance(piece, str):
                yield piece
            else:
                generated = piece
        assert generated is not None
        timings["generation"] = (time.perf_counter() - started) * 1000 - timings["retrieval"]
        timings["total"] = (time.perf_counter() - started) * 1000
        cited = set(generated.cited)
        citations = tuple(
            Citation(number=n, hit=hit, quote=generated.quotes.get(n, ""), cited=n in cited)
            for n, hit in enumerate(hits, start=1)
        )
        yield Answer(
            question=question,
            text=generated.text,
            answered=generated.answered,
            citations=citations,
            generator=generated.generator or answerer.name,
            timings_ms=timings,
            grounded=generated.grounded,
            notice=generated.notice,
            usage=generated.usage,
        )

    @property
    def answerer(self) -> AnswerGenerator:
        if self._answerer is None:
            self._answerer = self._answerer_factory()
        return self._answerer

    # --- documents -----------------------------------------------------------------------

    def list_documents(self, limit: int = 10, cursor: str | None = None) -> tuple[list[Document], str | None]:
        return self.store.list_documents(limit, cursor)

    def get_document(self, document_id: str) -> Document:
        document = self.store.get_document(document_id)
        if document is None:
            raise DocumentNotFoundError(f"no document with id {document_id!r}")
        return document

    def delete_document(self, document_id: str) -> None:
        if not self.store.delete_document(document_id):
            raise DocumentNotFoundError(f"no document with id {document_id!r}")

    def _bind_model(self, *, claim: bool) -> None:
        # Questions only check the model (the query Lambda cannot write); ingestion claims it.
        # The stores remember a verified model, so repeated checks cost nothing.
        if self._model_bound:
            return
        self.store.bind_model(self.embedder.name, self.embedder.dimension, claim=claim)
        self._model_bound = claim


def _bounded(top_k: int) -> int:
    return max(1, min(int(top_k), MAX_SOURCES))


def iter_supported_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly (whatever their type: the user asked for them) and the supported
    files found under folders, skipping hidden files and folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if any(part.startswith(".") for part in relative):
                    continue
                if child.is_file() and child.suffix.lower() in MEDIA_TYPES:
                    yield child
        else:
            yield path
