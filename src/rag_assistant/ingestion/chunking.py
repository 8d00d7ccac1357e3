"""Token-aware chunking that splits on the strongest boundary available.

The text is first cut into atoms that each fit the budget — paragraphs, else lines, else
sentences, else words, else fixed runs of characters — so that the atoms tile the text
exactly (every character belongs to one atom). Atoms are then packed greedily into chunks;
a full chunk ends at its strongest boundary in its second half, and the next chunk starts
with as many whole trailing atoms as fit in the overlap budget. Each chunk starts at least
one atom after the previous one, so the loop always ends.

Chunks are bounded in characters as well as tokens: a tokenizer can count a whole run of
one character, or any over-long word, as a single [UNK] token, and a 20 MB "one-token"
chunk is nothing a reader or an embedding can use. The cap sits far above real text
(prose has 3-6 characters per token), so it only ever splits such runs.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..models import Chunk, Section
from ..text.language import HANGUL_RUN
from ..text.sentences import SENTENCE_BREAK


class TokenCounter(Protocol):
    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Number of model tokens of each text, without special tokens."""
        ...


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int
    tokens: int


#: Hard cap on a chunk's characters per token of its budget (max_chars defaults to this x
#: max_tokens: 1,600 characters for the default 200 tokens).
MAX_CHARS_PER_TOKEN = 8

# Boundary strength after an atom: lower is stronger.
_PARAGRAPH, _LINE, _SENTENCE, _WORD, _CHARS = range(5)
_SPLITTERS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\n[ \t]*\n\s*"),
    re.compile(r"\n\s*"),
    SENTENCE_BREAK,
    re.compile(r"\s+"),
)


def split_spans(
    text: str, counter: TokenCounter, max_tokens: int, overlap_tokens: int = 0,
    *, max_chars: int | None = None,
) -> list[Span]:
    """Spans of `text` (character offsets) that cover it, each at most `max_tokens` tokens
    and `max_chars` characters (default MAX_CHARS_PER_TOKEN x max_tokens)."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    max_chars = max_chars or max_tokens * MAX_CHARS_PER_TOKEN
    overlap_chars = max_chars * overlap_tokens // max_tokens
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be >= 0 and smaller than max_tokens")
    if not text:
        return []

    atoms: list[tuple[int, int, int]] = []  # (start, end, boundary level after it)
    _atomize(text, 0, len(text), _PARAGRAPH, counter, max_tokens, atoms, max_chars=max_chars)
    counts = _count_tokens(counter, text, [(s, e) for s, e, _ in atoms])

    spans: list[Span] = []
    first = 0
    must_reach = 0  # the first atom no chunk has covered yet: each chunk must include it
    while first < len(atoms):
        last, total = first, counts[first]
        while (last + 1 < len(atoms) and total + counts[last + 1] <= max_tokens
               and atoms[last + 1][1] - atoms[first][0] <= max_chars):
            last += 1
            total += counts[last]
        if last + 1 < len(atoms):
            last = _best_cut(text, atoms, counts, first, max(first, must_reach), last, max_tokens, max_chars)
        spans.append(
            Span(atoms[first][0], atoms[last][1], sum(counts[first : last + 1]))
        )
        if last + 1 >= len(atoms):
            break
        must_reach = last + 1
        next_first = last + 1
        carried = 0
        while (next_first - 1 > first and carried + counts[next_first - 1] <= overlap_tokens
               and atoms[last][1] - atoms[next_first - 1][0] <= overlap_chars):
            next_first -= 1
            carried += counts[next_first]
        # The next chunk must bring new text: drop overlap until the next atom fits.
        while next_first <= last and (carried + counts[last + 1] > max_tokens
                                      or atoms[last + 1][1] - atoms[next_first][0] > max_chars):
            carried -= counts[next_first]
            next_first += 1
        first = next_first
    return spans


def _best_cut(
    text: str,
    atoms: list[tuple[int, int, int]],
    counts: list[int],
    first: int,
    earliest: int,
    last: int,
    max_tokens: int,
    max_chars: int,
) -> int:
    """The atom to end on: the strongest boundary once the chunk is at least half full."""
    best, best_level, total = last, atoms[last][2], 0
    for index in range(first, last + 1):
        total += counts[index]
        level = atoms[index][2]
        if level < _WORD and text[atoms[index][0] : atoms[index][1]].rstrip().endswith(":"):
            level = _WORD  # "...the following tenets:" belongs with the list after it
        half_full = total * 2 >= max_tokens or (atoms[index][1] - atoms[first][0]) * 2 >= max_chars
        if index >= earliest and half_full and level <= best_level:
            best, best_level = index, level
    return best


def _atomize(
    text: str,
    start: int,
    end: int,
    level: int,
    counter: TokenCounter,
    max_tokens: int,
    out: list[tuple[int, int, int]],
    boundary: int = _PARAGRAPH,
    *,
    max_chars: int,
) -> None:
    """Append atoms tiling text[start:end]; the last one carries `boundary`."""
    if level == _CHARS:
        _split_chars(text, start, end, counter, min(max_tokens, max_chars), out, boundary)
        return
    pieces = _split_keep(text, start, end, _SPLITTERS[level])
    # A piece over the character cap is split further whatever its tokens: not counting it
    # spares the tokenizer a megabyte-long "word" (its alignment tables cost ~60 bytes a char).
    sizes = _count_tokens(counter, text, [(s, e) if e - s <= max_chars else (s, s) for s, e in pieces])
    for i, ((s, e), size) in enumerate(zip(pieces, sizes, strict=True)):
        after = boundary if i == len(pieces) - 1 else level
        if size <= max_tokens and e - s <= max_chars:
            out.append((s, e, after))
        else:
            _atomize(text, s, e, level + 1, counter, max_tokens, out, after, max_chars=max_chars)


#: Texts per tokenizer call: the tokenizer's results for a whole document at the character limit
#: at once cost the server ~200 MB (measured on 5 M characters); in batches, a few MB.
_COUNT_BATCH = 256


def _count_tokens(counter: TokenCounter, text: str, ranges: list[tuple[int, int]]) -> list[int]:
    counts: list[int] = []
    for i in range(0, len(ranges), _COUNT_BATCH):
        counts += counter.count_tokens([text[s:e] for s, e in ranges[i : i + _COUNT_BATCH]])
    return counts


def _split_keep(text: str, start: int, end: int, pattern: re.Pattern[str]) -> list[tuple[int, int]]:
    """Split text[start:end] after each separator match; the pieces tile the range."""
    pieces: list[tuple[int, int]] = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor and match.start() > cursor:
            pieces.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        pieces.append((cursor, end))
    return pieces or [(start, end)]


def _split_chars(
    text: str,
    start: int,
    end: int,
    counter: TokenCounter,
    max_tokens: int,
    out: list[tuple[int, int, int]],
    boundary: int,
) -> None:
    cursor = start
    while cursor < end:
        length = min(end - cursor, max_tokens)
        # A word piece covers at least one character, so max_tokens characters nearly
        # always fit; shrink until they do (one character always makes progress).
        while length > 1 and counter.count_tokens([text[cursor : cursor + length]])[0] > max_tokens:
            length //= 2
        nxt = cursor + length
        out.append((cursor, nxt, boundary if nxt >= end else _CHARS))
        cursor = nxt


# --- documents ---------------------------------------------------------------------------

#: Hangul syllables per budget token for a model that cannot read Hangul. MiniLM's tokenizer
#: splits every syllable into jamo (~1.4 tokens a syllable), so a 200-token budget gave Korean
#: chunks of ~110 characters, cut mid-sentence; tokenizers that read Korean (multilingual
#: sentencepiece models) average about two syllables a token, which gives Korean chunks of
#: a paragraph, like English ones (docs/BENCHMARKS.md, Korean chunks).
KOREAN_SYLLABLES_PER_TOKEN = 2


class HangulAwareCounter:
    """The embedder's token count, with Hangul counted as a Korean-reading tokenizer would
    when the embedder itself cannot read it (what the model does not read, it need not see
    whole: such a chunk is found by its keyword terms)."""

    def __init__(self, counter: TokenCounter) -> None:
        self._counter = counter

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        hangul = [sum(len(run) for run in HANGUL_RUN.findall(t)) for t in texts]
        rest = self._counter.count_tokens([HANGUL_RUN.sub("", t) if n else t for t, n in zip(texts, hangul, strict=True)])
        return [r + -(-n // KOREAN_SYLLABLES_PER_TOKEN) for r, n in zip(rest, hangul, strict=True)]


def budget_counter(counter: TokenCounter) -> TokenCounter:
    """The counter chunk budgets are measured with: the model's own, unless it cannot read Hangul."""
    return counter if getattr(counter, "multilingual", True) else HangulAwareCounter(counter)



