from rag_assistant.ingestion.cleaning import clean_text, remove_repeated_margins


def test_control_characters_and_zero_width_marks_are_removed() -> None:
    assert clean_text("a\x00b\x07c\u200bd\ufeffe\x1bf") == "abcdef"


def test_hyphenation_across_line_breaks_is_joined_but_real_compounds_are_kept() -> None:
    assert clean_text("manage-\nment of keys") == "management of keys"
    assert clean_text("the Zero-\nTrust model") == "the Zero-\nTrust model"
    assert clean_text("micro\ufffe\nsegmentation and pre\u00adcondition") == "microsegmentation and precondition"


def test_layout_wraps_are_joined_and_paragraph_breaks_kept() -> None:
    raw = "First line wraps \r\nhere.\r\n\r\n\r\nSecond   paragraph\t text.\r\n- item one\r\n- item two"
    assert clean_text(raw, soft_wrapped_lines=True) == (
        "First line wraps here.\n\nSecond paragraph text.\n- item one\n- item two"
    )


def test_table_of_contents_lines_are_dropped() -> None:
    raw = "Table of Contents\n1 Introduction ........ 1\n2.1 Tenets of Zero Trust . . . . . 6\nBody text."
    assert clean_text(raw) == "Table of Contents\nBody text."


def test_ligatures_and_decomposed_hangul_are_normalized() -> None:
    decomposed = "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165"  # 한국어 as jamo
    assert clean_text(f"\ufb01le {decomposed}") == "file 한국어"


def test_repeated_headers_footers_and_page_numbers_are_removed() -> None:
    bodies = [[f"Line {k} of page {word}, with its own words {word * k}." for k in range(8)]
              for word in ("alpha", "bravo", "charlie", "delta", "echo")]
    pages = [
        "\n".join(["NIST SP 800-207 ZERO TRUST", "This publication is available free of charge", *body, str(n)])
        for n, body in enumerate(bodies, start=1)
    ]
    cleaned = remove_repeated_margins(pages)
    assert cleaned == ["\n".join(body) for body in bodies]


def test_margins_are_kept_when_there_are_too_few_pages_to_tell() -> None:
    pages = ["Header\nContent one.", "Header\nContent two."]
    assert remove_repeated_margins(pages) == pages


def test_a_line_repeated_in_the_middle_of_pages_is_content() -> None:
    pages = [f"Top {n}\na\nb\nc\nRepeated sentence in the body.\nd\ne\nf\nEnd {n}" for n in range(4)]
    assert all("Repeated sentence in the body." in p for p in remove_repeated_margins(pages))


def test_a_document_with_one_line_on_every_page_keeps_that_line_once() -> None:
    pages = ["Quarterly all-hands: bring questions", "Quarterly all-hands: bring questions\n2",
             "Quarterly all-hands: bring questions\n3", "\n"]
    cleaned = remove_repeated_margins(pages)
    assert cleaned[0] == "Quarterly all-hands: bring questions"
    assert [p for p in cleaned[1:] if p.strip()] == []


def test_dot_leaders_and_page_numbers_are_still_recognised_in_their_linear_forms() -> None:
    raw = "Contents\nIntro . . . . 3\nAnnex....iv\nA sentence ends here.... and goes on 4 ways.\nBody."
    assert clean_text(raw) == "Contents\nA sentence ends here.... and goes on 4 ways.\nBody."
    pages = [f"Body of page {n} with words.\nMore words {n}.\nAnd more.\n- {n} -" for n in range(1, 5)]
    assert all("- " not in p for p in remove_repeated_margins(pages))
