"""rag-documents-handler: the document routes and the web page behind API Gateway.

Imports no embedding stack (256 MB, 30 s): it reads the table and signs S3 requests.
It does not write the table either: DELETE removes the S3 object, and the upload function,
told by S3, removes the chunks — one writer per table, least privilege per function.

The page (index.html, app.js, style.css, 20 KB) ships in this function's code and is served
from memory: no bucket deployment, no second origin, and the page's Content-Security-Policy
names exactly the S3 endpoint its presigned uploads go to.
"""

from __future__ import annotations

import logging
import uuid
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlparse

from aws_lambda_powertools.event_handler import Response

from ..api import contract
from ..api.contract import ApiError, CorsPolicy, PageSecurity
from ..api.schemas import UploadUrlRequest
from ..errors import ConfigurationError
from ..file_types import MEDIA_TYPES, suffix_of, too_large
from ..sources import clean_file_name, document_id_for
from . import runtime, snapstart
from .api import LambdaApi, create_resolver, json_body, lambda_entry

UPLOAD_PREFIX = "uploads/"
PAGE_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
              "style.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}

log = logging.getLogger("rag_assistant.aws.documents")


@cache
def page_file(name: str) -> str:
    return (resources.files("rag_assistant") / "web" / name).read_text(encoding="utf-8")


def _page_response(name: str) -> Response:
    # no-cache: revalidated on every load, so a deployment shows its page at once.
    return Response(status_code=200, content_type=PAGE_FILES[name], body=page_file(name),
                    headers={"Cache-Control": "no-cache"})


def _build() -> LambdaApi:
    settings = runtime.settings()
    app = create_resolver()

    @app.get("/")
    def index() -> Response:
        # The page loads its parts relative to itself: /prod must become /prod/ first.
        stage_path = (app.current_event.request_context.path or "/")
        if not stage_path.endswith("/"):
            return Response(status_code=301, headers={"Location": stage_path + "/"}, body="")
        return _page_response("index.html")

    @app.get("/static/<name>")
    def static(name: str) -> Response:
        if name not in PAGE_FILES or name == "index.html":
            raise contract.no_route(app.current_event.path)
        return _page_response(name)

    @app.get("/rag/documents")
    def list_documents() -> dict[str, Any]:
        limit, cursor = contract.list_params(app.current_event.query_string_parameters)
        try:
            documents, next_cursor = runtime.document_store().list_documents(limit, cursor)
        except ValueError:
            raise contract.invalid_cursor() from None
        return contract.document_page(documents, next_cursor)

    @app.get("/rag/documents/<document_id>")
    def get_document(document_id: str) -> dict[str, Any]:
        return _document(document_id).to_dict()

    @app.delete("/rag/documents/<document_id>")
    def delete_document(document_id: str) -> tuple[dict[str, Any], int]:
        document = _document(document_id)
        source = urlparse(document.source)
        if source.scheme != "s3" or source.netloc != settings.bucket_name:
            raise ApiError("not_deletable", "the document did not come from this deployment's bucket")
        runtime.blob_store().delete(source.path.lstrip("/"))
        log.info("document deletion requested", extra={
            "document_id": document_id, "key": source.path.lstrip("/"), "outcome": "deleting"})
        # The ObjectRemoved notification makes the upload function remove the chunks.
        return {"document_id": document_id, "status": "deleting"}, 202

    @app.post("/rag/documents/upload-url")
    def upload_url() -> tuple[dict[str, Any], int]:
        request = json_body(app, UploadUrlRequest)
        name = clean_file_name(request.file_name)
        suffix = suffix_of(name)
        if suffix not in MEDIA_TYPES:
            raise ApiError("unsupported_file", f"unsupported file type {suffix or '(none)'!r}; "
                           f"supported: {', '.join(sorted(MEDIA_TYPES))}")
        if request.size_bytes > settings.max_file_bytes:
            raise ApiError("file_too_large", str(too_large(settings.max_file_bytes, request.size_bytes)))
        # The server picks the key, a new one each time, and signs If-None-Match: * — the URL
        # can only create an object under uploads/, never replace one (not even its own).
        key = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}/{name}"
        target = runtime.blob_store().presign_put(key, MEDIA_TYPES[suffix], request.size_bytes,
                                                  settings.upload_url_expires_seconds)
        return {"url": target.url, "method": "PUT", "headers": target.headers, "key": key,
                "document_id": document_id_for(f"s3://{settings.bucket_name}/{key}"),
                "expires_in": target.expires_in}, 201

    def _document(document_id: str):
        document = runtime.document_store().get_document(contract.check_document_id(document_id))
        if document is None:
            raise contract.document_not_found(document_id)
        return document

    origin = upload_origin()
    return LambdaApi(app, CorsPolicy.from_list(settings.cors_origins),
                     PageSecurity(connect_to=(origin,) if origin else ()))


def upload_origin() -> str | None:
    """The origin the browser PUTs presigned uploads to (signing is local: no AWS call);
    None without a bucket (the listing still works, the upload route says why it cannot)."""
    try:
        probe = runtime.blob_store().presign_put(f"{UPLOAD_PREFIX}probe", "text/plain", 1, 60)
    except ConfigurationError:
        return None
    return contract.origin_of(probe.url)


handler = lambda_entry(_build, "DocumentRequests")
snapstart.register(snapstart.before_documents_snapshot)