def chunk_sections(
    document_id: str,
    version: str,
    sections: Sequence[Section],
    counter: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
    *,
    max_chars: int | None = None,
) -> list[Chunk]:
    """Chunks of a parsed document, with page ranges and heading paths, deterministic ids.

    Consecutive sections with the same heading (the pages of a PDF) are chunked as one
    text so that a paragraph running across a page break stays together.
    """
    chunks: list[Chunk] = []
    counter = budget_counter(counter)
    for heading, group in _group_by_heading(sections):
        text, page_starts, pages = _join_pages(group)
        budget = max_tokens
        if heading:
            heading_tokens = counter.count_tokens([heading])[0] + 1
            budget = max(16, max_tokens - heading_tokens)
        overlap = min(overlap_tokens, budget // 2)
        chars = max_chars or max_tokens * MAX_CHARS_PER_TOKEN
        for span in split_spans(text, counter, budget, overlap, max_chars=chars):
            body = text[span.start : span.end]
            stripped = body.strip()
            if not stripped:
                continue
            lead = len(body) - len(body.lstrip())
            first_page = _page_at(page_starts, pages, span.start + lead)
            last_page = _page_at(page_starts, pages, span.start + lead + len(stripped) - 1)
            index = len(chunks)
            chunks.append(
                Chunk(
                    chunk_id=make_chunk_id(document_id, version, index),
                    document_id=document_id,
                    index=index,
                    text=stripped,
                    page=first_page,
                    page_end=last_page,
                    heading=heading,
                    token_count=span.tokens,
                )
            )
    return chunks


def make_chunk_id(document_id: str, version: str, index: int) -> str:
    return f"{document_id}:{version[:12]}:{index:05d}"


def _group_by_heading(sections: Sequence[Section]) -> list[tuple[str | None, list[Section]]]:
    groups: list[tuple[str | None, list[Section]]] = []
    for section in sections:
        if groups and groups[-1][0] == section.heading:
            groups[-1][1].append(section)
        else:
            groups.append((section.heading, [section]))
    return groups


def _join_pages(sections: list[Section]) -> tuple[str, list[int], list[int | None]]:
    parts: list[str] = []
    starts: list[int] = []
    pages: list[int | None] = []
    offset = 0
    for section in sections:
        if parts:
            parts.append("\n\n")
            offset += 2
        starts.append(offset)
        pages.append(section.page)
        parts.append(section.text)
        offset += len(section.text)
    return "".join(parts), starts, pages


def _page_at(starts: list[int], pages: list[int | None], offset: int) -> int | None:
    return pages[max(0, bisect.bisect_right(starts, offset) - 1)]
