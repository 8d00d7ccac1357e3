"""The error shape every API surface returns: {"error": {"code", "message", "details"?}}.
No web framework imported here: the Lambda handlers use it too."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def error_body(code: str, message: str, details: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def describe_validation_errors(errors: Iterable[Mapping[str, Any]]) -> tuple[str, list[dict[str, str]]]:
    """pydantic errors -> (one-line summary, [{field, problem}]) without echoing the input."""
    details = [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "problem": str(e.get("msg", ""))}
        for e in errors
    ]
    summary = "; ".join(f"{d['field'] or 'body'}: {d['problem']}" for d in details)
    return summary, details
