"""SnapStart's runtime hooks, run the way Lambda's Python runtime runs them (the registry
of snapshot_restore_py, which the runtime ships), on DynamoDB Local + moto: the snapshot
holds a loaded model and corpus; a restored copy gets its own random state, connections
and credentials, and still sees documents added after the snapshot."""

from __future__ import annotations

import random

import boto3
from lambda_support import api_event, invoke_api, invoke_upload, s3_event
from lambda_support import reset_handlers as _reset_handlers


def hooks(name: str):
    from rag_assistant.aws import snapstart

    before, after = snapstart.registered_hooks()
    return ([f for f, _, _ in before if f.__name__ == name][:1] + [f for f, _, _ in after][:1])


def test_the_query_snapshot_is_warm_and_a_restore_is_fresh(lambda_env, monkeypatch) -> None:
    from rag_assistant.aws import runtime

    s3, bucket = lambda_env["s3"], lambda_env["bucket"]
    s3.put_object(Bucket=bucket, Key="rollback.md", Body=b"# Rollback\nRedeploy the previous version to roll back.")
    invoke_upload(s3_event("created", bucket, "rollback.md"))
    runtime.reset()
    _reset_handlers()
    before, after = hooks("before_query_snapshot")

    before()  # Lambda: init, then this hook, then the snapshot
    service = runtime.answering_service()
    store = service._store
    assert service._embedder._session is not None  # the model is in the snapshot
    assert store._corpus is not None and len(store._corpus) > 0  # and so is the corpus
    assert service._parser is None  # no file reader: a snapshot cannot hold a child process
    snapshot_client, snapshot_random = store._client, random.getstate()

    # Between snapshot and restore: new credentials, and a document added.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "RestoredAccessKey1")
    s3.put_object(Bucket=bucket, Key="canary.md", Body=b"# Canary\nShift one percent of traffic to the canary first.")
    invoke_upload(s3_event("created", bucket, "canary.md"))

    after()  # Lambda: restore, then this hook, then the first request
    # The answerer is rebuilt with fresh connections, with the sentence reader loaded before the snapshot.
    assert service._answer_generator._reader._session is not None
    assert store._client is not snapshot_client
    assert store._client._request_signer._credentials.access_key == "RestoredAccessKey1"
    calls: list[str] = []
    store._client.meta.events.register("before-call.dynamodb.*", lambda event_name, **_: calls.append(
        event_name.rsplit(".", 1)[-1]))
    status, body, _ = invoke_api("query", api_event("POST", "/rag/query", {"question": "How do I roll out a canary?"}))
    assert status == 200 and body["answered"] is True
    assert any(s["file_name"] == "canary.md" for s in body["sources"])
    assert service._embedder is runtime.answering_service()._embedder  # nothing was loaded again
    assert "Scan" not in calls and calls.count("Query") == 1  # only the new document was read

    # Two copies restored from the same snapshot draw different random numbers.
    random.setstate(snapshot_random)
    unseeded = random.random()
    random.setstate(snapshot_random)
    assert random.random() == unseeded  # what every copy would draw without the hook
    random.setstate(snapshot_random)
    after()
    first = random.random()
    random.setstate(snapshot_random)
    after()
    assert random.random() != first


def test_the_documents_snapshot_holds_its_clients_and_router(lambda_env) -> None:
    from rag_assistant.aws import documents_handler, runtime

    before, after = hooks("before_documents_snapshot")
    before()
    catalog = runtime.document_store()
    client = catalog._client
    assert runtime.blob_store()._client is not None
    after()
    assert catalog._client is not client
    status, body, _ = invoke_api("documents", api_event("GET", "/rag/documents"))
    assert status == 200 and body["documents"] == []
    assert documents_handler.handler is not None
    boto3.client("dynamodb").describe_table(TableName=lambda_env["table"])
