import itertools
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag_assistant.embedding.hashing import HashingEmbedder
from rag_assistant.ingestion.chunking import chunk_sections, split_spans
from rag_assistant.models import Section
from rag_assistant.text.sentences import split_sentences


class CharCounter:
    """One token per character: forces the character-level fallback on long words."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t) for t in texts]


WORDS = HashingEmbedder()
COUNTERS = {"words": WORDS, "chars": CharCounter()}

# Text with the boundaries the chunker cares about: paragraphs, lines, sentences, words,
# runs without spaces, Korean, and odd whitespace.
pieces = st.one_of(
    st.text(min_size=0, max_size=40),
    st.sampled_from(
        ["\n\n", "\n", ". ", "? ", "! ", " ", "\t", "다. ", "제로 트러스트는", "supercalifragilistic" * 5,
         "Zero trust.", "1. ", "tenets:", "\u3000", "…"]
    ),
)
texts = st.lists(pieces, max_size=60).map("".join)


def check_spans(text: str, counter, max_tokens: int, overlap: int) -> None:
    spans = split_spans(text, counter, max_tokens, overlap)
    if not text:
        assert spans == []
        return
    assert spans[0].start == 0 and spans[-1].end == len(text)
    for span in spans:
        assert span.start < span.end
        assert counter.count_tokens([text[span.start : span.end]])[0] <= max_tokens
    for prev, nxt in itertools.pairwise(spans):
        assert prev.start < nxt.start and prev.end < nxt.end  # progress, no duplicates
        assert nxt.start <= prev.end  # nothing lost between chunks
        if nxt.start < prev.end:
            shared = text[nxt.start : prev.end]
            assert counter.count_tokens([shared])[0] <= overlap


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=texts,
    counter_name=st.sampled_from(sorted(COUNTERS)),
    max_tokens=st.integers(min_value=1, max_value=64),
    data=st.data(),
)
def test_spans_cover_the_text_within_budget_and_overlap(text, counter_name, max_tokens, data) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=max_tokens - 1))
    check_spans(text, COUNTERS[counter_name], max_tokens, overlap)


@settings(max_examples=40, deadline=None)
@given(text=texts, max_tokens=st.integers(min_value=8, max_value=120), data=st.data())
def test_spans_hold_with_the_real_tokenizer(minilm, text, max_tokens, data) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=max_tokens // 2))
    check_spans(text, minilm, max_tokens, overlap)


@pytest.mark.parametrize(
    "text",
    ["x" * 5000, "가" * 3000, ("word " * 2000).strip(), "\n" * 500, " " * 100 + "end", "a.b.c." * 400],
)
def test_pathological_inputs_terminate_and_cover(text: str) -> None:
    for counter in COUNTERS.values():
        check_spans(text, counter, 16, 4)


def test_invalid_budgets_are_rejected() -> None:
    with pytest.raises(ValueError):
        split_spans("text", WORDS, 0)
    with pytest.raises(ValueError):
        split_spans("text", WORDS, 10, 10)


def test_chunks_prefer_paragraph_boundaries() -> None:
    para_a = " ".join([f"Alpha sentence number {i}." for i in range(8)])
    para_b = " ".join([f"Bravo sentence number {i}." for i in range(8)])
    text = f"{para_a}\n\n{para_b}"
    spans = split_spans(text, WORDS, 60, 0)
    assert [text[s.start : s.end].strip() for s in spans] == [para_a, para_b]


def test_list_introduction_stays_with_its_list() -> None:
    intro = "Filler sentence. " * 20 + "The system follows these tenets:"
    items = "\n".join(f"{i}. Item number {i} of the list." for i in range(1, 4))
    text = f"{intro}\n{items}"
    spans = split_spans(text, WORDS, 120, 0)
    assert any("tenets:" in text[s.start : s.end] and "1. Item" in text[s.start : s.end] for s in spans)


def test_chunk_ids_are_deterministic_and_pages_tracked() -> None:
    sections = [Section(text=f"Page {n} text. " * 30, page=n) for n in range(1, 4)]
    first = chunk_sections("doc_x", "abcdef0123456789", sections, WORDS, 50, 10)
    again = chunk_sections("doc_x", "abcdef0123456789", sections, WORDS, 50, 10)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in again]
    assert first[0].chunk_id == "doc_x:abcdef012345:00000"
    assert first[0].page == 1 and first[-1].page_end == 3
    spanning = [c for c in first if c.page != c.page_end]
    assert spanning, "a chunk running across a page break keeps both page numbers"
    for c in first:
        assert f"Page {c.page} text." in c.text


def test_heading_budget_keeps_chunks_inside_the_model_window() -> None:
    heading = "Very " * 20 + "Long Heading"
    sections = [Section(text="Body sentence here. " * 100, heading=heading)]
    chunks = chunk_sections("d", "v" * 12, sections, WORDS, 40, 5)
    for c in chunks:
        assert WORDS.count_tokens([c.embedding_text()])[0] <= 40
        assert c.heading == heading


KOREAN_SENTENCES = [
    "제로 트러스트는 네트워크 위치만으로 암묵적 신뢰를 부여하지 않는 보안 모델입니다.",
    "모든 접근 요청은 세션마다 인증과 인가를 거친 뒤에만 허용됩니다.",
    "정책 결정 지점은 주체의 신원과 장치 상태를 함께 평가합니다.",
    "기업의 자산과 서비스는 위치와 관계없이 동일한 방식으로 보호됩니다.",
    "접근 권한은 작업에 필요한 최소한으로 제한되어야 합니다.",
    "모든 통신은 네트워크 위치와 관계없이 암호화되어야 합니다.",
]


def test_korean_chunks_hold_a_paragraph_with_a_model_that_cannot_read_hangul(minilm) -> None:
    # MiniLM splits each syllable into jamo (~1.4 tokens each): counted its way, a 200-token
    # budget cut this 300-character paragraph into two chunks, the cut mid-sentence.
    text = " ".join(KOREAN_SENTENCES * 2)
    assert minilm.count_tokens([text])[0] > 200
    chunks = chunk_sections("doc", "v1", [Section(text=text)], minilm, 200, 32)
    assert len(chunks) == 1 and chunks[0].text == text
    longer = "\n\n".join(" ".join(KOREAN_SENTENCES) for _ in range(6))
    chunks = chunk_sections("doc", "v1", [Section(text=longer)], minilm, 200, 32)
    assert len(chunks) > 1
    sentences = set(KOREAN_SENTENCES)
    for chunk in chunks:
        # Every chunk is whole sentences: none starts or ends inside one.
        assert set(split_sentences(chunk.text)) <= sentences, chunk.text
        assert 250 <= len(chunk.text) <= 1000


def test_the_budget_counts_hangul_by_syllables_only_for_a_model_that_cannot_read_it(minilm) -> None:
    from rag_assistant.ingestion.chunking import budget_counter

    counter = budget_counter(minilm)
    assert counter.count_tokens(["가나다라"]) == [2]  # two syllables a token
    english = "Zero trust grants no implicit trust."
    assert counter.count_tokens([english]) == minilm.count_tokens([english])
    assert budget_counter(WORDS) is WORDS  # a counter that does not say it cannot read Hangul is trusted


class OneTokenPerWord:
    """What a WordPiece tokenizer does with an over-long word: one [UNK], whatever its length."""

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(t.split()) for t in texts]


@pytest.mark.parametrize("text", [
    "a" * 100_000,  # a 100 KB "one-token" word
    ("x" * 5_000 + " ") * 20,  # long words between spaces
    "short words here. " * 50 + "y" * 30_000 + " and more words after it.",
], ids=["one-run", "long-words", "mixed"])
def test_chunks_are_bounded_in_characters_whatever_the_tokenizer_says(text: str) -> None:
    spans = split_spans(text, OneTokenPerWord(), 200, 32)
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(span.end - span.start <= 200 * 8 for span in spans)
    assert all(b.start <= a.end and b.start > a.start for a, b in zip(spans, spans[1:], strict=False))
    chunks = chunk_sections("doc", "v" * 12, [Section(text=text, page=1)], OneTokenPerWord(), 200, 32)
    assert max(len(c.text) for c in chunks) <= 1_600
    assert "".join(c.text for c in chunks).count("short words") >= text.count("short words")  # nothing lost


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, max_chars=st.integers(8, 300))
def test_spans_respect_an_explicit_character_cap(text: str, max_chars: int) -> None:
    spans = split_spans(text, WORDS, 50, 8, max_chars=max_chars)
    if text:
        assert spans[0].start == 0 and spans[-1].end == len(text)
        assert all(s.end - s.start <= max_chars for s in spans)
        assert all(a.end >= b.start for a, b in zip(spans, spans[1:], strict=False))  # no gap
