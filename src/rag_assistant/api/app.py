"""The FastAPI app `rag serve` runs: a thin adapter from HTTP to RagService over the shared
contract (api/contract.py), behind the local server's guard (api/local_security.py).

Bodies are read here, never by the framework: JSON is capped before it is parsed and uploads
are parsed as they stream, so an oversized body costs its first few kilobytes, not its size.
Responses are the contract's dicts as they are (JSONResponse): the response models document
them in the OpenAPI without reshaping them, so both homes send the same JSON.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Mapping
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import RagError
from ..file_types import too_large
from ..models import AnswerReady, AnswerText, IngestOutcome, SourcesFound
from ..service import RagService
from ..sources import upload_source
from . import contract
from .contract import MAX_JSON_BODY_BYTES, ApiError
from .errors import describe_validation_errors, error_body
from .head import HeadAsGet
from .local_security import LocalGuard, LocalSecurity
from .schemas import (
    DocumentList,
    DocumentOut,
    ErrorResponse,
    QueryRequest,
    QueryResponse,
    ServerConfig,
    UploadResult,
)
from .uploads import FILE_FIELD, read_one_file

log = logging.getLogger("rag_assistant.api")

#: A day: the icon never changes between versions that matter.
FAVICON_MAX_AGE = 86_400

#: What `rag serve` asks of uvicorn against slow and idle clients (h11: the one HTTP parser
#: whose limits we set). uvicorn has no timeout for reading a request's headers or body, so a
#: client that sends them slowly holds its connection (README, Security model).
SERVER_LIMITS: dict[str, Any] = {
    "http": "h11",
    "timeout_keep_alive": 5,  # seconds an idle connection stays open after a response
    "h11_max_incomplete_event_size": 16 * 1024,  # request line and headers; more is a 400
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Malformed request (invalid JSON, bad cursor)"},
    401: {"model": ErrorResponse, "description": "The route needs the API token (write routes by default)"},
    403: {"model": ErrorResponse, "description": "A browser request from a site CORS_ALLOWED_ORIGINS does not list"},
    413: {"model": ErrorResponse, "description": "Body or file larger than the limit"},
    422: {"model": ErrorResponse, "description": "Invalid field values"},
}
_JSON_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": QueryRequest.model_json_schema()}}}}
_LIST_PARAMETERS = {"parameters": [
    {"name": "limit", "in": "query", "required": False,
     "schema": {"type": "integer", "minimum": 1, "maximum": contract.LIST_LIMIT_MAX, "default": contract.LIST_LIMIT_DEFAULT}},
    {"name": "cursor", "in": "query", "required": False,
     "schema": {"type": "string", "maxLength": contract.MAX_CURSOR_CHARS}},
]}
_UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": [FILE_FIELD],
    "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "A .pdf, .txt or .md file"}}}}}}}


def error_response(exc: ApiError, extra_headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={**exc.headers, **(extra_headers or {})})


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused (413) by its Content-Length or as soon as it passes `limit`."""
    contract.check_length(request.headers.get("content-length"), limit)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise contract.body_too_large(limit)
    return bytes(body)


