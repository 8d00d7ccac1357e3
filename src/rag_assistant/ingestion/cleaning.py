"""Text cleaning between parsing and chunking.

The output keeps the structure the chunker splits on: paragraphs are separated by a blank
line ("\\n\\n"), hard line breaks inside a paragraph (list items, headings) stay "\\n",
and lines that were only wrapped by the layout are joined with a space.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
# C0/C1 controls except tab and newline, plus zero-width and bidi marks and the BOM.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
# "exam-\nple" -> "example", only when the next line continues in lower case: a line
# ending in "Zero-" followed by "Trust" is more likely a real compound than a hyphenation.
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])[-\u00ad]\n(?=[a-z])")
# pdfium marks a hyphenation point it removed with U+FFFE; both it and U+00AD are
# invisible word joins, whether or not the line break survived.
_SOFT_HYPHEN = re.compile("[\u00ad\ufffe][ \t]*\n?")
# Table-of-contents lines ("2.1 Tenets ....... 6") point at content, they are not content:
# left in, they outrank the section they name for every question about it. A line ends in
# four dots (spaced or not) and a page number. Every regex here must run in linear time on
# any input (tests/test_linear_time.py): the lazy prefix tries each position of a line once,
# and from each the fixed four-dot leader costs a constant (the old "(?:\.\s?){4,}\s*"
# backtracked over every split of a run of dots: quadratic, minutes for one 20 KB line).
_DOT_LEADER_LINE = re.compile(
    r"^[^\n]*?(?:\.[ \t]?){4}[ \t]*+(?:\d{1,4}|[ivxlcdm]{1,7})[ \t]*+(?:\n|$)",
    re.MULTILINE | re.IGNORECASE,
)
# Possessive runs: two neighbouring "\s*" would otherwise share a run of spaces every way.
_PAGE_NUMBER_LINE = re.compile(
    r"\s*+(?:page\s*+)?[-–—]?\s*+(?:\d{1,4}|[ivxlcdm]{1,7})\s*+[-–—]?\s*+(?:(?:of|/)\s*+\d{1,4})?\s*+$",
    re.IGNORECASE,
)
# A layout wrap: spaces at the end of a line that text continues after. The look-behind
# starts a match only at the first space of a run (else each space rescans the run).
_SOFT_WRAP = re.compile(r"(?<![ \t])[ \t]+\n(?=[^\n])")
_DIGITS = re.compile(r"\d+")


def normalize_unicode(text: str) -> str:
    """NFC (PDFs often carry decomposed Hangul), ligatures split, controls removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    return _CONTROL.sub("", text)


def clean_text(text: str, *, soft_wrapped_lines: bool = False) -> str:
    """Normalize a block of text.

    soft_wrapped_lines: the producer marks layout wraps with a trailing space before the
    newline (pdfium and pypdf both do); such lines are joined into their paragraph.
    """
    text = normalize_unicode(text)
    text = _HYPHEN_BREAK.sub("", text)
    text = _SOFT_HYPHEN.sub("", text)
    text = _DOT_LEADER_LINE.sub("", text)
    if soft_wrapped_lines:
        text = _SOFT_WRAP.sub(" ", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _line_key(line: str) -> str:
    # Page numbers change from page to page; the running header around them does not.
    return _DIGITS.sub("#", line.strip().lower())


def remove_repeated_margins(pages: list[str], *, edge_lines: int = 3) -> list[str]:
    """Drop running headers/footers and bare page numbers.

    A line within `edge_lines` of the top or bottom of a page is a margin line when the
    same line (digits ignored) appears at the edge of at least half the pages. Needs three
    pages or more: with fewer, repetition cannot be told from content.
    """
    split_pages = [page.split("\n") for page in pages]
    if len(pages) >= 3:
        counts: Counter[str] = Counter()
        for lines in split_pages:
            edges = {_line_key(ln) for ln in _edge(lines, edge_lines) if ln.strip()}
            counts.update(edges)
        threshold = max(2, (len(pages) + 1) // 2)
        repeated = {key for key, n in counts.items() if n >= threshold}
    else:
        repeated = set()

    cleaned: list[str] = []
    for lines in split_pages:
        keep = list(lines)
        for index in _edge_indexes(lines, edge_lines):
            line = lines[index]
            if _line_key(line) in repeated or _PAGE_NUMBER_LINE.match(line):
                keep[index] = None  # type: ignore[call-overload]
        cleaned.append("\n".join(ln for ln in keep if ln is not None))
    if repeated and not any(page.strip() for page in cleaned):
        # Every line was a "margin": a document that says the same thing on each page (a
        # slide deck of one title, a form). Its text is content after all: keep it once.
        first = next((i for i, page in enumerate(pages) if page.strip()), None)
        if first is not None:
            cleaned[first] = pages[first]
    return cleaned


def _edge_indexes(lines: list[str], n: int) -> list[int]:
    content = [i for i, ln in enumerate(lines) if ln.strip()]
    # On a short page the "edges" would be all of it.
    n = min(n, max(1, len(content) // 4))
    return sorted(set(content[:n] + content[-n:]))


def _edge(lines: list[str], n: int) -> list[str]:
    return [lines[i] for i in _edge_indexes(lines, n)]
