from rag_assistant.ingestion.markdown import split_sections

DOC = """---
title: Guide
---
Intro before any heading.

# Install
Run the installer.

## Linux
Use the package.

```sh
# not a heading inside a code fence
make install
```

## macOS
Use brew.

# Usage
Ask questions.

Setext Heading
--------------
Under setext.
"""


def test_sections_carry_their_heading_path() -> None:
    sections = split_sections(DOC)
    assert [(s.heading, s.text.splitlines()[0]) for s in sections] == [
        (None, "Intro before any heading."),
        ("Install", "Run the installer."),
        ("Install > Linux", "Use the package."),
        ("Install > macOS", "Use brew."),
        ("Usage", "Ask questions."),
        ("Usage > Setext Heading", "Under setext."),
    ]
    linux = sections[2].text
    assert "# not a heading inside a code fence" in linux and "make install" in linux


def test_front_matter_is_not_content() -> None:
    assert all("title: Guide" not in s.text for s in split_sections(DOC))


def test_plain_text_without_headings_is_one_section() -> None:
    assert [s.heading for s in split_sections("just text\n\nmore text")] == [None]


def test_html_comments_are_not_content_but_code_keeps_them() -> None:
    doc = ("# Deploy\n<!-- bench_aws:start -->\nRun `make deploy` to deploy the stack. <!-- inline\nnote -->Then wait.\n"
           "<!-- bench_aws:end -->\n\n## Example\n```html\n<!-- kept: this is the example -->\n```\n"
           "# Heading after\nText. <!-- never closed")
    sections = split_sections(doc)
    text = "\n".join(s.text for s in sections)
    assert "bench_aws" not in text and "inline" not in text and "note" not in text
    assert "Run `make deploy` to deploy the stack." in text and "Then wait." in text
    assert "<!-- kept: this is the example -->" in text
    # Line numbers hold: the headings after a multi-line comment are still found.
    assert [s.heading for s in sections] == ["Deploy", "Deploy > Example", "Heading after"]
    assert sections[-1].text == "Text. <!-- never closed"
