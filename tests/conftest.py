from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag_assistant.config import Settings

pytest_plugins = ["aws_services", "lambda_support"]

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
# Public-domain NIST publications, kept in the repository (tests/fixtures/SOURCES.md).
PDF_DIR = FIXTURES / "pdfs"
ZERO_TRUST_PDF = PDF_DIR / "NIST.SP.800-207-ZeroTrustArchitecture.pdf"
SSDF_PDF = PDF_DIR / "NIST.SP.800-218.pdf"


# Test lanes (`make test-fast` leaves out all four; `make test` runs everything). A marker
# follows from what a test uses, so a new test lands in the right lane without a decorator.
_LANE_BY_FIXTURE = {"dynamodb_local": "aws", "moto_server": "aws", "aws_environment": "aws",
                    "minilm": "slow", "nist_service": "slow", "real_model_settings": "slow",
                    "sentence_reader": "slow"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        lanes = {lane for fixture, lane in _LANE_BY_FIXTURE.items() if fixture in getattr(item, "fixturenames", ())}
        if "infrastructure" in path.parts:
            lanes.add("cdk")
        if path.name == "test_web_page.py":
            lanes.add("browser")
        for lane in sorted(lanes):
            item.add_marker(getattr(pytest.mark, lane))


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One built model per test session; RAG_TEST_MODEL_CACHE (a folder) lets a developer reuse theirs.
    configured = os.environ.get("RAG_TEST_MODEL_CACHE")
    return Path(configured) if configured else tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def minilm(model_cache: Path):
    from rag_assistant.embedding.registry import create_embedder

    # fp32: the graph's fidelity to sentence-transformers is checked on it; the int8 default
    # has its own tests (test_embedding.py).
    embedder = create_embedder("sentence-transformers/all-MiniLM-L6-v2", cache_dir=model_cache, precision="fp32")
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def sentence_reader(model_cache: Path):
    from rag_assistant.answering.reader import cached_reader

    reader = cached_reader(model_cache)
    reader.warm_up()
    return reader


@pytest.fixture()
def settings(tmp_path: Path, model_cache: Path) -> Settings:
    # The fast lane's contract tests answer on words alone (no model to build); the reader has
    # its own tests (test_reader.py), and the real-model services read with it.
    return Settings(RAG_DATA_DIR=tmp_path / "data", RAG_CACHE_DIR=model_cache, LLM_PROVIDER="extractive",
                    RAG_SENTENCE_READER=False)


@pytest.fixture()
def hashing_embedder():
    from rag_assistant.embedding.hashing import HashingEmbedder

    return HashingEmbedder()


@pytest.fixture()
def hashing_service(settings: Settings, hashing_embedder):
    """Service on the deterministic hashing embedder: fast lifecycle tests, no model."""
    from rag_assistant.bootstrap import create_service

    with create_service(settings, embedder=hashing_embedder) as service:
        yield service


@pytest.fixture(scope="session")
def nist_service(tmp_path_factory: pytest.TempPathFactory, minilm, model_cache: Path):
    """Both NIST PDFs indexed once with the real model, shared by read-only tests."""
    from rag_assistant.bootstrap import create_service

    data = tmp_path_factory.mktemp("nist-index")
    service = create_service(
        Settings(RAG_DATA_DIR=data, RAG_CACHE_DIR=model_cache, LLM_PROVIDER="extractive"), embedder=minilm
    )
    results = [service.ingest_path(p) for p in (ZERO_TRUST_PDF, SSDF_PDF)]
    assert all(r.outcome == "indexed" for r in results), results
    yield service
    service.close()
