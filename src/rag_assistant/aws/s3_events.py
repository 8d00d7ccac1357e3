"""S3 event notifications -> ingestion work, one record at a time.

S3 delivers each event at least once and not necessarily in order, so a record is only a
hint: we act on what the bucket holds *now*. A created object is downloaded and indexed
(an unchanged one is skipped by its content hash); a removed object's document is deleted
only if the object is really gone (a late "removed" must not undo a newer upload).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote_plus

from ..blobs.base import BlobAccessDeniedError, BlobNotFoundError, BlobStore
from ..errors import DocumentNotFoundError, FileTooLargeError
from ..file_types import is_supported
from ..models import IngestOutcome, IngestResult
from ..service import RagService
from ..sources import clean_file_name, document_id_for

log = logging.getLogger("rag_assistant.aws.s3")

#: Stop taking new records when less than this is left of the Lambda's time.
TIME_RESERVE_MS = 60_000


@dataclass(frozen=True, slots=True)
class S3Record:
    event_name: str
    bucket: str
    key: str
    size: int | None

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def created(self) -> bool:
        return self.event_name.startswith("ObjectCreated")

    @property
    def removed(self) -> bool:
        # A lifecycle expiration (when the stack's S3 lifecycle option is on) removes the
        # file just as a delete does, so its chunks must leave the index too.
        return self.event_name.startswith(("ObjectRemoved", "LifecycleExpiration"))


def parse_records(event: Any) -> list[S3Record]:
    """ValueError when the event is not an S3 notification (a misrouted or hand-made event)."""
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list):
        raise ValueError("not an S3 event: no Records list")
    records = []
    for raw in event["Records"]:
        try:
            if raw.get("eventSource") != "aws:s3":
                raise ValueError(f"unexpected eventSource {raw.get('eventSource')!r}")
            s3 = raw["s3"]
            # Keys arrive URL-encoded, spaces as '+': "보고서 1.pdf" -> "%EB%B3%B4...+1.pdf".
            key = unquote_plus(s3["object"]["key"])
            size = s3["object"].get("size")
            records.append(S3Record(raw["eventName"], s3["bucket"]["name"], key, int(size) if size is not None else None))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed S3 record: missing {exc}") from None
    return records


@dataclass
class BatchReport:
    results: list[IngestResult] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    postponed: list[str] = field(default_factory=list)
    #: Keys S3 refused to read or check: a missing IAM grant, logged as an error and not
    #: retried (the same refusal would come back, and the DLQ would only hide the cause).
    denied: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[IngestResult]:
        return [r for r in self.results if r.outcome is IngestOutcome.FAILED]

    def summary(self) -> dict[str, Any]:
        return {
            "indexed": sum(r.outcome is IngestOutcome.INDEXED for r in self.results),
            "unchanged": sum(r.outcome is IngestOutcome.UNCHANGED for r in self.results),
            "failed": [{"key": r.source, "reason": r.reason} for r in self.failures],
            "deleted": self.deleted,
            "skipped": self.skipped,
            "postponed": self.postponed,
            "denied": self.denied,
        }


class S3EventProcessor:
    def __init__(self, service: RagService, blobs_for: Callable[[str], BlobStore]) -> None:
        self._service = service
        self._blobs_for = blobs_for

    def process(self, records: list[S3Record], remaining_ms: Callable[[], int] | None = None) -> BatchReport:
        report = BatchReport()
        for record in records:
            if remaining_ms is not None and remaining_ms() < TIME_RESERVE_MS:
                # Out of time: the rest is retried by the next invocation (done ones are unchanged).
                report.postponed.append(record.key)
                continue
            if not is_supported(record.key):
                report.skipped.append(record.key)
                continue
            if record.removed:
                self._removed(record, report)
            elif record.created:
                self._created(record, report)
            else:
                report.skipped.append(record.key)
        return report

    def _created(self, record: S3Record, report: BatchReport) -> None:
        name = clean_file_name(PurePosixPath(record.key).name)  # shown to people: no bidi tricks
        blobs = self._blobs_for(record.bucket)
        try:
            data = blobs.get(record.key, max_bytes=self._service.max_file_bytes)
        except BlobNotFoundError:
            # Deleted since the event was sent: what S3 holds now is "nothing".
            self._removed(record, report)
            return
        except FileTooLargeError as exc:
            report.results.append(self._service.ingest_failed(record.source, name, exc))
            return
        except BlobAccessDeniedError as exc:
            self._denied(record, report, exc)
            return
        report.results.append(self._service.ingest_bytes(record.source, name, data))

    def _removed(self, record: S3Record, report: BatchReport) -> None:
        try:
            self._blobs_for(record.bucket).head(record.key)
            log.info("object exists again; ignoring a late removal", extra={"key": record.key})
            return
        except BlobNotFoundError:
            pass
        except BlobAccessDeniedError as exc:
            self._denied(record, report, exc)
            return
        try:
            self._service.delete_document(document_id_for(record.source))
            report.deleted.append(record.key)
        except DocumentNotFoundError:
            report.deleted.append(record.key)  # already gone: a duplicate event

    @staticmethod
    def _denied(record: S3Record, report: BatchReport, exc: BlobAccessDeniedError) -> None:
        log.error("S3 access denied: %s", exc, extra={
            "key": record.key, "bucket": record.bucket, "event_name": record.event_name,
            "document_id": document_id_for(record.source), "outcome": "denied",
            "reason": str(exc), "missing_permission": " or ".join(exc.permissions)})
        report.denied.append(record.key)
