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


def test_wrapped_paragraph_lines_are_one_line_but_tables_code_and_lists_keep_theirs() -> None:
    doc = ("# Deploy\nDeploy the stack with the CDK once your\ncredentials are set; it takes\nabout five minutes.\n\n"
           "- first item wraps\n  onto a second line\n- second item\n\n"
           "| key | value |\n| --- | --- |\n| a | 1 |\n\n```sh\nmake install\nmake run\n```\n")
    lines = split_sections(doc)[0].text.split("\n")
    assert "Deploy the stack with the CDK once your credentials are set; it takes about five minutes." in lines
    assert "- first item wraps onto a second line" in lines and "- second item" in lines
    assert "| --- | --- |" in lines and "| a | 1 |" in lines
    assert "make install" in lines and "make run" in lines
