"""The `rag` command end to end: real PDFs, the real model, a real on-disk index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import PDF_DIR, SSDF_PDF, ZERO_TRUST_PDF
from pdf_factory import docx_bytes, encrypted_pdf, scanned_pdf, truncated_pdf

from rag_assistant.cli import cli

# Each command is a `rag` process that loads the real model.
pytestmark = pytest.mark.slow


@pytest.fixture()
def rag(tmp_path: Path, model_cache: Path):
    runner = CliRunner()
    env = {"RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CACHE_DIR": str(model_cache),
           "LLM_PROVIDER": "extractive", "OPENAI_API_KEY": ""}

    def run(*args: str, expect: int = 0):
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == expect, result.output + result.stderr
        return result

    return run


def test_ingest_ask_and_reingest_the_nist_pdfs(rag) -> None:
    first = json.loads(rag("ingest", str(PDF_DIR), "--json").stdout)
    assert sorted(r["file_name"] for r in first) == sorted([ZERO_TRUST_PDF.name, SSDF_PDF.name])
    assert all(r["outcome"] == "indexed" and r["chunk_count"] > 50 for r in first)

    answer = json.loads(rag("ask", "What are the tenets of zero trust?", "--json").stdout)
    assert answer["answered"] is True and answer["generator"] == "extractive"
    cited = [s for s in answer["sources"] if s.get("quote")]
    assert cited, answer
    assert any(s["file_name"] == ZERO_TRUST_PDF.name and isinstance(s["page"], int) for s in cited)
    for source in answer["sources"]:
        assert {"document_id", "file_name", "page", "chunk_id", "score", "snippet"} <= set(source)
    assert "tenets" in answer["answer"].lower()
    assert "[" in answer["answer"]

    second = json.loads(rag("ingest", str(PDF_DIR), "--json").stdout)
    assert [r["outcome"] for r in second] == ["unchanged", "unchanged"]
    assert sorted(r["chunk_count"] for r in second) == sorted(r["chunk_count"] for r in first)

    listing = json.loads(rag("documents", "--json").stdout)
    assert {d["file_name"] for d in listing["documents"]} == {ZERO_TRUST_PDF.name, SSDF_PDF.name}
    assert all(d["status"] == "ready" and d["page_count"] for d in listing["documents"])


def test_bad_files_fail_alone_and_the_rest_is_indexed(rag, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "empty.txt").write_bytes(b"")
    (batch / "cut.pdf").write_bytes(truncated_pdf(SSDF_PDF))
    (batch / "locked.pdf").write_bytes(encrypted_pdf(SSDF_PDF))
    (batch / "scan.pdf").write_bytes(scanned_pdf())
    (batch / "report.pdf").write_bytes(docx_bytes())
    (batch / "empty.md").write_bytes(b"")
    korean = "제로 트러스트는 네트워크 위치만으로 암묵적 신뢰를 부여하지 않는 보안 모델입니다.\n" * 3
    (batch / "korean-cp949.txt").write_bytes(korean.encode("cp949"))
    shutil.copy(SSDF_PDF, batch / SSDF_PDF.name)

    result = rag("ingest", str(batch), "--json", expect=1)
    outcomes = {r["file_name"]: r for r in json.loads(result.stdout)}
    assert outcomes[SSDF_PDF.name]["outcome"] == "indexed"
    assert outcomes["korean-cp949.txt"]["outcome"] == "indexed"
    expected_reasons = {
        "empty.txt": "empty",
        "empty.md": "empty",
        "cut.pdf": "truncated",
        "locked.pdf": "password",
        "scan.pdf": "no text layer",
        "report.pdf": "not a PDF",
    }
    for name, phrase in expected_reasons.items():
        assert outcomes[name]["outcome"] == "failed", outcomes[name]
        assert phrase in outcomes[name]["reason"], outcomes[name]

    docs = {d["file_name"]: d for d in json.loads(rag("documents", "--json").stdout)["documents"]}
    assert docs[SSDF_PDF.name]["status"] == "ready"
    assert docs["korean-cp949.txt"]["status"] == "ready"
    assert docs["locked.pdf"]["status"] == "failed" and "password" in docs["locked.pdf"]["error"]

    hits = json.loads(rag("search", "암묵적 신뢰", "--json").stdout)
    assert any(h["file_name"] == "korean-cp949.txt" and "제로 트러스트" in h["snippet"] for h in hits)


def test_human_output_and_unsupported_or_missing_paths(rag, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Deploy\n## Rollback\nRun `cdk deploy` with the previous version to roll back.\n")
    other = tmp_path / "sheet.xlsx"
    other.write_bytes(b"PK\x03\x04")
    result = rag("ingest", str(notes), str(other), str(tmp_path / "missing.pdf"), expect=1)
    assert "indexed    notes.md" in result.stdout
    assert "unsupported file type '.xlsx'" in result.stdout
    assert "missing.pdf: no such file or folder" in result.stdout

    out = rag("search", "how to roll back a deployment").stdout
    assert "notes.md" in out and "§ Deploy > Rollback" in out


def test_delete_and_unknown_ids(rag, tmp_path: Path) -> None:
    note = tmp_path / "a.txt"
    note.write_text("Alpha bravo charlie delta echo foxtrot.")
    doc_id = json.loads(rag("ingest", str(note), "--json").stdout)[0]["document_id"]
    assert "deleted" in rag("delete", doc_id).stdout
    assert json.loads(rag("documents", "--json").stdout)["documents"] == []
    missing = rag("delete", doc_id, expect=1)
    assert "no document with id" in missing.stderr


def test_question_validation_and_bad_cursor(rag) -> None:
    assert "must not be empty" in rag("ask", "   ", expect=2).stderr
    assert "limit is 2000" in rag("ask", "x" * 2001, expect=2).stderr
    assert "invalid cursor" in rag("documents", "--cursor", "zzz", expect=2).stderr


def test_abstains_when_the_documents_do_not_hold_the_answer(rag, tmp_path: Path) -> None:
    note = tmp_path / "zt.txt"
    note.write_text(ZERO_TRUST_PDF.name + ": zero trust assumes no implicit trust based on network location.")
    rag("ingest", str(note))
    answer = json.loads(rag("ask", "What is the best recipe for sourdough bread?", "--json").stdout)
    assert answer["answered"] is False
    assert "do not contain" in answer["answer"]


def test_invalid_configuration_is_one_clear_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["documents"], env={"RAG_DATA_DIR": str(tmp_path), "RAG_CHUNK_SIZE": "lots"}
    )
    assert result.exit_code == 1
    assert "invalid configuration" in result.stderr and "RAG_CHUNK_SIZE" in result.stderr
    # Not blamed on an option: an unknown log level read "Invalid value for --cursor".
    result = CliRunner().invoke(cli, ["documents"], env={"RAG_DATA_DIR": str(tmp_path), "LOG_LEVEL": "verbose"})
    assert result.exit_code == 1
    assert "invalid configuration: LOG_LEVEL" in result.stderr and "--cursor" not in result.stderr
    # `rag serve` says it the same way (it printed a pydantic traceback).
    result = CliRunner().invoke(cli, ["serve"], env={"RAG_DATA_DIR": str(tmp_path), "LLM_PROVIDER": "bogus"})
    assert result.exit_code == 1
    assert "invalid configuration: LLM_PROVIDER" in result.stderr


def test_an_index_that_cannot_be_opened_is_one_clear_line(tmp_path: Path) -> None:
    # RAG_DATA_DIR naming a file, and an index.sqlite3 that is not SQLite (damaged, or some
    # other file): both printed a Python traceback.
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("a file, not a folder")
    result = CliRunner().invoke(cli, ["documents"], env={"RAG_DATA_DIR": str(not_a_folder)})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "RAG_DATA_DIR" in result.stderr and str(not_a_folder) in result.stderr

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "index.sqlite3").write_bytes(b"not an index at all " * 200)
    result = CliRunner().invoke(cli, ["documents"], env={"RAG_DATA_DIR": str(damaged)})
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a SQLite index" in result.stderr and "index.sqlite3" in result.stderr

def test_korean_question_gets_a_korean_answer_or_a_korean_no(rag, tmp_path: Path) -> None:
    policy = tmp_path / "정책.md"
    policy.write_text(
        "# 재택근무 정책\n재택근무는 주 2회까지 허용되며 회사가 지급한 노트북을 사용해야 한다.\n"
        "공용 와이파이에서는 업무 시스템에 접속할 수 없다.\n", encoding="utf-8")
    rag("ingest", str(policy))
    answer = json.loads(rag("ask", "재택근무는 일주일에 몇 번 가능한가요?", "--json").stdout)
    assert answer["answered"] is True and "주 2회" in answer["answer"]
    assert any(s["file_name"] == "정책.md" and s["quote"] for s in answer["sources"])
    missing = json.loads(rag("ask", "회사 주차장은 몇 층에 있나요?", "--json").stdout)
    assert missing["answered"] is False and missing["answer"] == "문서에서 이 질문에 대한 답을 찾을 수 없습니다."


def test_ask_streams_an_llm_answer_then_its_sources(tmp_path: Path, model_cache: Path) -> None:
    """Protocol test: `rag ask` through the official SDK to tests/openai_wire.py."""
    from openai_wire import Script, openai_wire_server

    notes = tmp_path / "runbook.md"
    notes.write_text("# Rollback\nTo roll back, redeploy the previous version.\n", encoding="utf-8")
    script = Script(reply="Redeploy the previous version [1].")
    with openai_wire_server(script) as url:
        env = {"RAG_DATA_DIR": str(tmp_path / "data"), "RAG_CACHE_DIR": str(model_cache),
               "LLM_PROVIDER": "openai-compatible", "LLM_BASE_URL": url, "LLM_MODEL": "llama3.2",
               "OPENAI_API_KEY": ""}
        runner = CliRunner()
        assert runner.invoke(cli, ["ingest", str(notes)], env=env).exit_code == 0
        result = runner.invoke(cli, ["ask", "How do I roll back?"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Redeploy the previous version [1].\n")
    assert "Sources:" in result.stdout and "[1] runbook.md" in result.stdout
    assert script.requests[0]["stream"] is True


def test_export_model_writes_a_loadable_int8_folder_and_refuses_an_unwritable_place(rag, tmp_path: Path) -> None:
    out = tmp_path / "model"
    assert "(int8) written to" in rag("export-model", str(out)).stdout
    assert json.loads((out / "model.json").read_text())["quantization"] == "int8"
    # The answerer's sentence reader beside it, where the Lambda functions look for it.
    assert json.loads((out / "reader" / "reader.json").read_text())["quantization"] == "int8"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    failed = rag("export-model", str(blocker / "model"), expect=1)
    assert "cannot write the model to" in failed.stderr and "Traceback" not in failed.output
