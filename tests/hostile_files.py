"""Small files that attack the service: decompression bombs, pathological text, deep
nesting, huge tokens, spoofed names. Each comes with the outcome the service owes it: the
document indexed, or failed with a clear error code — never a frozen or exhausted server.

The PDFs are written byte by byte (objects, a Flate stream, a cross-reference table), as an
attacker writes them: no PDF library would produce them.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass
from pathlib import Path

#: The parse timeout the attack suite runs with (RAG_PARSE_TIMEOUT), to keep it quick.
PARSE_TIMEOUT_SECONDS = 6


@dataclass(frozen=True)
class HostileFile:
    name: str  # as uploaded (the service cleans it)
    data: bytes
    expect: str  # "indexed" or the error code of the failed document
    shown_name: str  # the name the service keeps
    what: str


def raw_pdf(contents: list[bytes], *, shared_pages: int = 0) -> bytes:
    """A PDF with one page per content stream (Flate-compressed), or, with shared_pages,
    that many pages all drawing the one stream given."""
    objects: list[bytes | None] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>", None]
    font, pages = 1, 2

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    def stream(content: bytes) -> int:
        packed = zlib.compressobj(9)
        compressed = b"".join(packed.compress(content[i : i + (1 << 24)]) for i in range(0, len(content), 1 << 24))
        compressed += packed.flush()
        return add(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(compressed) + compressed + b"\nendstream")

    streams = [stream(contents[0])] * shared_pages if shared_pages else [stream(c) for c in contents]
    kids = [
        add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages, s, font))
        for s in streams
    ]
    objects[pages - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                          + b"] /Count %d >>" % len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + (body or b"") + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    return out.getvalue()


def text_content(line: str) -> bytes:
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"BT /F1 12 Tf 72 720 Td (" + escaped.encode("latin-1") + b") Tj ET"


def graphics_state_bomb(megabytes: int = 200) -> bytes:
    """A content stream of `q` (save graphics state) operators: ~200 KB that inflate to
    200 MB, which a PDF reader turns into gigabytes of saved states."""
    return raw_pdf([b"q " * (megabytes * 1024 * 1024 // 2) + text_content("after the bomb")])


def zeros_bomb(megabytes: int = 600) -> bytes:
    """One content stream of zeros: ~600 KB inflating to 600 MB."""
    return raw_pdf([b"\0" * (megabytes * 1024 * 1024)])


def shared_stream_bomb(megabytes: int = 120, pages: int = 80) -> bytes:
    """Zeros that fit in memory, drawn by many pages: each page inflates them again."""
    return raw_pdf([b"\0" * (megabytes * 1024 * 1024)], shared_pages=pages)


def too_many_pages(pages: int) -> bytes:
    return raw_pdf([text_content("a page")], shared_pages=pages)


def same_line_on_every_page(line: str, pages: int = 6) -> bytes:
    return raw_pdf([text_content(line)], shared_pages=pages)


def deep_markdown(depth: int = 20_000, inline_depth: int = 1_000) -> bytes:
    """Nesting a CommonMark parser recurses or backtracks on: `depth` levels of block quotes,
    `inline_depth` of list items, brackets, emphasis, code spans and comment openers (kept
    smaller: each of those characters becomes text, and a model token, to embed)."""
    parts = [
        "# Deep nesting\n\nThe nested blocks below test the parser's limits.\n",
        ">" * depth + " quoted at the bottom\n",
        "".join("  " * i + "- item\n" for i in range(inline_depth)),
        "[" * inline_depth + "link" + "]" * inline_depth + "(" * inline_depth + "\n",
        "*" * inline_depth + "emphasis" + "_" * inline_depth + "\n",
        "`" * inline_depth + "\n",
        "<!--" * inline_depth + "\n",
    ]
    return "\n".join(parts).encode()


def many_sections(sections: int) -> bytes:
    return "".join(f"# Heading {i}\nx\n" for i in range(sections)).encode()


def hostile_files(*, max_pages: int, max_chunks: int) -> list[HostileFile]:
    """The attack set. `max_pages`, `max_chunks`: the bounds the service runs with."""
    dots = "1 Introduction " + "." * 100_000 + " 7\nThe introduction explains the dotted table of contents.\n"
    return [
        HostileFile("graphics-state-bomb.pdf", graphics_state_bomb(), "too_complex", "graphics-state-bomb.pdf",
                    "200 MB of q operators in a 200 KB PDF"),
        HostileFile("zeros-bomb.pdf", zeros_bomb(), "too_complex", "zeros-bomb.pdf",
                    "600 MB of zeros in a 600 KB PDF"),
        HostileFile("shared-stream.pdf", shared_stream_bomb(), "timeout", "shared-stream.pdf",
                    "120 MB of zeros drawn by 80 pages"),
        HostileFile("too-many-pages.pdf", too_many_pages(max_pages + 1), "too_complex", "too-many-pages.pdf",
                    f"{max_pages + 1} pages"),
        HostileFile("one-character.txt", b"a" * (20 * 1024 * 1024), "too_complex", "one-character.txt",
                    "20 MB of one character"),
        HostileFile("many-sections.md", many_sections(max_chunks + 1), "too_complex", "many-sections.md",
                    f"{max_chunks + 1} headings"),
        HostileFile("dot-leaders.txt", dots.encode(), "indexed", "dot-leaders.txt",
                    "a 100 KB table-of-contents line of dots"),
        HostileFile("huge-token.txt", b"z" * 200_000 + b"\nA sentence after one 200 KB word.\n", "indexed",
                    "huge-token.txt", "one 200 KB word (one [UNK] token)"),
        HostileFile("deep-nesting.md", deep_markdown(), "indexed", "deep-nesting.md",
                    "20,000 levels of quotes; 1,000 of lists, brackets, emphasis"),
        HostileFile("invoice\u202efdp.txt", b"Invoice 4471 is due on the first of March.\n", "indexed",
                    "invoicefdp.txt", "a right-to-left override in the name"),
        HostileFile("all-hands.pdf", same_line_on_every_page("Quarterly all-hands: bring your questions"),
                    "indexed", "all-hands.pdf", "the same single line on every page"),
    ]


def write_all(folder: Path, files: list[HostileFile]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for hostile in files:
        path = folder / hostile.name
        path.write_bytes(hostile.data)
        paths.append(path)
    return paths
