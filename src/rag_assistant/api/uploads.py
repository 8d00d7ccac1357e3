"""One file from a multipart/form-data body, read as it streams in.

The body is parsed chunk by chunk (python-multipart's push parser): a file over the limit is
refused the moment its bytes pass the limit, without spooling the rest to memory or disk,
and a file of a type we do not read, or a second `file` part, as soon as its headers arrive.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from ..errors import UnsupportedFileError
from ..file_types import media_type_for, too_large
from ..sources import clean_file_name
from .contract import MULTIPART_OVERHEAD_BYTES, ApiError, body_too_large, ingest_failure

FILE_FIELD = "file"
_EXTENDED_NAME = re.compile(rb"filename\*\s*=\s*(?:utf-8|UTF-8)''([^;\s]+)")


def _missing_file() -> ApiError:
    problem = "Field required: a multipart/form-data body with one `file` part"
    return ApiError("validation_error", f"{FILE_FIELD}: {problem}", [{"field": FILE_FIELD, "problem": problem}])


class _OneFile:
    def __init__(self, max_file_bytes: int) -> None:
        self.limit = max_file_bytes
        self.name: str | None = None
        self.data = bytearray()
        self.files = 0
        self._in_file = False
        self._field, self._value = bytearray(), bytearray()
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> Any:  # python-multipart's MultipartCallbacks (a TypedDict)
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, s, e: self._field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
        }

    def _part_begin(self) -> None:
        self._headers, self._in_file = {}, False

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field.clear()
        self._value.clear()

    def _headers_finished(self) -> None:
        disposition = self._headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        if options.get(b"name", b"").decode("utf-8", "replace") != FILE_FIELD:
            return  # other fields are read past, not kept
        self.files += 1
        if self.files > 1:
            raise ApiError("too_many_files", "one file per upload: the body has more than one `file` part")
        self._in_file = True
        extended = _EXTENDED_NAME.search(disposition)
        if extended:
            self.name = unquote(extended.group(1).decode("ascii", "replace"), errors="replace")
        else:
            self.name = options.get(b"filename", b"").decode("utf-8", "replace")
        shown = clean_file_name(self.name)
        try:
            media_type_for(shown)
        except UnsupportedFileError as exc:  # refused before its bytes are read
            raise ingest_failure(exc.code, shown, str(exc)) from None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file:
            return
        self.data.extend(data[start:end])
        if len(self.data) > self.limit:
            raise ApiError("file_too_large", str(too_large(self.limit)))


async def read_one_file(chunks: AsyncIterator[bytes], content_type: str | None,
                        max_file_bytes: int) -> tuple[str, bytes]:
    """(file name as the client sent it, its bytes), or ApiError: not multipart, no file,
    two files, malformed, file or body over the limit."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise _missing_file()
    state = _OneFile(max_file_bytes)
    body_limit = max_file_bytes + MULTIPART_OVERHEAD_BYTES
    parser = MultipartParser(boundary, state.callbacks())
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > body_limit:
                raise body_too_large(body_limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError:
        raise ApiError("invalid_multipart", "the multipart/form-data body is malformed") from None
    if parser.state != MultipartState.END:  # cut off before the closing boundary: not all of it
        raise ApiError("invalid_multipart", "the multipart/form-data body ends before its closing boundary")
    if state.name is None:
        raise _missing_file()
    return state.name, bytes(state.data)