def create_app(
    service_factory: Callable[[], RagService],
    *,
    security: LocalSecurity | None = None,
    warm_up: bool = True,
) -> FastAPI:
    """`service_factory` is called once, at start-up: the app owns the service it makes.
    `security`: same origin, local host names and no token unless given (LocalSecurity)."""
    security = security or LocalSecurity()
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
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app)
    app.add_middleware(LocalGuard, security=security)
    app.add_middleware(HeadAsGet)  # added last: outermost, so the guard sees HEAD as the GET it is

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/rag/config", response_model=ServerConfig, tags=["rag"])
    def config() -> JSONResponse:
        """What this server offers, so clients (the web page) can adapt."""
        return JSONResponse(contract.config_payload(service().describe(), upload_mode="direct",
                                                    auth_scope=security.effective_scope))

    @app.post(
        "/rag/query", response_model=QueryResponse, tags=["rag"], openapi_extra=_JSON_BODY,
        responses={200: {"content": {"text/event-stream": {}},
                         "description": "With ?stream=true: server-sent events `sources`, `token`..., `answer`."}},
    )
    async def query(request: Request, stream: Annotated[bool, Query()] = False) -> Any:
        """Answer a question from the indexed documents, citing sources as [n].

        `?stream=true` sends server-sent events instead: `sources` (the retrieved sources),
        `token` (pieces of the answer as the LLM writes them), then `answer` (the final
        response, the same JSON as without streaming) — or `error`."""
        body = contract.parse_body(QueryRequest, await read_body(request, MAX_JSON_BODY_BYTES))
        if not stream:
            answer = await run_in_threadpool(service().ask, body.question, body.top_k)
            return JSONResponse(answer.to_dict())
        return StreamingResponse(_sse_answer(service(), body.question, body.top_k),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/rag/documents", response_model=DocumentList, tags=["documents"], openapi_extra=_LIST_PARAMETERS)
    def list_documents(request: Request) -> JSONResponse:
        """Indexed documents, newest first; follow `next_cursor` for the next page."""
        limit, cursor = contract.list_params(request.query_params)
        try:
            documents, next_cursor = service().list_documents(limit, cursor)
        except ValueError:
            raise contract.invalid_cursor() from None
        return JSONResponse(contract.document_page(documents, next_cursor))

    @app.get("/rag/documents/{document_id}", response_model=DocumentOut, tags=["documents"],
             responses={404: {"model": ErrorResponse}})
    def get_document(document_id: str) -> JSONResponse:
        return JSONResponse(service().get_document(contract.check_document_id(document_id)).to_dict())

    @app.delete("/rag/documents/{document_id}", status_code=204, tags=["documents"],
                responses={404: {"model": ErrorResponse}})
    def delete_document(document_id: str) -> None:
        service().delete_document(contract.check_document_id(document_id))

    @app.post(
        "/rag/documents", response_model=UploadResult, status_code=201, tags=["documents"],
        openapi_extra=_UPLOAD_BODY,
        responses={
            400: {"model": ErrorResponse, "description": "Malformed multipart body, or more than one file"},
            409: {"model": ErrorResponse, "description": "Another upload of this document is being indexed "
                  "(document_busy: retry after Retry-After seconds), or the document was deleted while this "
                  "version was being indexed (superseded: the delete won)"},
            413: {"model": ErrorResponse, "description": "File too large (refused while it streams in)"},
            415: {"model": ErrorResponse, "description": "Unsupported file type"},
            422: {"model": ErrorResponse, "description": "A file that cannot be indexed: empty, corrupt, "
                  "encrypted, or past a per-document bound (too_complex, timeout)"},
            503: {"model": ErrorResponse, "description": "Every ingestion worker is busy and the queue is full "
                  "(server_busy: nothing recorded; retry after Retry-After seconds)"},
        },
    )
    async def upload_document(request: Request) -> JSONResponse:
        """Upload and index one file (one `file` part); returns the document once it is searchable.

        Re-uploading a file with the same name replaces its previous version.
        """
        s = service()
        limit = s.max_file_bytes
        contract.check_length(request.headers.get("content-length"), limit + contract.MULTIPART_OVERHEAD_BYTES,
                              "file_too_large", str(too_large(limit)))
        sent_name, data = await read_one_file(request.stream(), request.headers.get("content-type"), limit)
        source, name = upload_source(sent_name, data)
        # One service call: how ingestion is scheduled is the service's business.
        result = await run_in_threadpool(s.ingest_bytes, source, name, data)
        if result.outcome is IngestOutcome.FAILED:
            raise contract.ingest_failure(result.error_code, name, result.reason)
        document = await run_in_threadpool(s.get_document, result.document_id or "")
        return JSONResponse({"outcome": str(result.outcome), "document": document.to_dict()}, status_code=201)

    web = resources.files("rag_assistant") / "web"
    app.mount("/static", StaticFiles(directory=str(web)), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # The page links its icon; this answers what browsers and tools ask for unprompted.
        return FileResponse(str(web / "favicon.svg"), media_type="image/svg+xml",
                            headers={"Cache-Control": f"public, max-age={FAVICON_MAX_AGE}"})

    # Swagger UI's script and styles come from a package (fastapi-offline's copy of
    # swagger-ui-dist 5), never from a CDN: the docs work offline, and no third-party script
    # runs on the origin where the page keeps its API key.
    app.mount("/docs/static", StaticFiles(directory=str(_swagger_static())), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return _swagger_ui(app)

    return app


def _swagger_static() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


def _swagger_ui(app: FastAPI) -> HTMLResponse:
    """Swagger UI from this server's own files, under a policy that allows exactly its one
    inline script."""
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url or "/openapi.json", title=f"{app.title} - docs",
        swagger_js_url="/docs/static/swagger-ui-bundle.js", swagger_css_url="/docs/static/swagger-ui.css",
        swagger_favicon_url="/docs/static/favicon.png")
    html = bytes(page.body).decode()
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.S))
    policy = (f"default-src 'none'; script-src 'self' {hashes}; style-src 'self'; img-src 'self' data:; "
              "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'")
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        summary, details = describe_validation_errors(exc.errors())
        return error_response(ApiError("validation_error", summary, details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        path = request.url.path
        if exc.status_code == 404:
            error = contract.no_route(path)
        elif exc.status_code == 405:
            error = contract.method_not_allowed(request.method, path)
        else:
            error = ApiError("http_error", str(exc.detail), status=exc.status_code)
        return error_response(error, exc.headers)

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        error = contract.from_rag_error(exc)
        if error.status >= 500:
            log.error("configuration problem: %s", exc)
        return error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError("internal_error", contract.INTERNAL_ERROR))


def create_local_app(settings=None, *, host: str = "127.0.0.1") -> tuple[FastAPI, LocalSecurity, bool]:
    """The app `rag serve` runs on `host`: settings from the environment, the configured
    backends, the guard for that address. Returns (app, its security, token made up here)."""
    from ..bootstrap import create_service
    from ..config import load_settings

    settings = settings or load_settings()
    security, made_up = LocalSecurity.for_server(settings, host)
    return create_app(lambda: create_service(settings), security=security), security, made_up


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
