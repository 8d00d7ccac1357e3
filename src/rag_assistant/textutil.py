"""Small text helpers shared by the chunker and the answerers."""

from __future__ import annotations

import re

#: After sentence-final punctuation (Latin, CJK; Korean "다." ends in '.'), optionally
#: followed by closing quotes/brackets, then whitespace.
SENTENCE_BREAK = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+")
_LIST_MARKER = re.compile(r"\s*(?:\(?\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]\s*$")

# Words that carry no topic: matching them says nothing about relevance.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our out over own same
    she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours describe explain tell list give""".split()
)


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
