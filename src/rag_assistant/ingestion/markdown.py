"""Markdown into sections that remember their heading path ("Guide > Install > Linux")."""

from __future__ import annotations

import re

from ..models import Section

_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.DOTALL)


def split_sections(text: str) -> list[Section]:
    from markdown_it import MarkdownIt  # CommonMark: headings inside code fences are not headings

    text = _FRONT_MATTER.sub("", text.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    lines = text.split("\n")
    tokens = MarkdownIt("commonmark").parse(text)

    headings: list[tuple[int, int, int, str]] = []  # (start line, end line, level, title)
    for i, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            headings.append((token.map[0], token.map[1], int(token.tag[1]), title))

    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    cursor = 0
    current_heading: str | None = None
    for start, end, level, title in headings:
        _append(sections, lines[cursor:start], current_heading)
        path = [(lvl, t) for lvl, t in path if lvl < level] + [(level, title)]
        current_heading = " > ".join(t for _, t in path if t) or None
        cursor = end
    _append(sections, lines[cursor:], current_heading)
    return sections


def _append(sections: list[Section], lines: list[str], heading: str | None) -> None:
    body = "\n".join(lines).strip()
    if body:
        sections.append(Section(text=body, heading=heading))
