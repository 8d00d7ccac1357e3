"""Reading untrusted files where they cannot hurt the server: a small pool of reader
processes (ingestion/worker.py), each bounded in memory (RLIMIT_AS), CPU time and
wall-clock time.

A PDF whose content stream inflates to gigabytes, or any future parser bug, then costs one
failed document — `too_complex` when the reader ran out of memory or died, `timeout` when it
ran out of time — and never the server: its memory stays its own, its CPU is niced below the
server's, and a reader that grew is replaced, so the memory goes back to the OS.

Readers are reused (a fresh interpreter costs ~0.2 s; a NIST PDF parses in ~0.15 s), started
on demand or by warm_up(), at most `workers` at once.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..errors import CorruptFileError, DocumentTooComplexError, IngestError, ParseTimeoutError
from ..models import ParsedDocument, Section
from .parsing import DocumentLimits
from .worker import FRAME, RECYCLE_RSS_BYTES

log = logging.getLogger("rag_assistant.ingestion")

#: Environment variables a reader gets: enough to run Python, and no secrets (API keys stay
#: with the server even if a hostile file took over the reader).
_PASSED_ENVIRONMENT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "HOME", "SYSTEMROOT")


def _ingest_errors() -> list[type[IngestError]]:
    """IngestError and its subclasses: the reader's error code comes back as its type."""
    found, pending = [], [IngestError]
    while pending:
        kind = pending.pop()
        found.append(kind)
        pending.extend(kind.__subclasses__())
    return found


_BOOTSTRAP = (
    "import os, sys; sys.path[:0] = sys.argv[1].split(os.pathsep); "
    "from rag_assistant.ingestion.worker import main; main(sys.argv[2:])"
)


class _ReaderDied(Exception):
    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"reader exited with {returncode}")
        self.returncode = returncode


class _ReaderTimedOut(Exception):
    pass


