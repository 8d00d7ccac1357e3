"""Splitting text into sentences and list items (the chunker and the answerers)."""

from __future__ import annotations

import re

#: After sentence-final punctuation (Latin, CJK; Korean "다." ends in '.'), optionally
#: followed by closing quotes/brackets, then whitespace.
SENTENCE_BREAK = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_LIST_MARKER = re.compile(r"\s*(?:\(?\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\s*$")



def split_sentences(text: str) -> list[str]:
    """Sentences and list items (lines) of a chunk, stripped, empty ones dropped."""
    sentences: list[str] = []
    for line in text.split("\n"):
        cursor = 0
        for match in SENTENCE_BREAK.finditer(line):
            # "1. All data..." is one item, not the sentence "1." and another.
            if _LIST_MARKER.match(line, cursor, match.start()):
                continue
            sentences.append(line[cursor : match.end()].strip())
            cursor = match.end()
        sentences.append(line[cursor:].strip())
    return [s for s in sentences if s]
