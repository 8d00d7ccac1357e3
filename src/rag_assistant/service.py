"""The service layer: ingest, ask, search, list, delete. No CLI, HTTP or Lambda in here."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .answering.base import AnswerGenerator
from .config import Settings
from .embedding.base import Embedder
from .errors import (
    DocumentBusyError,
    DocumentNotFoundError,
    DocumentTooComplexError,
    IngestError,
    LeaseLostError,
    ServerBusyError,
)
from .file_types import MEDIA_TYPES, check_size, is_supported, media_type_for, suffix_of
from .ingestion.chunking import chunk_sections
from .ingestion.parsing import DocumentLimits, parse_document
from .models import (
    Answer,
    AnswerEvent,
    AnswerReady,
    AnswerText,
    Chunk,
    Citation,
    Document,
    DocumentStatus,
    IngestOutcome,
    IngestResult,
    SearchHit,
    ServiceInfo,
    SourcesFound,
)
from .retrieval.retriever import Mode as RetrievalMode
from .retrieval.retriever import Retriever
from .sources import clean_file_name, document_id_for, local_source
from .store.base import VectorStore, new_lease_owner, utc_now

if TYPE_CHECKING:
    import numpy as np

    from .ingestion.isolation import ParserPool

log = logging.getLogger("rag_assistant.service")

#: Sources an answer may draw on (each is quoted or sent to the LLM).
MAX_SOURCES = 50
#: Chunks one search may return (evaluation ranks deep: Recall@100 over documents).
MAX_SEARCH_RESULTS = 1000
#: How long an ingestion lease lasts: the upload Lambda's 15-minute timeout.
LOCK_SECONDS = 900
#: Chunks embedded per call: bounds the tokenizer's memory on a large document.
EMBED_SLICE = 64


class _Admission:
    """At most `slots` documents indexed at once and `queue` more waiting; the rest are
    turned away at once (ServerBusyError) instead of piling up threads, memory and CPU that
    questions need."""

    def __init__(self, slots: int, queue: int) -> None:
        self._slots, self._queue = slots, queue
        self._active = self._waiting = 0
        self._changed = threading.Condition()

    @contextmanager
    def admit(self) -> Iterator[None]:
        with self._changed:
            if self._active >= self._slots and self._waiting >= self._queue:
                raise ServerBusyError(
                    f"the server is indexing {self._active} document(s) with {self._waiting} more waiting "
                    "(RAG_INGEST_WORKERS, RAG_INGEST_QUEUE); try again in a moment"
                )
            self._waiting += 1
            try:
                while self._active >= self._slots:
                    self._changed.wait()
            finally:
                self._waiting -= 1
            self._active += 1
        try:
            yield
        finally:
            with self._changed:
                self._active -= 1
                self._changed.notify()


class RagService:
    """The one door to the assistant: every adapter (CLI, HTTP, Lambda, evaluation) calls
    these methods and nothing behind them. Construction is cheap; warm_up() loads the model."""

    def __init__(
        self,
        settings: Settings,
        store: VectorStore,
        embedder: Embedder,
        answerer_factory: Callable[[], AnswerGenerator],
    ) -> None:
        self._settings = settings
        self._store = store
        self._embedder = embedder
        self._answerer_factory = answerer_factory
        self._answerer: AnswerGenerator | None = None
        self._answerer_lock = threading.Lock()
        self._model_bound = False
        self._parser: ParserPool | None = None
        self._parser_lock = threading.Lock()
        self._admission = _Admission(settings.ingest_concurrency, settings.ingest_queue)
        self._limits = DocumentLimits(
            max_pages=settings.max_pages, max_chars=settings.max_document_chars, max_chunks=settings.max_chunks
        )
        self._retriever = Retriever(
            store, embedder, mode=settings.retrieval_mode, dense_weight=settings.hybrid_dense_weight,
            dense_weight_korean=settings.hybrid_dense_weight_korean,
        )

    # --- lifecycle -----------------------------------------------------------------------

    def warm_up(self) -> None:
        """Load the embedding model (and the answerer's, start a file reader) now rather
        than on first use. On Lambda the reader starts with the first file: the query function
        reads no files, and a SnapStart snapshot cannot hold a child process."""
        if self._settings.parse_isolation == "process" and not self._settings.in_lambda:
            self._parser_pool().start()
        self._embedder.warm_up()
        self._answer_generator.warm_up()

    def reconnect(self) -> None:
        """New connections for the store and the answerer (after a SnapStart restore); the
        model and the corpus in memory stay."""
        self._store.reconnect()
        with self._answerer_lock:
            self._answerer = None

    def close(self) -> None:
        with self._parser_lock:
            parser, self._parser = self._parser, None
        if parser is not None:
            parser.close()
        self._store.close()

    def __enter__(self) -> RagService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def describe(self) -> ServiceInfo:
        """What this assistant offers, for /rag/config and the CLI."""
        answerer = self._answer_generator
        return ServiceInfo(
            generator=answerer.name,
            streams_text=answerer.streams_text,
            embedding_model=self._embedder.name,
            retrieval_mode=self._retriever.mode,
            max_file_bytes=self._settings.max_file_bytes,
            accepted_types=tuple(sorted(MEDIA_TYPES)),
            default_top_k=self._settings.top_k,
        )

    @property
    def max_file_bytes(self) -> int:
        return self._settings.max_file_bytes

    # --- ingestion -----------------------------------------------------------------------

    def ingest_bytes(self, source: str, file_name: str, data: bytes) -> IngestResult:
        """Index one file. Never raises for a bad file: the reason is in the result.

        Waits its turn while RAG_INGEST_WORKERS files are being indexed; fails at once with
        error code server_busy (nothing recorded) when RAG_INGEST_QUEUE more already wait.
        A file of a type we do not read, or over the size limit, is refused (nothing recorded)."""
        started = time.perf_counter()
        document_id = document_id_for(source)
        result = self._refusal(source, file_name, data)
        if result is None:
            try:
                with self._admission.admit():
                    result = self._ingest_leased(document_id, source, file_name, data)
            except ServerBusyError as exc:
                result = IngestResult(source, file_name, IngestOutcome.FAILED, document_id, reason=str(exc),
                                      error_code=exc.code)
        result = replace(result, seconds=time.perf_counter() - started)
        log.info(
            "ingested %s: %s",
            file_name,
            result.outcome,
            extra={"document_id": document_id, "outcome": str(result.outcome), "chunks": result.chunk_count,
                   "seconds": round(result.seconds, 3), "reason": result.reason},
        )
        return result

    def _refusal(self, source: str, file_name: str, data: bytes) -> IngestResult | None:
        """The result of a file turned away before anything reads it (a type we do not read,
        over the size limit), or None. A refusal answers the caller; it is not a document, so
        nothing is recorded (a file that is accepted and then fails to parse is)."""
        try:
            media_type_for(file_name)
            check_size(len(data), self._settings.max_file_bytes)
        except IngestError as exc:
            return IngestResult(source, file_name, IngestOutcome.FAILED, document_id_for(source),
                                reason=str(exc), error_code=exc.code)
        return None

    def _ingest_leased(self, document_id: str, source: str, file_name: str, data: bytes) -> IngestResult:
        owner = new_lease_owner()
        if not self._store.lock_document(document_id, owner, LOCK_SECONDS):
            return _busy(source, file_name, document_id)
        try:
            prepared = self._prepare(document_id, source, file_name, data)
            if isinstance(prepared, IngestResult):
                return prepared
            document, chunks = prepared
            vectors = self._embed_chunks([c.embedding_text() for c in chunks])
            self._store.replace_chunks(document, chunks, vectors, lease_owner=owner)
            return IngestResult(source, file_name, IngestOutcome.INDEXED, document_id, len(chunks))
        except Exception as exc:  # a bug must not stop the other files of a batch
            return self._failed(exc, document_id, source, file_name, data, owner)
        finally:
            self._store.unlock_document(document_id, owner)

    def _failed(
        self, exc: Exception, document_id: str, source: str, file_name: str, data: bytes, owner: str
    ) -> IngestResult:
        """The result of a file whose indexing raised `exc`, recorded as failed (a last good
        version stays searchable). A lost lease (the delete wins) or a full queue records
        nothing."""
        if isinstance(exc, LeaseLostError | ServerBusyError):
            return IngestResult(source, file_name, IngestOutcome.FAILED, document_id, reason=str(exc),
                                error_code=exc.code)
        if isinstance(exc, IngestError):
            reason, code = str(exc), exc.code
        else:
            log.error("unexpected error while indexing", extra={"document_id": document_id}, exc_info=exc)
            reason, code = f"internal error ({type(exc).__name__}); see the log for details", "internal_error"
        self._record_failure(document_id, source, file_name, data, reason, lease_owner=owner)
        return IngestResult(source, file_name, IngestOutcome.FAILED, document_id, reason=reason, error_code=code)

    def _prepare(
        self, document_id: str, source: str, file_name: str, data: bytes
    ) -> IngestResult | tuple[Document, list[Chunk]]:
        """Parse (in a reader process, within the per-document bounds) and chunk one file:
        the UNCHANGED result, or the document and its chunks."""
        media_type = media_type_for(file_name)
        self._bind_model(claim=True)
        content_hash = hashlib.sha256(data).hexdigest()
        existing = self._store.get_document(document_id)
        if (
            existing is not None
            and existing.status is DocumentStatus.READY
            and existing.content_hash == content_hash
            and existing.embedding_model == self._embedder.name
            and existing.file_name == file_name
        ):
            return IngestResult(
                source, file_name, IngestOutcome.UNCHANGED, document_id, existing.chunk_count
            )

        parsed = self._parse(file_name, data)
        size = min(self._settings.chunk_size_tokens, self._embedder.max_tokens - 2)
        overlap = min(self._settings.chunk_overlap_tokens, size // 2)
        chunks = chunk_sections(document_id, content_hash, parsed.sections, self._embedder, size, overlap)
        if not chunks:
            raise IngestError("the file contains no text to index", code="empty_document")
        if len(chunks) > self._limits.max_chunks:
            raise DocumentTooComplexError(
                f"the file makes {len(chunks):,} chunks; the limit is {self._limits.max_chunks:,} (RAG_MAX_CHUNKS)"
            )
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
            embedding_model=self._embedder.name,
            error=None,
            created_at=existing.created_at if existing else now,
            updated_at=now,
        )
        return document, chunks

    def ingest_many(
        self, files: Iterable[tuple[str, str, bytes]], *, batch_chunks: int = 512,
        progress: Callable[[IngestResult], None] | None = None,
    ) -> list[IngestResult]:
        """Index many (source, file name, bytes) at once: the chunks of several documents
        are embedded together and written in one store call per batch (one transaction
        locally). For corpora of many small documents (evaluation sets, a folder of notes),
        where one document at a time pays the model call and the commit per document.
        Like ingest_bytes, never raises for a bad file: the reason is in its result; files
        are read in the reader processes within the same bounds, and each step takes a turn
        of the ingestion workers (RAG_INGEST_WORKERS). Results come in the order of `files`;
        `progress` hears of each as it is done."""
        results: dict[int, IngestResult] = {}
        pending: list[tuple[str, str, bytes, Document, list[Chunk], str, float, int]] = []

        def finish(result: IngestResult, owner: str | None, started: float, position: int) -> None:
            if owner is not None and result.document_id:
                self._store.unlock_document(result.document_id, owner)
            result = replace(result, seconds=time.perf_counter() - started)
            results[position] = result
            if progress:
                progress(result)

        def flush() -> None:
            if not pending:
                return
            batch = list(pending)
            pending.clear()
            try:
                with self._admission.admit():
                    vectors = self._embed_chunks([c.embedding_text() for p in batch for c in p[4]])
                    writes, start = [], 0
                    for _, _, _, document, chunks, *_ in batch:
                        writes.append((document, chunks, vectors[start : start + len(chunks)]))
                        start += len(chunks)
                    lost = set(self._store.replace_documents(
                        writes, lease_owners={p[3].document_id: p[5] for p in batch}))
            except Exception as exc:
                for source, file_name, data, document, _, owner, started, position in batch:
                    finish(self._failed(exc, document.document_id, source, file_name, data, owner),
                           owner, started, position)
                return
            for source, file_name, _, document, chunks, owner, started, position in batch:
                if document.document_id in lost:  # deleted while being indexed: the delete wins
                    error = LeaseLostError()
                    result = IngestResult(source, file_name, IngestOutcome.FAILED, document.document_id,
                                          reason=str(error), error_code=error.code)
                else:
                    result = IngestResult(source, file_name, IngestOutcome.INDEXED, document.document_id,
                                          len(chunks))
                finish(result, owner, started, position)

        for position, (source, file_name, data) in enumerate(files):
            started = time.perf_counter()
            document_id = document_id_for(source)
            refused = self._refusal(source, file_name, data)
            if refused is not None:
                finish(refused, None, started, position)
                continue
            owner = new_lease_owner()
            if not self._store.lock_document(document_id, owner, LOCK_SECONDS):
                finish(_busy(source, file_name, document_id), None, started, position)
                continue
            try:
                with self._admission.admit():
                    prepared = self._prepare(document_id, source, file_name, data)
            except Exception as exc:
                finish(self._failed(exc, document_id, source, file_name, data, owner), owner, started, position)
                continue
            if isinstance(prepared, IngestResult):
                finish(prepared, owner, started, position)
                continue
            document, chunks = prepared
            pending.append((source, file_name, data, document, chunks, owner, started, position))
            if sum(len(p[4]) for p in pending) >= batch_chunks:
                flush()
        flush()
        return [results[i] for i in sorted(results)]

    def _parse(self, file_name: str, data: bytes):  # -> ParsedDocument
        if self._settings.parse_isolation == "none":
            return parse_document(file_name, data, max_bytes=self._settings.max_file_bytes, limits=self._limits)
        return self._parser_pool().parse(file_name, data)

    def _parser_pool(self) -> ParserPool:
        with self._parser_lock:
            if self._parser is None:
                from .ingestion.isolation import ParserPool

                self._parser = ParserPool(
                    workers=self._settings.ingest_concurrency,
                    memory_bytes=self._settings.parse_memory_mb * 1024 * 1024,
                    timeout_seconds=self._settings.parse_timeout_seconds,
                    limits=self._limits,
                    max_bytes=self._settings.max_file_bytes,
                )
            return self._parser

    def _embed_chunks(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        parts = [self._embedder.embed_documents(texts[i : i + EMBED_SLICE]) for i in range(0, len(texts), EMBED_SLICE)]
        return np.vstack(parts)

    def ingest_failed(self, source: str, file_name: str, error: IngestError, data: bytes = b"") -> IngestResult:
        """Record a file that failed before it could be read (too large, unreadable) the way a
        failed parse is recorded, and return its result. For the S3 path, where no caller waits
        for an answer: the listing is how the uploader learns (ingest_bytes records no refusal)."""
        document_id = document_id_for(source)
        self._record_failure(document_id, source, file_name, data, str(error))
        return IngestResult(source, file_name, IngestOutcome.FAILED, document_id, reason=str(error),
                            error_code=error.code)

    def _record_failure(
        self, document_id: str, source: str, file_name: str, data: bytes, reason: str,
        *, lease_owner: str | None = None,
    ) -> None:
        """A failed new version leaves the last good one searchable, with the error noted."""
        try:
            now = utc_now()
            existing = self._store.get_document(document_id)
            if existing is not None and existing.status is DocumentStatus.READY:
                self._store.upsert_document(
                    replace(existing, error=f"the latest version failed: {reason}", updated_at=now),
                    lease_owner=lease_owner,
                )
                return
            self._store.upsert_document(
                Document(
                    document_id=document_id,
                    file_name=file_name,
                    source=source,
                    content_hash=hashlib.sha256(data).hexdigest(),
                    status=DocumentStatus.FAILED,
                    size_bytes=len(data),
                    media_type=MEDIA_TYPES.get(suffix_of(file_name), ""),
                    embedding_model=self._embedder.name,
                    error=reason,
                    created_at=existing.created_at if existing else now,
                    updated_at=now,
                ),
                lease_owner=lease_owner,
            )
        except LeaseLostError:
            pass  # deleted meanwhile: the delete wins
        except Exception:
            log.exception("could not record the failure", extra={"document_id": document_id})

    def ingest_path(self, path: Path) -> IngestResult:
        source = local_source(path)
        try:
            check_size(path.stat().st_size, self._settings.max_file_bytes)
            data = path.read_bytes()
        except (OSError, IngestError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            code = exc.code if isinstance(exc, IngestError) else "unreadable_file"
            return IngestResult(
                source, path.name, IngestOutcome.FAILED, document_id_for(source), reason=reason, error_code=code
            )
        return self.ingest_bytes(source, clean_file_name(path.name), data)

    # --- questions -----------------------------------------------------------------------

    def search(self, query: str, top_k: int | None = None, *, mode: RetrievalMode | None = None) -> list[SearchHit]:
        """The best chunks for `query`: at most MAX_SEARCH_RESULTS (evaluation asks for many)."""
        self._bind_model(claim=False)
        limit = max(1, min(int(top_k or self._settings.top_k), MAX_SEARCH_RESULTS))
        return self._retriever.search(query, limit, mode=mode)

    def retrieval_for(self, query: str, mode: RetrievalMode | None = None) -> RetrievalMode:
        """The ranking search() runs for `query` (a fused mode is keyword alone when the
        embedding model cannot read the query's language)."""
        return self._retriever.route(query, mode)

    def ask(self, question: str, top_k: int | None = None) -> Answer:
        for event in self.ask_stream(question, top_k):
            if isinstance(event, AnswerReady):
                return event.answer
        raise AssertionError("ask_stream ended without an answer")

    def ask_stream(self, question: str, top_k: int | None = None) -> Iterator[AnswerEvent]:
        """SourcesFound first, then AnswerText pieces as the answer is generated (an LLM
        streams; the extractive answerer sends one piece), then AnswerReady with the Answer
        (the text cleaned, citations resolved)."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        hits = self.search(question, min(top_k or self._settings.top_k, MAX_SOURCES))
        timings["retrieval"] = (time.perf_counter() - started) * 1000
        yield SourcesFound(tuple(hits))
        answerer = self._answer_generator
        generated = None
        for piece in answerer.generate_stream(question, hits):
            if isinstance(piece, str):
                yield AnswerText(piece)
            else:
                generated = piece
        if generated is None:
            raise AssertionError(f"the {answerer.name} answerer ended without an answer")
        timings["generation"] = (time.perf_counter() - started) * 1000 - timings["retrieval"]
        timings["total"] = (time.perf_counter() - started) * 1000
        cited = set(generated.cited)
        citations = tuple(
            Citation(number=n, hit=hit, quote=generated.quotes.get(n, ""), cited=n in cited)
            for n, hit in enumerate(hits, start=1)
        )
        yield AnswerReady(Answer(
            question=question,
            text=generated.text,
            answered=generated.answered,
            citations=citations,
            generator=generated.generator or answerer.name,
            timings_ms=timings,
            grounded=generated.grounded,
            notice=generated.notice,
            usage=generated.usage,
        ))

    @property
    def _answer_generator(self) -> AnswerGenerator:
        if self._answerer is None:
            with self._answerer_lock:
                if self._answerer is None:
                    self._answerer = self._answerer_factory()
        return self._answerer

    # --- documents -----------------------------------------------------------------------

    def list_documents(self, limit: int = 10, cursor: str | None = None) -> tuple[list[Document], str | None]:
        """Newest first; ValueError for a cursor this service did not hand out."""
        return self._store.list_documents(limit, cursor)

    def get_document(self, document_id: str) -> Document:
        document = self._store.get_document(document_id)
        if document is None:
            raise DocumentNotFoundError(f"no document with id {document_id!r}")
        return document

    def delete_document(self, document_id: str) -> None:
        if not self._store.delete_document(document_id):
            raise DocumentNotFoundError(f"no document with id {document_id!r}")

    def document_chunks(self, document_id: str) -> list[Chunk]:
        """The chunks of one document, in order (what a citation points into)."""
        return self._store.get_chunks(document_id)

    def count_chunks(self) -> int:
        return self._store.count_chunks()

    def _bind_model(self, *, claim: bool) -> None:
        # Questions only check the model (the query Lambda cannot write); ingestion claims it.
        # The stores remember a verified model, so repeated checks cost nothing.
        if self._model_bound:
            return
        self._store.bind_model(self._embedder.name, self._embedder.dimension, claim=claim)
        self._model_bound = claim


def iter_supported_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Files named directly (whatever their type: the user asked for them) and the supported
    files found under folders, skipping hidden files and folders, in a stable order."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                relative = child.relative_to(path).parts
                if any(part.startswith(".") for part in relative):
                    continue
                if child.is_file() and is_supported(child.name):
                    yield child
        else:
            yield path


def _busy(source: str, file_name: str, document_id: str) -> IngestResult:
    return IngestResult(source, file_name, IngestOutcome.FAILED, document_id,
                        reason="another worker is indexing this document; try again later",
                        error_code=DocumentBusyError.code)
