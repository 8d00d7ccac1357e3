"""Lambda SnapStart for the functions that answer people (query, documents).

With SnapStart on (the stack's `snapStart` setting), Lambda runs the function's init once
per published version, calls the before-snapshot hooks, and snapshots the memory; a cold
start then restores that snapshot instead of importing and loading again. So the hooks
do the slow work in advance — the ONNX model loaded and run once, the corpus read, the
router and the AWS clients built — and the after-restore hook undoes what must not be
shared between restored copies of one snapshot:

- random state: every copy would draw the same "random" numbers (backoff jitter; uuid4
  reads os.urandom and is safe), so the generators are reseeded;
- connections: sockets open in the snapshot are dead after a restore;
- credentials: the AWS clients are made anew from a fresh default session, which resolves
  the restored environment's credentials instead of the ones cached at snapshot time.

The hooks register through `snapshot_restore_py`, which Lambda's Python runtimes ship;
elsewhere (tests, local runs) registering is a no-op unless that library is installed, and
tests run the registered hooks exactly as the runtime does.
"""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger("rag_assistant.aws.snapstart")

#: A question that exercises the whole query path once (embedding, search, answer).
WARM_QUESTION = "What does this document say?"


def register(before: Callable[[], None]) -> bool:
    """Register `before` and the shared after-restore hook; False without the library."""
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:
        return False
    register_before_snapshot(_logged(before))
    register_after_restore(_logged(after_restore))
    return True


def _logged(hook: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        import time

        started = time.perf_counter()
        hook()
        log.info("snapstart hook done", extra={"hook": hook.__name__,
                                                 "ms": round((time.perf_counter() - started) * 1000, 1)})

    run.__name__ = hook.__name__
    return run


def before_query_snapshot() -> None:
    """The query function: model loaded and run, corpus in memory, router built."""
    from . import query_handler, runtime

    service = runtime.answering_service()
    service.warm_up()
    service.ask(WARM_QUESTION)  # runs the model, the search and the answerer once
    query_handler.handler.prepare()


def before_documents_snapshot() -> None:
    """The documents function: router, table client (its service model parsed by one
    read) and S3 client built."""
    from . import documents_handler, runtime

    runtime.document_store().list_documents(limit=1)
    if runtime.settings().bucket_name:
        runtime.blob_store()
    documents_handler.handler.prepare()


def after_restore() -> None:
    """Fresh random state, connections and credentials in a restored copy."""
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    import boto3

    before = boto3.DEFAULT_SESSION
    boto3.setup_default_session()  # forget the credentials resolved before the snapshot
    if before is not None:
        # The service models parsed before the snapshot are static data: keep them, so the
        # new clients cost milliseconds instead of re-reading botocore's JSON.
        boto3.DEFAULT_SESSION._session.register_component(
            "data_loader", before._session.get_component("data_loader"))
    from . import runtime

    runtime.reconnect()


def registered_hooks() -> tuple[list[Any], list[Any]]:
    """(before-snapshot, after-restore) hooks as the runtime will call them, for tests."""
    from snapshot_restore_py import get_after_restore, get_before_snapshot

    return list(reversed(get_before_snapshot())), list(get_after_restore())
