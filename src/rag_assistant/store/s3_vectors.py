"""Amazon S3 Vectors as the dense index of a large corpus (RAG_S3_VECTOR_BUCKET /
RAG_S3_VECTOR_INDEX): the vectors live in the service, not in the query function's memory.

The DynamoDB store stays the truth (documents, chunks, the manifest of live versions) and
keeps the keyword side warm without vectors; this index only answers "which chunk keys are
nearest". Keys are chunk ids; each vector carries its document id and version as metadata.
A result whose chunk is not live in the warm corpus (a version being written or deleted)
is dropped there, so readers never see half a document.

No emulator implements S3 Vectors: tests/test_s3_vectors_protocol.py validates every
request against botocore's service model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..models import Chunk

#: PutVectors and DeleteVectors take at most 500 vectors or keys per call.
BATCH = 500


def create_client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3vectors", config=Config(retries={"mode": "standard", "max_attempts": 8}))


class S3VectorsIndex:
    def __init__(self, bucket: str, index: str, *, client: Any = None) -> None:
        self.bucket, self.index = bucket, index
        self._client = client or create_client()

    def reconnect(self) -> None:
        self._client = create_client()

    def put(self, chunks: Sequence[Chunk], vectors: np.ndarray, version: str) -> None:
        for start in range(0, len(chunks), BATCH):
            self._client.put_vectors(
                vectorBucketName=self.bucket, indexName=self.index,
                vectors=[
                    {"key": c.chunk_id, "data": {"float32": [float(x) for x in v]},
                     "metadata": {"document_id": c.document_id, "version": version}}
                    for c, v in zip(chunks[start : start + BATCH], vectors[start : start + BATCH], strict=True)
                ],
            )

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), BATCH):
            self._client.delete_vectors(vectorBucketName=self.bucket, indexName=self.index,
                                        keys=list(keys[start : start + BATCH]))

    def query(self, vector: np.ndarray, top_k: int) -> list[tuple[str, str, float]]:
        """(document id, chunk id, cosine similarity), nearest first."""
        response = self._client.query_vectors(
            vectorBucketName=self.bucket, indexName=self.index, topK=int(top_k),
            queryVector={"float32": [float(x) for x in np.asarray(vector, dtype=np.float32)]},
            returnMetadata=True, returnDistance=True,
        )
        # A cosine index reports distance = 1 - similarity: report similarity like the other stores.
        return [(v.get("metadata", {}).get("document_id", ""), v["key"], 1.0 - float(v.get("distance", 1.0)))
                for v in response.get("vectors", [])]