class _Reader:
    """One reader process and its pipes; used by one thread at a time."""

    def __init__(self, memory_bytes: int, recycle_bytes: int) -> None:
        # The reader imports exactly what the server imports: -I -S (no site hooks, no PYTHON*
        # variables), then the server's own sys.path (a Lambda's /var/task and /opt/python).
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(dict.fromkeys([package_root, *(p for p in sys.path if p)]))
        env = {k: os.environ[k] for k in _PASSED_ENVIRONMENT if k in os.environ}
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _BOOTSTRAP, path, str(memory_bytes), str(recycle_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            # Its own session: a Ctrl-C meant for the CLI does not print a reader's traceback;
            # the reader ends when the server's end of its pipe closes.
            start_new_session=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self._in = self.process.stdin.fileno()
        self._out = self.process.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def exchange(self, header: bytes, data: bytes, deadline: float) -> dict:
        try:
            for payload in (header, data):
                self._write(FRAME.pack(len(payload)), deadline)
                self._write(payload, deadline)
        except BrokenPipeError:
            raise _ReaderDied(self._reap()) from None
        (length,) = FRAME.unpack(self._read(FRAME.size, deadline))
        return json.loads(self._read(length, deadline))

    def _write(self, payload: bytes, deadline: float) -> None:
        view = memoryview(payload)
        while view:
            self._wait(self._in, deadline, write=True)
            try:
                written = os.write(self._in, view[: 1 << 20])
            except BlockingIOError:
                continue
            view = view[written:]

    def _read(self, size: int, deadline: float) -> bytes:
        buffer = bytearray()
        while len(buffer) < size:
            self._wait(self._out, deadline, write=False)
            try:
                piece = os.read(self._out, min(size - len(buffer), 1 << 20))
            except BlockingIOError:
                continue
            if not piece:
                raise _ReaderDied(self._reap())
            buffer += piece
        return bytes(buffer)

    def _wait(self, fd: int, deadline: float, *, write: bool) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _ReaderTimedOut
        ready = select.select([], [fd], [], remaining) if write else select.select([fd], [], [], remaining)
        if not any(ready):
            raise _ReaderTimedOut

    def _reap(self) -> int | None:
        try:
            return self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._close_pipes()

    def close(self) -> None:
        """Ask the reader to end (EOF on its input); kill it if it does not."""
        self._close_pipes()
        try:
            self.process.wait(2)
        except subprocess.TimeoutExpired:
            self.kill()

    def _close_pipes(self) -> None:
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class ParserPool:
    """parse() a file in a reader process; at most `workers` readers run at once."""

    def __init__(
        self,
        *,
        workers: int,
        memory_bytes: int,
        timeout_seconds: float,
        limits: DocumentLimits,
        max_bytes: int | None = None,
        recycle_bytes: int = RECYCLE_RSS_BYTES,
    ) -> None:
        self._memory_bytes = memory_bytes
        self._recycle_bytes = recycle_bytes
        self._timeout = timeout_seconds
        self._limits = limits
        self._max_bytes = max_bytes
        self._slots = threading.BoundedSemaphore(max(1, workers))
        self._idle: list[_Reader] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def memory_mb(self) -> int:
        return self._memory_bytes // (1024 * 1024)

    def start(self) -> None:
        """Start one reader now (it loads the parsers while nothing waits for it)."""
        with self._lock:
            if not self._idle and not self._closed:
                self._idle.append(_Reader(self._memory_bytes, self._recycle_bytes))

    def reader_pids(self) -> list[int]:
        with self._lock:
            return [r.pid for r in self._idle if r.alive()]

    def parse(self, file_name: str, data: bytes) -> ParsedDocument:
        """The parsed document, or an IngestError (the reader's own, too_complex, timeout)."""
        header = json.dumps({
            "file_name": file_name, "max_bytes": self._max_bytes, "memory_bytes": self._memory_bytes,
            "cpu_seconds": self._timeout, "limits": {
                "max_pages": self._limits.max_pages, "max_chars": self._limits.max_chars,
                "max_chunks": self._limits.max_chunks},
        }).encode()
        with self._slots:
            reply = self._run(header, data)
        if "error" in reply:
            code = str(reply["error"])
            if code == "internal_error":  # a parser bug is this file's problem, not the server's
                raise CorruptFileError(str(reply["message"]))
            error_type = next((t for t in _ingest_errors() if t.code == code), IngestError)
            raise error_type(str(reply["message"]), code=code)
        return ParsedDocument(
            file_name=file_name,
            media_type=str(reply["media_type"]),
            sections=tuple(Section(text=t, page=p, heading=h) for t, p, h in reply["sections"]),
            page_count=reply["page_count"],
            encoding=reply["encoding"],
        )

    def _run(self, header: bytes, data: bytes) -> dict:
        reader = self._take()
        try:
            reply = reader.exchange(header, data, time.monotonic() + self._timeout)
        except _ReaderTimedOut:
            reader.kill()
            raise ParseTimeoutError(
                f"reading the file took longer than {self._timeout:g} s (RAG_PARSE_TIMEOUT)"
            ) from None
        except _ReaderDied as died:
            reader.kill()
            raise self._death(died.returncode) from None
        except BaseException:
            reader.kill()
            raise
        if reply.get("recycle") or not reader.alive():
            reader.close()
        else:
            self._give_back(reader)
        return reply

    def _death(self, returncode: int | None) -> IngestError:
        if returncode == -signal.SIGXCPU:
            return ParseTimeoutError(f"reading the file took longer than {self._timeout:g} s (RAG_PARSE_TIMEOUT)")
        log.warning("a reader process died on a file", extra={"returncode": returncode})
        return DocumentTooComplexError(
            f"the file is too complex to read: the reader stopped at its {self.memory_mb:,} MB memory "
            f"limit (RAG_PARSE_MEMORY_MB) or crashed on the file"
        )

    def _take(self) -> _Reader:
        with self._lock:
            if self._closed:
                raise RuntimeError("the parser pool is closed")
            while self._idle:
                reader = self._idle.pop()
                if reader.alive():
                    return reader
                reader.kill()
        return _Reader(self._memory_bytes, self._recycle_bytes)

    def _give_back(self, reader: _Reader) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(reader)
                return
        reader.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.close()
