"""One suite for every BlobStore backend: a local folder, and S3 on moto's server."""

from __future__ import annotations

import pytest
from aws_services import create_bucket

from rag_assistant.blobs.base import BlobNotFoundError, BlobStore
from rag_assistant.blobs.local import LocalBlobStore
from rag_assistant.blobs.s3 import S3BlobStore
from rag_assistant.errors import FileTooLargeError


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.aws)])
def blobs(request, tmp_path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    request.getfixturevalue("aws_environment")
    return S3BlobStore(create_bucket())


def test_round_trip_head_and_delete(blobs: BlobStore) -> None:
    assert isinstance(blobs, BlobStore)
    blobs.put("docs/보고서 1.pdf", b"%PDF-1.7 data", "application/pdf")
    assert blobs.get("docs/보고서 1.pdf") == b"%PDF-1.7 data"
    info = blobs.head("docs/보고서 1.pdf")
    assert info.size == 13 and info.etag
    blobs.put("docs/보고서 1.pdf", b"v2")
    assert blobs.get("docs/보고서 1.pdf") == b"v2"
    blobs.delete("docs/보고서 1.pdf")
    blobs.delete("docs/보고서 1.pdf")  # deleting twice is fine
    with pytest.raises(BlobNotFoundError):
        blobs.head("docs/보고서 1.pdf")
    with pytest.raises(BlobNotFoundError):
        blobs.get("docs/보고서 1.pdf")


def test_size_limit_is_enforced_before_reading(blobs: BlobStore) -> None:
    blobs.put("big.txt", b"x" * 100)
    with pytest.raises(FileTooLargeError, match="the file is 100 bytes; the limit is 10 bytes"):
        blobs.get("big.txt", max_bytes=10)
    assert blobs.get("big.txt", max_bytes=100) == b"x" * 100


def test_local_keys_cannot_escape_the_folder(tmp_path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside.txt", b"no")
    assert not (tmp_path / "outside.txt").exists()


@pytest.mark.parametrize(("operation", "code"), [("head_object", "403"), ("get_object", "AccessDenied")])
def test_s3_refusal_is_an_error_naming_the_grants_protocol(operation, code) -> None:
    """What S3 answers a role without s3:ListBucket for a missing key (HEAD: a bare 403; GET:
    AccessDenied), on the S3 service model: not "not found", not a generic ClientError."""
    import boto3
    from botocore.stub import Stubber

    from rag_assistant.blobs.base import BlobAccessDeniedError

    client = boto3.client("s3", region_name="ap-northeast-2", aws_access_key_id="x", aws_secret_access_key="y")
    store = S3BlobStore("docs-bucket", client=client)
    with Stubber(client) as stubber:
        stubber.add_client_error(operation, service_error_code=code, http_status_code=403)
        with pytest.raises(BlobAccessDeniedError) as caught:
            store.head("gone.pdf") if operation == "head_object" else store.get("gone.pdf")
    message = str(caught.value)
    assert caught.value.permissions == ("s3:GetObject", "s3:ListBucket") and caught.value.key == "gone.pdf"
    assert "s3:ListBucket on arn:aws:s3:::docs-bucket" in message and "s3://docs-bucket/gone.pdf" in message
    assert not isinstance(caught.value, BlobNotFoundError)
