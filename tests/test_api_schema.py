"""Property-based API tests: schemathesis generates requests from the app's own OpenAPI
document (valid and invalid ones) and fails on any 5xx or undocumented response shape."""

from __future__ import annotations

import pytest
import schemathesis
from conftest import ZERO_TRUST_PDF
from hypothesis import HealthCheck, settings

from rag_assistant.api.app import create_app
from rag_assistant.api.local_security import LocalSecurity
from rag_assistant.bootstrap import create_service
from rag_assistant.config import Settings


@pytest.fixture(scope="module")
def api_app(tmp_path_factory, minilm):
    config = Settings(RAG_DATA_DIR=tmp_path_factory.mktemp("schemathesis"), LLM_PROVIDER="extractive")
    service = create_service(config, embedder=minilm)
    service.ingest_path(ZERO_TRUST_PDF)  # something to find, list, get and delete
    # schemathesis' ASGI client sends Host: testserver, a name the server must be told about.
    return create_app(lambda: service, warm_up=False, security=LocalSecurity(allowed_hosts=("testserver",)))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(scope="module")
def api_schema(api_app):
    return schemathesis.openapi.from_asgi("/openapi.json", api_app)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case) -> None:
    # Positive and negative cases (schemathesis' default modes): never a 5xx, and every
    # error in the documented {"error": {"code", "message"}} shape.
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
