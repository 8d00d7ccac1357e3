from pathlib import Path

from rag_assistant.models import DocumentStatus, IngestOutcome
from rag_assistant.service import iter_supported_files
from rag_assistant.sources import document_id_for, local_source


def test_document_id_is_stable_per_source(hashing_service, tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    path.write_text("# Title\nFirst version of the text.")
    first = hashing_service.ingest_path(path)
    assert first.document_id == document_id_for(local_source(path))
    path.write_text("# Title\nSecond version, with different words entirely.")
    second = hashing_service.ingest_path(path)
    assert second.outcome is IngestOutcome.INDEXED and second.document_id == first.document_id
    chunks = hashing_service.document_chunks(first.document_id)
    assert [c.text for c in chunks] == ["Second version, with different words entirely."]
    assert chunks[0].heading == "Title"


def test_unchanged_content_is_skipped_without_reembedding(hashing_service, hashing_embedder, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Some stable text. " * 50)
    assert hashing_service.ingest_path(path).outcome is IngestOutcome.INDEXED
    calls = []
    original = hashing_embedder.embed_documents
    hashing_embedder.embed_documents = lambda texts: calls.append(texts) or original(texts)
    again = hashing_service.ingest_path(path)
    assert again.outcome is IngestOutcome.UNCHANGED and calls == []


def test_a_bad_new_version_keeps_the_good_old_one_searchable(hashing_service, tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Good content about gateways and policy engines.")
    good = hashing_service.ingest_path(path)
    path.write_bytes(b"")
    bad = hashing_service.ingest_path(path)
    assert bad.outcome is IngestOutcome.FAILED and "empty" in bad.reason
    document = hashing_service.get_document(good.document_id)
    assert document.status is DocumentStatus.READY and "latest version failed" in document.error
    assert hashing_service.search("policy engines")[0].chunk.document_id == good.document_id


def test_an_unexpected_error_fails_one_file_and_is_recorded(hashing_service, hashing_embedder, tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("alpha text here")
    b.write_text("bravo text here")
    original = hashing_embedder.embed_documents

    def explode_on_alpha(texts):
        if any("alpha" in t for t in texts):
            raise RuntimeError("boom")
        return original(texts)

    hashing_embedder.embed_documents = explode_on_alpha
    results = [hashing_service.ingest_path(p) for p in (a, b)]
    assert [r.outcome for r in results] == [IngestOutcome.FAILED, IngestOutcome.INDEXED]
    assert "internal error (RuntimeError)" in results[0].reason
    assert hashing_service.get_document(results[0].document_id).status is DocumentStatus.FAILED


def test_oversized_files_are_refused_before_reading(settings, hashing_embedder, tmp_path: Path) -> None:
    from rag_assistant.bootstrap import create_service

    big = tmp_path / "big.txt"
    big.write_text("x" * 2048)
    small_limit = settings.model_copy(update={"max_file_bytes": 1024})
    with create_service(small_limit, embedder=hashing_embedder) as service:
        result = service.ingest_path(big)
    assert result.outcome is IngestOutcome.FAILED and result.error_code == "file_too_large"
    assert result.reason == "the file is 2,048 bytes; the limit is 1,024 bytes (RAG_MAX_FILE_BYTES)"
    assert result.chunk_count == 0


def test_folder_walk_skips_hidden_and_unsupported_files(tmp_path: Path) -> None:
    for name in ["a.md", "b.TXT", "c.pdf", "d.docx", ".hidden.md", ".git/x.md", "sub/e.markdown"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_supported_files([tmp_path])]
    assert found == ["a.md", "b.TXT", "c.pdf", "sub/e.markdown"]


def test_real_model_answers_with_pages_from_the_right_pdf(nist_service) -> None:
    answer = nist_service.ask("What are the tenets of zero trust?")
    assert answer.answered
    cited = [c for c in answer.citations if c.quote]
    assert cited and cited[0].hit.file_name.startswith("NIST.SP.800-207")
    assert all(c.hit.chunk.page and 1 <= c.hit.chunk.page <= 59 for c in cited)
    ssdf = nist_service.ask("Which practices does the Secure Software Development Framework recommend?")
    assert ssdf.answered and any(c.hit.file_name == "NIST.SP.800-218.pdf" for c in ssdf.citations if c.quote)


def _blocking_embedder(hashing_embedder):
    """The hashing embedder, made to wait inside its first document batch until released."""
    import threading

    entered, release = threading.Event(), threading.Event()
    original = hashing_embedder.embed_documents

    def embed(texts):
        if not entered.is_set():
            entered.set()
            assert release.wait(30)
        return original(texts)

    hashing_embedder.embed_documents = embed
    return entered, release


def test_a_delete_during_reindexing_wins(hashing_service, hashing_embedder) -> None:
    import threading

    import pytest

    from rag_assistant.errors import DocumentNotFoundError

    first = hashing_service.ingest_bytes("upload:///runbook.md", "runbook.md", b"# Runbook\nVersion one.")
    assert first.outcome is IngestOutcome.INDEXED
    entered, release = _blocking_embedder(hashing_embedder)
    results = []
    worker = threading.Thread(target=lambda: results.append(hashing_service.ingest_bytes(
        "upload:///runbook.md", "runbook.md", b"# Runbook\nVersion two, indexing when the delete arrives.")))
    worker.start()
    assert entered.wait(30)  # version two is being embedded
    hashing_service.delete_document(first.document_id)  # the DELETE answers 204 now
    release.set()
    worker.join(30)
    (result,) = results
    assert result.outcome is IngestOutcome.FAILED and result.error_code == "superseded"
    with pytest.raises(DocumentNotFoundError):
        hashing_service.get_document(first.document_id)
    assert hashing_service.document_chunks(first.document_id) == []
    assert hashing_service.search("version two indexing") == []
    # A later upload indexes it again.
    again = hashing_service.ingest_bytes("upload:///runbook.md", "runbook.md", b"# Runbook\nVersion three.")
    assert again.outcome is IngestOutcome.INDEXED


def test_uploads_past_the_queue_are_turned_away_at_once(settings, hashing_embedder) -> None:
    import threading

    import pytest

    from rag_assistant.bootstrap import create_service
    from rag_assistant.errors import DocumentNotFoundError

    bounded = settings.model_copy(update={"ingest_workers": 1, "ingest_queue": 1})
    with create_service(bounded, embedder=hashing_embedder) as service:
        entered, release = _blocking_embedder(hashing_embedder)
        results = {}

        def ingest(name: str) -> None:
            results[name] = service.ingest_bytes(f"upload:///{name}", name, f"Text of {name}.".encode())

        running = threading.Thread(target=ingest, args=("running.txt",))
        running.start()
        assert entered.wait(30)
        waiting = threading.Thread(target=ingest, args=("waiting.txt",))
        waiting.start()
        for _ in range(3000):  # until the second one waits in the queue
            if service._admission._waiting:
                break
            threading.Event().wait(0.01)
        refused = service.ingest_bytes("upload:///refused.txt", "refused.txt", b"Text of refused.")
        assert refused.outcome is IngestOutcome.FAILED and refused.error_code == "server_busy"
        assert "RAG_INGEST_QUEUE" in refused.reason
        with pytest.raises(DocumentNotFoundError):  # turned away: nothing recorded
            service.get_document(refused.document_id)
        release.set()
        running.join(30)
        waiting.join(30)
        assert results["running.txt"].outcome is IngestOutcome.INDEXED
        assert results["waiting.txt"].outcome is IngestOutcome.INDEXED


def test_batch_ingestion_embeds_across_documents_and_commits_per_batch(hashing_service, hashing_embedder) -> None:
    hashing_service.ingest_bytes("note:unchanged", "unchanged.txt", b"Already indexed words about kiwis.")
    store = hashing_service._store
    embed_calls, writes = [], []
    original_embed, original_write = hashing_embedder.embed_documents, store.replace_documents
    hashing_embedder.embed_documents = lambda texts: embed_calls.append(len(texts)) or original_embed(texts)
    store.replace_documents = lambda batch, **kw: writes.append(len(batch)) or original_write(batch, **kw)
    files = [(f"note:{i}", f"note-{i}.txt", f"Note {i} is about topic{i} and nothing else.".encode())
             for i in range(7)]
    files.insert(3, ("note:empty", "empty.txt", b""))
    files.insert(5, ("note:unchanged", "unchanged.txt", b"Already indexed words about kiwis."))
    files.insert(6, ("note:pdf", "broken.pdf", b"%PDF-1.7 truncated"))

    seen = []
    results = hashing_service.ingest_many(files, batch_chunks=4, progress=seen.append)

    assert [r.file_name for r in results] == [f for _, f, _ in files]  # the order of the input
    outcomes = {r.file_name: r.outcome for r in results}
    assert outcomes["empty.txt"] is IngestOutcome.FAILED and outcomes["broken.pdf"] is IngestOutcome.FAILED
    assert outcomes["unchanged.txt"] is IngestOutcome.UNCHANGED
    assert [outcomes[f"note-{i}.txt"] for i in range(7)] == [IngestOutcome.INDEXED] * 7
    assert sorted(r.file_name for r in seen) == sorted(f for _, f, _ in files)
    # Seven one-chunk notes in batches of four chunks: two model calls, two store writes.
    assert embed_calls == [4, 3] and writes == [4, 3]
    hits = hashing_service.search("topic5", 1, mode="keyword")
    assert hits[0].chunk.document_id == document_id_for("note:5")
    failed = hashing_service.get_document(document_id_for("note:empty"))
    assert failed.status is DocumentStatus.FAILED and "empty" in failed.error


def test_a_batch_that_fails_to_write_fails_its_documents_only(hashing_service) -> None:
    store = hashing_service._store
    original = store.replace_documents
    calls = []

    def fail_once(batch, **kw):
        calls.append(len(batch))
        if len(calls) == 1:
            raise OSError("disk full")
        return original(batch, **kw)

    store.replace_documents = fail_once
    files = [(f"note:{i}", f"note-{i}.txt", f"Note {i} about gannets{i}.".encode()) for i in range(4)]
    results = hashing_service.ingest_many(files, batch_chunks=2)
    assert [r.outcome for r in results] == [IngestOutcome.FAILED] * 2 + [IngestOutcome.INDEXED] * 2
    assert "internal error (OSError)" in results[0].reason
    assert hashing_service.search("gannets3", 1, mode="keyword")[0].chunk.document_id == document_id_for("note:3")
    assert hashing_service.search("gannets0", 1, mode="keyword") == []
    # The locks were released: the failed documents can be indexed again.
    assert hashing_service.ingest_many(files[:2])[0].outcome is IngestOutcome.INDEXED


def test_a_delete_during_batch_ingestion_wins_and_spares_the_batch(hashing_service, hashing_embedder) -> None:
    import threading

    import pytest

    from rag_assistant.errors import DocumentNotFoundError

    doomed = hashing_service.ingest_bytes("note:doomed", "doomed.txt", b"Version one about herons.")
    entered, release = _blocking_embedder(hashing_embedder)
    files = [("note:doomed", "doomed.txt", b"Version two about herons, embedding when the delete arrives."),
             ("note:kept", "kept.txt", b"A note about puffins.")]
    results = []
    worker = threading.Thread(target=lambda: results.extend(hashing_service.ingest_many(files)))
    worker.start()
    assert entered.wait(30)  # the batch is being embedded
    hashing_service.delete_document(doomed.document_id)
    release.set()
    worker.join(30)
    assert [(r.outcome, r.error_code) for r in results] == [
        (IngestOutcome.FAILED, "superseded"), (IngestOutcome.INDEXED, None)]
    with pytest.raises(DocumentNotFoundError):
        hashing_service.get_document(doomed.document_id)
    assert hashing_service.search("herons", 5, mode="keyword") == []
    assert hashing_service.search("puffins", 1, mode="keyword")[0].chunk.document_id == document_id_for("note:kept")


def test_refused_files_are_not_recorded_as_documents(hashing_service, settings, hashing_embedder) -> None:
    # A type we do not read or a file over the limit is refused before any reading: the
    # caller hears why, and no failed document appears (one that fails to parse does).
    from rag_assistant.bootstrap import create_service

    refused = hashing_service.ingest_bytes("upload:///sheet.xlsx", "sheet.xlsx", b"PK\x03\x04")
    assert (refused.outcome, refused.error_code) == (IngestOutcome.FAILED, "unsupported_file")
    batch = hashing_service.ingest_many([("note:x", "macro.docm", b"PK"), ("note:ok", "ok.txt", b"Kiwis fly.")])
    assert [(r.outcome, r.error_code) for r in batch] == [
        (IngestOutcome.FAILED, "unsupported_file"), (IngestOutcome.INDEXED, None)]
    assert [d.file_name for d in hashing_service.list_documents()[0]] == ["ok.txt"]
    with create_service(settings.model_copy(update={"max_file_bytes": 10}), embedder=hashing_embedder) as small:
        big = small.ingest_bytes("note:big", "big.txt", b"x" * 11)
        assert (big.outcome, big.error_code) == (IngestOutcome.FAILED, "file_too_large")
        assert [d.file_name for d in small.list_documents()[0]] == ["ok.txt"]


def test_the_s3_path_refuses_the_same_way(settings, hashing_embedder, tmp_path: Path) -> None:
    # The ingestion Lambda's processor over the same service (a folder stands in for the
    # bucket): an object of a type we do not read is skipped, not recorded. An object over
    # the limit is the one refusal recorded as a failed document: no caller waits for an
    # answer on S3, so the listing is how the uploader learns.
    from lambda_support import s3_event

    from rag_assistant.aws.s3_events import S3EventProcessor, parse_records
    from rag_assistant.blobs.local import LocalBlobStore
    from rag_assistant.bootstrap import create_service

    bucket = LocalBlobStore(tmp_path / "bucket")
    bucket.put("docs/sheet.xlsx", b"PK\x03\x04")
    bucket.put("docs/big.txt", b"x" * 11)
    with create_service(settings.model_copy(update={"max_file_bytes": 10}), embedder=hashing_embedder) as small:
        report = S3EventProcessor(small, lambda _: bucket).process(
            parse_records(s3_event("created", "b", "docs/sheet.xlsx", "docs/big.txt")))
        assert report.skipped == ["docs/sheet.xlsx"]
        assert [r.error_code for r in report.failures] == ["file_too_large"]
        listed = small.list_documents()[0]
        assert [(d.file_name, d.status) for d in listed] == [("big.txt", DocumentStatus.FAILED)]
