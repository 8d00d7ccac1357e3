"""Where a document comes from: its stable id, and a file name that is safe to show.

Kept apart from the service so the small documents Lambda can use it without the
embedding stack (numpy, onnxruntime) that the service imports.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path


def document_id_for(source: str) -> str:
    """Stable across re-ingestion of the same source (path, S3 key, upload name)."""
    return "doc_" + hashlib.sha256(source.encode("utf-8")).hexdigest()[:20]


def local_source(path: Path) -> str:
    return path.resolve().as_uri()


_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029/\\:*?\"<>|]+")


def _visible(name: str) -> str:
    # Format characters (Unicode category Cf) draw nothing but change what is drawn: bidi
    # overrides turn "invoice\u202efdp.exe" into "invoiceexe.pdf" on screen, zero-width
    # marks make two names look alike. Hangul is never Cf; NFC joins the decomposed
    # Hangul that macOS file names carry.
    return "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch) != "Cf")


def clean_file_name(name: str) -> str:
    """The last path component, without control, format (bidi, zero-width) or path
    characters, at most 200 chars.

    Browsers send a bare name, but any client can send "../../etc/passwd" or a name full of
    control characters; we keep only what is safe to show and to store.
    """
    base = re.split(r"[/\\]", _visible(name).strip())[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if len(base) > 200:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: 200 - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 10 else base[:200]
    return base or "upload"


def upload_source(name: str) -> tuple[str, str]:
    """(source, file name) of a file uploaded through the API: same name, same document."""
    file_name = clean_file_name(name)
    return f"upload:///{file_name}", file_name
