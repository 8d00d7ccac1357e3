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
#: Lone surrogates: bytes that were not UTF-8 (a POSIX file name read with surrogateescape,
#: a JSON "\\udc80"). They cannot be stored or shown; they become U+FFFD like any undecodable byte.
_SURROGATES = re.compile("[\ud800-\udfff]")
#: What an undecodable byte of a name became: the name the client meant is lost.
UNDECODABLE = "\ufffd"


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
    base = re.split(r"[/\\]", _visible(_SURROGATES.sub(UNDECODABLE, name)).strip())[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if len(base) > 200:
        stem, dot, suffix = base.rpartition(".")
        base = (stem[: 200 - len(suffix) - 1] + dot + suffix) if dot and len(suffix) <= 10 else base[:200]
    return base or "upload"


def upload_source(name: str, data: bytes) -> tuple[str, str]:
    """(source, file name) of a file uploaded through the API: same name, same document.

    Except a name that arrived undecodable (bytes that are not UTF-8 became U+FFFD): different
    names mangle alike ("\\xff\\xfe.txt" and "\\xfe\\xff.txt" both read "\ufffd\ufffd.txt"), so
    such a name gets a short tag of the file's content and two such files never replace
    each other. The same file sent again is the same document."""
    file_name = clean_file_name(name)
    if UNDECODABLE in file_name:
        tag = "-" + hashlib.sha256(data).hexdigest()[:10]
        stem, suffix = file_name, ""
        head, dot, tail = file_name.rpartition(".")
        if head and len(tail) <= 10:
            stem, suffix = head, dot + tail
        file_name = stem[: 200 - len(tag) - len(suffix)] + tag + suffix
    return f"upload:///{file_name}", file_name
