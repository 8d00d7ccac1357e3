"""The reader processes that parse untrusted files (ingestion/isolation.py), observed from
the outside: their limits, their environment, what a crash or a hang costs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SSDF_PDF, ZERO_TRUST_PDF
from hostile_files import graphics_state_bomb, shared_stream_bomb

from rag_assistant.errors import DocumentTooComplexError, IngestError, ParseTimeoutError
from rag_assistant.ingestion.isolation import ParserPool
from rag_assistant.ingestion.parsing import DocumentLimits, parse_document
from rag_assistant.ingestion.worker import RECYCLE_RSS_BYTES

MB = 1024 * 1024


@pytest.fixture()
def pool():
    pool = ParserPool(workers=1, memory_bytes=512 * MB, timeout_seconds=5, limits=DocumentLimits(),
                      max_bytes=50 * MB)
    yield pool
    pool.close()


def test_a_reader_returns_what_parsing_in_process_returns(pool: ParserPool) -> None:
    for path in (ZERO_TRUST_PDF, SSDF_PDF):
        assert pool.parse(path.name, path.read_bytes()) == parse_document(path.name, path.read_bytes())
    korean = "# 제로 트러스트\n\n모든 접근은 매번 검증된다.\n".encode("cp949")
    parsed = pool.parse("노트.md", korean)
    assert parsed.encoding == "cp949" and parsed.sections[0].heading == "제로 트러스트"


def test_a_reader_runs_bounded_niced_and_without_the_servers_secrets(pool: ParserPool, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-in-a-reader")
    pool.start()
    (pid,) = pool.reader_pids()
    pool.parse("warm.txt", b"the reader has set its limits once it answers")
    address_space = next(line for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                         if line.startswith("Max address space"))
    assert address_space.split()[3:5] == [str(512 * MB), str(512 * MB)]  # soft and hard limits
    environment = Path(f"/proc/{pid}/environ").read_bytes()
    assert b"sk-never-in-a-reader" not in environment and b"OPENAI_API_KEY" not in environment
    assert os.getpriority(os.PRIO_PROCESS, pid) > os.getpriority(os.PRIO_PROCESS, 0)


def test_a_reader_that_runs_out_of_memory_costs_one_document(pool: ParserPool) -> None:
    pool.parse("first.txt", b"a first document starts the reader")
    (before,) = pool.reader_pids()
    with pytest.raises(DocumentTooComplexError, match=r"512 MB memory limit \(RAG_PARSE_MEMORY_MB\)"):
        pool.parse("bomb.pdf", graphics_state_bomb(40))
    assert not Path(f"/proc/{before}").exists() or "zombie" in Path(f"/proc/{before}/status").read_text()
    # The next document gets a fresh reader and is read as usual.
    assert pool.parse(SSDF_PDF.name, SSDF_PDF.read_bytes()).page_count == 36
    assert pool.reader_pids() != [before]


def test_a_reader_that_takes_too_long_is_stopped(pool: ParserPool) -> None:
    with pytest.raises(ParseTimeoutError, match=r"longer than 5 s \(RAG_PARSE_TIMEOUT\)"):
        pool.parse("slow.pdf", shared_stream_bomb(60, 80))
    assert pool.reader_pids() == []  # killed, not kept
    assert pool.parse("after.txt", b"the next file is read by a new reader").sections


def test_memory_a_document_used_goes_back_to_the_os(pool: ParserPool) -> None:
    pool.parse("small.txt", b"a small file leaves the reader small")
    (reader,) = pool.reader_pids()
    pool.parse("small2.txt", b"and it is reused")
    assert pool.reader_pids() == [reader]
    # 2.9 M characters: decoding, cleaning and the reply take the reader past 100 MB; after
    # it, the reader holds no more than the recycling threshold, or has been replaced.
    big = ("Zero trust assumes no implicit trust 제로 트러스트. " * 64_000).encode()
    assert len(pool.parse("big.txt", big).sections[0].text) > 2_800_000
    for pid in pool.reader_pids():
        assert rss_bytes(pid) <= RECYCLE_RSS_BYTES


def test_a_reader_over_the_recycling_threshold_is_replaced() -> None:
    pool = ParserPool(workers=1, memory_bytes=512 * MB, timeout_seconds=5, limits=DocumentLimits(),
                      recycle_bytes=1)
    try:
        for n in range(3):
            assert pool.parse(f"doc{n}.txt", b"every reader ends above one byte").sections
            assert pool.reader_pids() == []  # it exited after its reply
    finally:
        pool.close()


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_document_bounds_are_checked_where_the_file_is_read(pool: ParserPool) -> None:
    tight = ParserPool(workers=1, memory_bytes=512 * MB, timeout_seconds=5,
                       limits=DocumentLimits(max_pages=10, max_chars=5_000, max_chunks=3))
    try:
        with pytest.raises(DocumentTooComplexError, match=r"has 36 pages; the limit is 10 \(RAG_MAX_PAGES\)"):
            tight.parse(SSDF_PDF.name, SSDF_PDF.read_bytes())
        with pytest.raises(DocumentTooComplexError, match=r"the limit is 5,000 \(RAG_MAX_DOCUMENT_CHARS\)"):
            tight.parse("long.txt", b"word " * 2_000)
        with pytest.raises(DocumentTooComplexError, match=r"\(RAG_MAX_CHUNKS\)"):
            tight.parse("sections.md", b"# a\nx\n# b\ny\n# c\nz\n# d\nw\n")
        with pytest.raises(IngestError) as empty:
            tight.parse("empty.txt", b"   \n")
        assert empty.value.code == "empty_document"
    finally:
        tight.close()
