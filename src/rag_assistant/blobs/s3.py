"""Blobs in an S3 bucket. Endpoints come from the standard AWS settings."""

from __future__ import annotations

from typing import Any

from ..file_types import too_large
from .base import BlobAccessDeniedError, BlobInfo, BlobNotFoundError, UploadTarget

_MISSING = ("404", "NoSuchKey", "NotFound")
_DENIED = ("403", "AccessDenied", "Forbidden")


class S3BlobStore:
    def __init__(self, bucket: str, *, client: Any = None) -> None:
        self.bucket = bucket
        self._made: Any = client

    @property
    def _client(self) -> Any:
        # Made on first use: a cold query function that never reads S3 never pays for it.
        if self._made is None:
            self._made = _client()
        return self._made

    def reconnect(self) -> None:
        """Drop the client: the next one has new connections and resolves credentials again
        (after a SnapStart restore)."""
        self._made = None

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str, max_bytes: int | None = None) -> bytes:
        from botocore.exceptions import ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise self._translated(exc, "GetObject", key) from None
        size = int(response.get("ContentLength", 0))
        if max_bytes is not None and size > max_bytes:
            response["Body"].close()
            raise too_large(max_bytes, size)
        return response["Body"].read()

    def head(self, key: str) -> BlobInfo:
        from botocore.exceptions import ClientError

        try:
            response = self._client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise self._translated(exc, "HeadObject", key) from None
        return BlobInfo(key=key, size=int(response["ContentLength"]), etag=response["ETag"].strip('"'))

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def presign_put(self, key: str, content_type: str, size_bytes: int, expires_in: int = 900) -> UploadTarget:
        """A URL that accepts exactly one PUT of `size_bytes` bytes of `content_type` to `key`:
        both are signed headers, so S3 refuses any other length or type. `If-None-Match: *`
        is signed too: S3 refuses (412) the PUT once `key` exists, so the URL can create the
        object but never overwrite it, not even when replayed before it expires."""
        url = self._client.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size_bytes,
                    "IfNoneMatch": "*"},
            ExpiresIn=expires_in,
        )
        return UploadTarget(url=url, headers={"Content-Type": content_type, "If-None-Match": "*"}, key=key,
                            expires_in=expires_in)

    def _translated(self, exc: Any, operation: str, key: str) -> Exception:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING:
            return BlobNotFoundError(key)
        if code in _DENIED:
            return self._denied(operation, key)
        return exc

    def _denied(self, operation: str, key: str) -> BlobAccessDeniedError:
        # A 403 does not say which grant is missing, and for a key that does not exist S3
        # answers 403 instead of 404 unless the caller may list the bucket: name both.
        bucket_arn = f"arn:{getattr(self._client.meta, 'partition', 'aws')}:s3:::{self.bucket}"
        return BlobAccessDeniedError(
            key,
            f"S3 denied {operation} on s3://{self.bucket}/{key} (403). The reader's IAM role needs "
            f"s3:GetObject on {bucket_arn}/* and s3:ListBucket on {bucket_arn} (without ListBucket, "
            "S3 answers 403 instead of 404 for a key that does not exist); with SSE-KMS also "
            "kms:Decrypt on the bucket's key. Retrying will not help until the role is fixed.",
            permissions=("s3:GetObject", "s3:ListBucket"),
        )


def _client() -> Any:
    import boto3
    from botocore.config import Config

    # SigV4 for presigned URLs; virtual-host style falls back to path style on custom endpoints.
    return boto3.client("s3", config=Config(signature_version="s3v4", retries={"mode": "standard"}))
