"""File names are shown to people: they must look like what they are."""

import hashlib

import pytest

from rag_assistant.sources import clean_file_name, upload_source


@pytest.mark.parametrize(("raw", "shown"), [
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # RIGHT-TO-LEFT OVERRIDE: shows as "invoiceexe.pdf"
    ("report\u2066\u2067\u2068\u2069\u200e\u200f\u061c.pdf", "report.pdf"),  # isolates and marks
    ("pay\u200broll\u200c\u200d\u2060\ufeff.txt", "payroll.txt"),  # zero-width look-alikes
    ("보고서 2024 \u200b최종.pdf", "보고서 2024 최종.pdf"),  # Korean kept
    ("\u1112\u1161\u11ab\u1100\u116e\u11a8.md", "한국.md"),  # decomposed Hangul (macOS) joined
    ("../../etc/pass\u0085wd", "pass_wd"),
    ("line\u2028break.md", "line_break.md"),
    ("\u202e\u200b", "upload"),
])
def test_file_names_lose_invisible_and_direction_changing_characters(raw: str, shown: str) -> None:
    assert clean_file_name(raw) == shown


def test_look_alike_upload_names_are_one_document() -> None:
    data = b"# Notes"
    assert upload_source("notes.md", data) == upload_source("no\u200btes.md", b"") == upload_source("\u202dnotes.md", data)


def test_undecodable_upload_names_are_tagged_by_content_not_merged() -> None:
    # Bytes that were not UTF-8 arrive as U+FFFD (multipart) or lone surrogates (a POSIX file
    # name, a JSON escape): different names mangle alike, so the name alone cannot be the identity.
    first, second = upload_source("\ufffd\ufffd.txt", b"one"), upload_source("\udcff\udcfe.txt", b"two")
    assert first != second and first[1].endswith(".txt") and second[1].startswith("\ufffd\ufffd-")
    assert upload_source("\ufffd\ufffd.txt", b"one") == first  # the same file again: the same document
    assert all(not 0xD800 <= ord(ch) <= 0xDFFF for ch in second[1])
    _, long_name = upload_source("\ufffd" * 300 + ".md", b"x")
    assert len(long_name) == 200 and long_name.endswith("-" + hashlib.sha256(b"x").hexdigest()[:10] + ".md")
    assert upload_source("\ufffd", b"x")[1] == "\ufffd-" + hashlib.sha256(b"x").hexdigest()[:10]
    assert clean_file_name("caf\udce9.md") == "caf\ufffd.md"
