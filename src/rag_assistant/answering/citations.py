"""Map the [n] markers of a generated answer back to the sources; drop the ones that point
nowhere (a model citing [7] of five sources), so every marker a reader clicks exists."""

from __future__ import annotations

import re
from dataclasses import dataclass

# [1]  [1, 2]  [1][2]  [1-3] is read as 1 and 3 (models rarely write ranges; never invent 2)
_MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;–-]\s*\d{1,3})*)\s*\]")
# Only from the first space of a run: retried from every space, a long run is quadratic.
_SPACE_BEFORE_PUNCTUATION = re.compile(r"(?<![ \t])[ \t]+([.,;:!?])")


@dataclass(frozen=True, slots=True)
class ResolvedCitations:
    text: str
    cited: tuple[int, ...]  # valid source numbers, in order of first use
    dropped: tuple[int, ...]  # numbers that matched no source


def resolve_citations(text: str, source_count: int) -> ResolvedCitations:
    cited: list[int] = []
    dropped: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        valid = [n for n in numbers if 1 <= n <= source_count]
        dropped.extend(n for n in numbers if n not in valid)
        for n in valid:
            if n not in cited:
                cited.append(n)
        return "".join(f"[{n}]" for n in dict.fromkeys(valid))

    cleaned = _MARKER.sub(replace, text)
    cleaned = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", cleaned)  # "fact ." after a dropped marker
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return ResolvedCitations(cleaned, tuple(cited), tuple(dict.fromkeys(dropped)))
