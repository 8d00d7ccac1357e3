"""The FastAPI app. Routes translate HTTP to RagService calls and back; nothing here knows
whether it runs under uvicorn on a laptop or behind API Gateway in Lambda."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import FastAPI, File, Path, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import (
    ConfigurationError,
    DocumentNotFoundError,
    EmbeddingServiceError,
    ModelMismatchError,
    RagError,
)
from ..file_types import too_large
from ..models import AnswerReady, AnswerText, IngestOutcome, SourcesFound
from ..service import RagService
from ..sources import upload_source
from .errors import describe_validation_errors, error_body
from .schemas import (
    DocumentList,
    DocumentOut,
    ErrorResponse,
    QueryRequest,
    QueryResponse,
    ServerConfig,
    UploadResult,
)

log = logging.getLogger("rag_assistant.api")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request (invalid JSON, bad cursor)"},
    422: {"model": ErrorResponse, "description": "Invalid field values"},
}
_UPLOAD_STATUS = {"unsupported_file": 415, "file_too_large": 413, "embedding_unavailable": 503,
                  "server_busy": 503, "superseded": 409}
DOCUMENT_ID = Annotated[str, Path(min_length=1, max_length=200)]


def error_response(status: int, code: str, message: str, details: list[dict] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def create_app(
    service_factory: Callable[[], RagService],
    *,
    cors_origins: list[str] | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """`service_factory` is called once, at start-up: the app owns the service it makes."""
    holder: dict[str, RagService] = {}
    lock = threading.Lock()

    def service() -> RagService:
        # Made on first use as well as at start-up: some adapters run no lifespan.
        if "service" not in holder:
            with lock:
                if "service" not in holder:
                    holder["service"] = service_factory()
        return holder["service"]

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            # Load the model off the request path: the first question should not wait for it.
            threading.Thread(target=service().warm_up, daemon=True).start()
        yield
        if "service" in holder:
            holder.pop("service").close()

    app = FastAPI(
        title="Serverless RAG Assistant",
        version=__version__,
        description="Answers questions about your documents, with their sources.",
        lifespan=lifespan,
        responses=_ERRORS,
    )

    _install_error_handlers(app)
    _add_cors(app, cors_origins or ["*"])

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/rag/config", response_model=ServerConfig, tags=["rag"])
    def config() -> ServerConfig:
        """What this server offers, so clients (the web page) can adapt."""
        info = service().describe()
        return ServerConfig(
            upload_mode="direct",
            max_upload_bytes=info.max_file_bytes,
            accepted_types=list(info.accepted_types),
            generator=info.generator,
            embedding_model=info.embedding_model,
        )

    @app.post(
        "/rag/query", response_model=QueryResponse, tags=["rag"],
        responses={200: {"content": {"text/event-stream": {}},
                         "description": "With ?stream=true: server-sent events `sources`, `token`..., `answer`."}},
    )
    def query(body: QueryRequest, stream: Annotated[bool, Query()] = False) -> Any:
        """Answer a question from the indexed documents, citing sources as [n].

        `?stream=true` sends server-sent events instead: `sources` (the retrieved sources),
        `token` (pieces of the answer as the LLM writes them), then `answer` (the final
        response, the same JSON as without streaming) — or `error`."""
        if not stream:
            return service().ask(body.question, body.top_k).to_dict()
        return StreamingResponse(_sse_answer(service(), body.question, body.top_k),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/rag/documents", response_model=DocumentList, tags=["documents"])
    def list_documents(
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        cursor: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> dict[str, Any]:
        """Indexed documents, newest first; follow `next_cursor` for the next page."""
        try:
            documents, next_cursor = service().list_documents(limit, cursor)
        except ValueError:
            raise ApiError(400, "invalid_cursor", "the cursor is not one this API returned") from None
        return {"documents": [d.to_dict() for d in documents], "next_cursor": next_cursor}

    @app.get(
        "/rag/documents/{document_id}",
        response_model=DocumentOut,
        tags=["documents"],
        responses={404: {"model": ErrorResponse}},
    )
    def get_document(document_id: DOCUMENT_ID) -> dict[str, Any]:
        return service().get_document(document_id).to_dict()

    @app.delete(
        "/rag/documents/{document_id}",
        status_code=204,
        tags=["documents"],
        responses={404: {"model": ErrorResponse}},
    )
    def delete_document(document_id: DOCUMENT_ID) -> None:
        service().delete_document(document_id)

    @app.post(
        "/rag/documents",
        response_model=UploadResult,
        status_code=201,
        tags=["documents"],
        responses={
            413: {"model": ErrorResponse, "description": "File too large"},
            415: {"model": ErrorResponse, "description": "Unsupported file type"},
        },
    )
    def upload_document(file: Annotated[UploadFile, File(description="A .pdf, .txt or .md file")]) -> dict[str, Any]:
        """Upload and index one file; returns the document once it is searchable.

        Re-uploading a file with the same name replaces its previous version.
        """
        s = service()
        limit = s.max_file_bytes
        data = file.file.read(limit + 1)
        if len(data) > limit:
            raise ApiError(413, "file_too_large", str(too_large(limit)))
        source, name = upload_source(file.filename or "")
        result = s.ingest_bytes(source, name, data)
        if result.outcome is IngestOutcome.FAILED:
            code = result.error_code or "ingest_failed"
            status = _UPLOAD_STATUS.get(code, 500 if code == "internal_error" else 422)
            raise ApiError(status, code, f"{name}: {result.reason}")
        document = s.get_document(result.document_id or "")
        return {"outcome": str(result.outcome), "document": document.to_dict()}

    web = resources.files("rag_assistant") / "web"
    app.mount("/static", StaticFiles(directory=str(web)), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html; charset=utf-8")

    return app


def _add_cors(app: FastAPI, origins: list[str]) -> None:
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Content-Type", "Authorization", "X-Api-Key"],
        max_age=600,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        summary, details = describe_validation_errors(errors)
        return error_response(422, "validation_error", summary, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "file_too_large"}
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on {request.url.path}"}
        response = error_response(
            exc.status_code, codes.get(exc.status_code, "http_error"),
            message.get(exc.status_code, str(exc.detail)),
        )
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(DocumentNotFoundError)
    async def _not_found(request: Request, exc: DocumentNotFoundError) -> JSONResponse:
        return error_response(404, exc.code, str(exc))

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        if isinstance(exc, ConfigurationError | ModelMismatchError | EmbeddingServiceError):
            log.error("configuration problem: %s", exc)
            return error_response(503, exc.code, str(exc))
        return error_response(400, exc.code, str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "unexpected server error; the server log has the details")


def create_local_app(settings=None) -> FastAPI:
    """The app `rag serve` runs: settings from the environment, the configured backends."""
    from ..bootstrap import create_service
    from ..config import load_settings

    settings = settings or load_settings()
    return create_app(lambda: create_service(settings), cors_origins=settings.cors_origins)


def _sse_answer(service: RagService, question: str, top_k: int | None):
    """Server-sent events for one question (a sync generator: Starlette iterates it in a thread)."""
    import json

    def event(name: str, data: Any) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        for item in service.ask_stream(question, top_k):
            if isinstance(item, SourcesFound):
                yield event("sources", [
                    dict(hit.to_dict(), number=n) for n, hit in enumerate(item.hits, start=1)])
            elif isinstance(item, AnswerText):
                yield event("token", item.text)
            elif isinstance(item, AnswerReady):
                yield event("answer", item.answer.to_dict())
    except RagError as exc:
        yield event("error", error_body(getattr(exc, "code", "error"), str(exc))["error"])
    except Exception:  # the stream has started: the status is already 200
        log.exception("streaming answer failed")
        yield event("error", {"code": "internal_error", "message": "the answer could not be completed"})
