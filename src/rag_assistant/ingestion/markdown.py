"""Markdown into sections that remember their heading path ("Guide > Install > Linux")."""

from __future__ import annotations

import re

from ..models import Section

_FRONT_MATTER = re.compile(r"\A---\n.*?\n(?:---|\.\.\.)\n", re.DOTALL)


def split_sections(text: str) -> list[Section]:
    from markdown_it import MarkdownIt  # CommonMark: headings inside code fences are not headings

    text = _FRONT_MATTER.sub("", text.replace("\r\n", "\n").replace("\r", "\n"), count=1)
    tokens = MarkdownIt("commonmark").parse(text)
    code_lines = {n for t in tokens if t.type in ("fence", "code_block") and t.map for n in range(*t.map)}
    lines = drop_html_comments(text, code_lines).split("\n")
    # A paragraph's source lines are wrapped for the editor, not for the reader (CommonMark
    # reads a line break inside a paragraph as a space): joined, a sentence stays whole for
    # the chunker and for the answers that quote it. Pipe tables keep their rows.
    for token in tokens:
        if token.type == "paragraph_open" and token.map and token.map[1] - token.map[0] > 1:
            start, end = token.map
            if not any(lines[n].lstrip().startswith("|") for n in range(start, end)):
                lines[start] = " ".join(lines[n].strip() for n in range(start, end) if lines[n].strip())
                for n in range(start + 1, end):
                    lines[n] = _JOINED

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


_JOINED = "\x00joined"  # marks a line moved into the one before it (compared by identity)


def _append(sections: list[Section], lines: list[str], heading: str | None) -> None:
    body = "\n".join(line for line in lines if line is not _JOINED).strip()
    if body:
        sections.append(Section(text=body, heading=heading))


def drop_html_comments(text: str, keep_lines: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    """`<!-- ... -->` removed (build markers, editor notes: not content, and a reader never
    sees them rendered), each replaced by the line breaks it spanned so line numbers hold.
    Comments starting on a line of `keep_lines` (code, where they are the example) stay, and
    so does an unterminated "<!--" (text is never dropped on a guess). One pass, linear."""
    parts: list[str] = []
    cursor = line = 0
    while (start := text.find("<!--", cursor)) >= 0:
        end = text.find("-->", start + 4)
        if end < 0:
            break
        end += 3
        line += text.count("\n", cursor, start)
        breaks = text.count("\n", start, end)
        parts.append(text[cursor:start] if line not in keep_lines else text[cursor:end])
        if line not in keep_lines:
            parts.append("\n" * breaks)
        line += breaks
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)
