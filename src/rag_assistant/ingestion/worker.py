"""The reader process: parses and cleans untrusted files inside hard bounds.

Started by ingestion/isolation.py (which calls main() with the memory bound and the
recycling threshold in bytes).
It caps its own address space (RLIMIT_AS) before it reads anything, so a decompression bomb
or a parser bug runs out of memory here — killing at most this process — instead of in the
server. It talks over stdin/stdout in frames (an 8-byte length, then the bytes): a request
is a JSON header frame and a data frame; a reply is one JSON frame. JSON, not pickle: the
server never unpickles what a process that read hostile bytes sends back.

It imports only the parsers (no model, no store), runs niced below the server's threads,
and exits after a document that left it big, so the memory goes back to the OS.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import struct
import sys
from typing import Any, BinaryIO

FRAME = struct.Struct("<Q")
#: A worker that ends a document with more resident memory than this exits (and a fresh one
#: takes its place): CPython and glibc keep freed memory for reuse. A fresh reader holds
#: ~25 MB, ~31 MB after the NIST PDFs; a 4 M-character text leaves it at 50-70 MB.
RECYCLE_RSS_BYTES = 64 * 1024 * 1024
#: How much lower the reader's CPU priority is than the server's (queries come first).
NICENESS = 5


def read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(FRAME.size)
    if len(header) < FRAME.size:
        return None
    (length,) = FRAME.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    return data


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    stream.write(FRAME.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _bound_cpu(seconds: float) -> None:
    # RLIMIT_CPU counts the whole life of the process: each document gets `seconds` more.
    # SIGXCPU kills the process: the server sees a timeout. (The server's wall-clock deadline
    # is the real bound; this one holds even if the server stopped watching.)
    used = resource.getrusage(resource.RUSAGE_SELF)
    spent = used.ru_utime + used.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(spent + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def handle(request: dict[str, Any], data: bytes) -> dict[str, Any]:
    from ..errors import DocumentTooComplexError, IngestError
    from .parsing import DocumentLimits, parse_document

    _bound_cpu(float(request["cpu_seconds"]))
    limits = DocumentLimits(**request["limits"])
    try:
        parsed = parse_document(request["file_name"], data, max_bytes=request.get("max_bytes"), limits=limits)
    except IngestError as exc:
        return {"error": exc.code, "message": str(exc)}
    except (MemoryError, RecursionError):
        limit = request["memory_bytes"] // (1024 * 1024)
        error = DocumentTooComplexError(
            f"the file is too complex to read within {limit:,} MB of memory (RAG_PARSE_MEMORY_MB)")
        return {"error": error.code, "message": str(error), "exit": True}
    except Exception as exc:  # a parser bug: one failed document, described without internals
        return {"error": "internal_error", "message": f"the reader failed on this file ({type(exc).__name__})"}
    return {
        "sections": [[s.text, s.page, s.heading] for s in parsed.sections],
        "page_count": parsed.page_count,
        "encoding": parsed.encoding,
        "media_type": parsed.media_type,
    }


def serve(memory_bytes: int, stdin: BinaryIO, stdout: BinaryIO, recycle_bytes: int = RECYCLE_RSS_BYTES) -> None:
    if memory_bytes > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    with contextlib.suppress(OSError):  # lowering one's priority is allowed everywhere we know of
        os.nice(NICENESS)
    # The readers load now, while the worker waits for its first document.
    import charset_normalizer  # noqa: F401
    import markdown_it  # noqa: F401
    import pypdfium2  # noqa: F401

    from . import parsing  # noqa: F401

    while True:
        header = read_frame(stdin)
        data = read_frame(stdin) if header is not None else None
        if header is None or data is None:
            return  # the server closed the pipe: done
        try:
            reply = handle(json.loads(header), data)
        except MemoryError:
            return  # not even the error fits: exiting is the reply (the server reports it)
        del data
        recycle = bool(reply.pop("exit", False)) or resident_bytes() > recycle_bytes
        reply["recycle"] = recycle
        write_frame(stdout, json.dumps(reply, ensure_ascii=False).encode("utf-8", "replace"))  # lone surrogates: "?"
        if recycle:
            return


def main(args: list[str] | None = None) -> None:
    """args: [memory bytes (0: unbounded), recycle bytes]."""
    args = sys.argv[1:] if args is None else args
    memory_bytes = int(args[0]) if args else 0
    recycle_bytes = int(args[1]) if len(args) > 1 else RECYCLE_RSS_BYTES
    stdout = sys.stdout.buffer
    # Anything a library prints must not corrupt the frames: stdout goes to stderr.
    sys.stdout = sys.stderr
    serve(memory_bytes, sys.stdin.buffer, stdout, recycle_bytes)


if __name__ == "__main__":
    main()
