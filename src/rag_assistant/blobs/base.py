"""The blob store seam. tests/test_blobs.py runs one suite over every backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class BlobNotFoundError(KeyError):
    pass


class BlobAccessDeniedError(PermissionError):
    """The store refused the request: a deployment problem, not a missing file. Retrying
    cannot help until `permissions` (what the reader may lack) are granted."""

    def __init__(self, key: str, message: str, permissions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.key = key
        self.permissions = permissions


@dataclass(frozen=True, slots=True)
class BlobInfo:
    key: str
    size: int
    etag: str


@dataclass(frozen=True, slots=True)
class UploadTarget:
    """Where and how a client may PUT one file, without credentials of its own."""

    url: str
    headers: dict[str, str]
    key: str
    expires_in: int


@runtime_checkable
class BlobStore(Protocol):
    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None: ...

    def get(self, key: str, max_bytes: int | None = None) -> bytes:
        """The object's bytes; BlobNotFoundError if absent, FileTooLargeError if over max_bytes,
        BlobAccessDeniedError if the store refuses to say."""
        ...

    def head(self, key: str) -> BlobInfo:
        """Size and etag; BlobNotFoundError if absent, BlobAccessDeniedError if refused."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; removing an absent object is not an error."""
        ...
