"""rag-documents-handler: the document routes behind API Gateway.

Imports no embedding stack (256 MB, 30 s): it reads the table and signs S3 requests.
It does not write the table either: DELETE removes the S3 object, and the upload function,
told by S3, removes the chunks — one writer per table, least privilege per function.
"""

from __future__ import annotations

import logging
import uuid
from typing import Annotated, Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from ..file_types import MEDIA_TYPES, too_large
from ..sources import clean_file_name, document_id_for
from . import runtime
from .api import ApiError, create_resolver, json_body, lambda_entry

UPLOAD_PREFIX = "uploads/"

log = logging.getLogger("rag_assistant.aws.documents")


class UploadUrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    file_name: Annotated[str, Field(min_length=1, max_length=1000)]
    size_bytes: Annotated[int, Field(ge=1)]
    content_type: Annotated[str, Field(max_length=200)] = "application/octet-stream"


def _limit(raw: str | None) -> int:
    if raw is None:
        return 10
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise ApiError(422, "validation_error", "limit: must be an integer from 1 to 100",
                       [{"field": "limit", "problem": "must be an integer from 1 to 100"}])
    return value


def _build() -> Any:
    settings = runtime.settings()
    app = create_resolver(settings.cors_origins)

    @app.get("/rag/config")
    def config() -> dict[str, Any]:
        return {"upload_mode": "presigned", "max_upload_bytes": settings.max_file_bytes,
                "accepted_types": sorted(MEDIA_TYPES), "generator": settings.llm_provider,
                "embedding_model": settings.embedding_model_name}

    @app.get("/rag/documents")
    def list_documents() -> dict[str, Any]:
        params = app.current_event.query_string_parameters or {}
        cursor = params.get("cursor")
        try:
            documents, next_cursor = runtime.document_store().list_documents(_limit(params.get("limit")), cursor)
        except ValueError:
            raise ApiError(400, "invalid_cursor", "the cursor is not one this API returned") from None
        return {"documents": [d.to_dict() for d in documents], "next_cursor": next_cursor}

    @app.get("/rag/documents/<document_id>")
    def get_document(document_id: str) -> dict[str, Any]:
        return _document(document_id).to_dict()

    @app.delete("/rag/documents/<document_id>")
    def delete_document(document_id: str) -> tuple[dict[str, Any], int]:
        document = _document(document_id)
        source = urlparse(document.source)
        if source.scheme != "s3" or source.netloc != settings.bucket_name:
            raise ApiError(409, "not_deletable", "the document did not come from this deployment's bucket")
        runtime.blob_store().delete(source.path.lstrip("/"))
        log.info("document deletion requested", extra={
            "document_id": document_id, "key": source.path.lstrip("/"), "outcome": "deleting"})
        # The ObjectRemoved notification makes the upload function remove the chunks.
        return {"document_id": document_id, "status": "deleting"}, 202

    @app.post("/rag/documents/upload-url")
    def upload_url() -> tuple[dict[str, Any], int]:
        request = json_body(app, UploadUrlRequest)
        name = clean_file_name(request.file_name)
        suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
        if suffix not in MEDIA_TYPES:
            raise ApiError(415, "unsupported_file", f"unsupported file type {suffix or '(none)'!r}; "
                           f"supported: {', '.join(sorted(MEDIA_TYPES))}")
        if request.size_bytes > settings.max_file_bytes:
            raise ApiError(413, "file_too_large", str(too_large(settings.max_file_bytes, request.size_bytes)))
        # The server picks the key: a client can neither escape the prefix nor overwrite
        # other objects. The same name replaces the same document, as with local uploads.
        key = f"{UPLOAD_PREFIX}{name}"
        content_type = MEDIA_TYPES[suffix]
        target = runtime.blob_store().presign_put(key, content_type, request.size_bytes,
                                                  settings.upload_url_expires_seconds)
        return {"url": target.url, "method": "PUT", "headers": target.headers, "key": key,
                "document_id": document_id_for(f"s3://{settings.bucket_name}/{key}"),
                "expires_in": target.expires_in, "request_id": uuid.uuid4().hex}, 201

    def _document(document_id: str):
        if not document_id or len(document_id) > 200:
            raise ApiError(422, "validation_error", "document_id: invalid")
        document = runtime.document_store().get_document(document_id)
        if document is None:
            raise ApiError(404, "document_not_found", f"no document with id {document_id!r}")
        return document

    return app


handler = lambda_entry(_build, "DocumentRequests")
