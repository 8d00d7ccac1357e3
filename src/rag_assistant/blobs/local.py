"""Blobs as files under a folder (the local mode's stand-in for a bucket)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..file_types import too_large
from .base import BlobInfo, BlobNotFoundError


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)

    def get(self, key: str, max_bytes: int | None = None) -> bytes:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFoundError(key)
        size = path.stat().st_size  # checked before reading, without hashing the file
        if max_bytes is not None and size > max_bytes:
            raise too_large(max_bytes, size)
        return path.read_bytes()

    def head(self, key: str) -> BlobInfo:
        path = self._path(key)
        if not path.is_file():
            raise BlobNotFoundError(key)
        data = path.read_bytes()
        return BlobInfo(key=key, size=len(data), etag=hashlib.md5(data, usedforsecurity=False).hexdigest())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
