"""Logging: readable lines on a terminal, one JSON object per line inside AWS Lambda.

Fields passed with `extra=` (document_id, chunks, ...) appear in both forms, so CloudWatch
Logs Insights can filter on them. Secrets are never passed to the logger.
"""

from __future__ import annotations

import json
import logging
import sys

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "level": record.levelname,
            "timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class ReadableFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower()}: {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD and v is not None}
        if extras:
            line += " (" + ", ".join(f"{k}={v}" for k, v in extras.items()) + ")"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


#: SDK loggers that print request and response bodies at DEBUG, secrets included
#: (an SSM GetParameter response carries the decrypted value).
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer", "openai", "httpx", "httpcore")


def quiet_sdk_loggers() -> None:
    """Keep SDK wire logs off even when LOG_LEVEL=DEBUG: they would print secrets."""
    for name in SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Readable lines on stderr, or (json_lines: inside Lambda) JSON objects on stdout."""
    handler = logging.StreamHandler(sys.stdout if json_lines else sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else ReadableFormatter())
    root = logging.getLogger("rag_assistant")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    quiet_sdk_loggers()
