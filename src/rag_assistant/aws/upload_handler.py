"""rag-upload-handler: S3 ObjectCreated / ObjectRemoved notifications."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from . import runtime
from .observability import logger, metrics
from .s3_events import S3EventProcessor, parse_records


class IngestionFailed(RuntimeError):
    """Raised after the whole batch ran, so Lambda retries it / sends it to the DLQ."""


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    metrics.add_metric("UploadInvocations", MetricUnit.Count, 1)
    records = parse_records(event)
    from ..blobs.s3 import S3BlobStore

    bucket_stores: dict[str, S3BlobStore] = {}

    def blobs_for(bucket: str) -> S3BlobStore:
        if bucket not in bucket_stores:
            bucket_stores[bucket] = S3BlobStore(bucket)
        return bucket_stores[bucket]

    processor = S3EventProcessor(runtime.rag_service(), blobs_for)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = processor.process(records, remaining)
    summary = report.summary()
    metrics.add_metric("DocumentsIngested", MetricUnit.Count, summary["indexed"])
    metrics.add_metric("ChunksIndexed", MetricUnit.Count, sum(r.chunk_count for r in report.results if r.outcome == "indexed"))
    metrics.add_metric("IngestFailures", MetricUnit.Count, len(report.failures))
    # Not retried (see s3_events.BatchReport.denied): this metric's alarm tells someone.
    metrics.add_metric("AccessDenied", MetricUnit.Count, len(report.denied))
    logger.info("S3 batch processed", extra=summary)
    if report.failures or report.postponed:
        reasons = "; ".join(f"{r.file_name}: {r.reason}" for r in report.failures)
        if report.postponed:
            reasons += f"; {len(report.postponed)} object(s) postponed for lack of time"
        raise IngestionFailed(reasons.strip("; "))
    return summary
