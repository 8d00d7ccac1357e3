"""Text processing must take time linear in its input, whatever the input.

One backtracking regex turned a 12 KB upload into a 25 s freeze of the whole server (a
line of dots in the table-of-contents filter). These properties feed the public text
functions generated pathological inputs — long runs of one character, of dots, of
whitespace, of Markdown markers, of sentence ends — at sizes n and 4n in the same run, and
check that the work grows like 4x, not 16x. The functions are called through their public
names, so the check keeps guarding whatever replaces their insides.

Timing is CPU time of this thread, the best of a few runs, and only ever a ratio between
two sizes measured back to back: no absolute time is asserted.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag_assistant.answering.citations import resolve_citations
from rag_assistant.answering.extractive import ExtractiveAnswerer
from rag_assistant.ingestion.chunking import chunk_sections
from rag_assistant.ingestion.cleaning import clean_text, remove_repeated_margins
from rag_assistant.ingestion.markdown import split_sections
from rag_assistant.models import Chunk, SearchHit, Section
from rag_assistant.text.keywords import keyword_terms, question_terms
from rag_assistant.text.sentences import split_sentences

# Tens of seconds of measured runs: the full suite's lane, not `make test-fast`.
pytestmark = pytest.mark.slow

#: Pieces that make regexes and parsers backtrack or nest: dots (table-of-contents
#: leaders), whitespace of every kind, sentence ends, list markers, Markdown syntax,
#: Hangul, soft hyphens, brackets of citations.
ATOMS = [
    ".", ". ", "..", " ", "\t", "\n", "\n\n", " \n", "\u00a0", "\u3000", "-", "-\n", "\u00ad", "\ufffe",
    "#", "# ", ">", "> ", "*", "**", "_", "`", "```", "[", "]", "(", ")", "[1", ",", "1", "1.", "12",
    "iv", "a", "x.", "Page", "가", "다.", "요", "…", "!", "?", "'", "\"", "”", ":", "|", "<", "&", "\\",
    "~", "=", "<!--", "-->", "\u202e", "\u200b", "word ",
]
UNIT = st.lists(st.sampled_from(ATOMS), min_size=1, max_size=4).map("".join)
EDGE = st.lists(st.sampled_from(ATOMS), max_size=3).map("".join)

#: Growth allowed from n to 4n: linear work is 4x, quadratic 16x; the rest is noise room.
MAX_GROWTH = 8.0
#: The smaller input is made at least this long, and longer until it costs measurable time.
MIN_CHARS = 4_000
MAX_CHARS = 16_000

FUZZ = settings(
    max_examples=5, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _cpu(fn: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.thread_time()
            fn(text)
            best = min(best, time.thread_time() - start)
        finally:
            gc.enable()
    return best


def _make(prefix: str, unit: str, suffix: str, chars: int) -> str:
    return prefix + unit * max(1, chars // len(unit)) + suffix


def assert_linear(
    fn: Callable[[str], object], prefix: str, unit: str, suffix: str, *, min_chars: int = MIN_CHARS
) -> None:
    """fn's CPU time on 4x the input is at most MAX_GROWTH x its time on the input."""
    chars = min_chars
    small_cost = _cpu(fn, _make(prefix, unit, suffix, chars), 1)
    # Grow the input until it costs a millisecond: below that, timer noise dominates. Shrink
    # it while it costs more than 50 ms: a cubic regression would otherwise run for hours
    # before failing. (Times only choose the sizes; the verdict is their ratio.)
    while small_cost < 0.001 and chars < MAX_CHARS:
        chars *= 2
        small_cost = _cpu(fn, _make(prefix, unit, suffix, chars), 1)
    while small_cost > 0.05 and chars > 250:
        chars //= 2
        small_cost = _cpu(fn, _make(prefix, unit, suffix, chars), 1)
    small, large = _make(prefix, unit, suffix, chars), _make(prefix, unit, suffix, 4 * chars)
    for attempt in range(3):  # a busy machine may slow one measurement: measure again
        small_cost = _cpu(fn, small, 3 + attempt)
        large_cost = _cpu(fn, large, 2 + attempt)
        growth = large_cost / max(small_cost, 1e-6)
        if growth <= MAX_GROWTH:
            return
        if growth > 2 * MAX_GROWTH:
            break  # far past what noise explains
    pytest.fail(
        f"{getattr(fn, '__name__', fn)}: {len(small):,} chars took {small_cost * 1000:.1f} ms and "
        f"{len(large):,} chars {large_cost * 1000:.1f} ms ({growth:.1f}x for 4x the input) "
        f"on {prefix!r} + {unit!r} * n + {suffix!r}"
    )


# --- the functions under guard, each taking one string -------------------------------------


def clean_plain(text: str) -> object:
    return clean_text(text)


def clean_pdf_text(text: str) -> object:
    return clean_text(text, soft_wrapped_lines=True)


def margins(text: str) -> object:
    # Five pages that each carry the text (every line an edge line of every page, repeated),
    # and two pages (too few to call anything repeated: each edge line meets the page-number
    # filter).
    return (remove_repeated_margins([text, "x\n" + text, text + "\ny", text, text]),
            remove_repeated_margins([text, text + "\nend"]))


def sentences(text: str) -> object:
    return split_sentences(text)


def keywords(text: str) -> object:
    return keyword_terms(text)


def question_keywords(text: str) -> object:
    return question_terms(text)


def markdown_sections(text: str) -> object:
    return split_sections(text)


@lru_cache(maxsize=1)
def _minilm_tokenizer():
    from tokenizers import Tokenizer

    from rag_assistant.embedding import minilm

    tokenizer = Tokenizer.from_file(str(minilm.model_dir() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


class MiniLMCounter:
    """The real model's tokenizer (one over-long word is one [UNK] token)."""

    def count_tokens(self, texts):
        return [len(e.ids) for e in _minilm_tokenizer().encode_batch(list(texts), add_special_tokens=False)]


def chunks(text: str) -> object:
    return chunk_sections("doc", "v" * 12, [Section(text=text, page=1)], MiniLMCounter(), 200, 32)


def chunks_markdown(text: str) -> object:
    return chunk_sections("doc", "v" * 12, [Section(text=s.text, heading=s.heading) for s in split_sections(text)],
                          MiniLMCounter(), 200, 32)


_ANSWERER = ExtractiveAnswerer(min_relevance=0.0)


#: Each kind of question takes its own path: plain words, a date, a number, a Korean count.
_QUESTIONS = ("what does the gateway policy say about x?", "when was the gateway policy written?",
              "how many gateways does the policy name?", "게이트웨이 정책은 몇 번 바뀌었나요?")


def extractive_answer(text: str) -> object:
    hit = SearchHit(Chunk(chunk_id="doc:1", document_id="doc", index=0, text=text), "doc.txt", 0.9)
    return [_ANSWERER.generate(question, [hit]) for question in _QUESTIONS]


def citations(text: str) -> object:
    return resolve_citations(text, 3)


CLEANERS = [clean_plain, clean_pdf_text, margins]
SPLITTERS = [sentences, keywords, question_keywords, markdown_sections]


@pytest.mark.parametrize("fn", CLEANERS + SPLITTERS, ids=lambda f: f.__name__)
@FUZZ
@given(prefix=EDGE, unit=UNIT, suffix=EDGE)
@example(prefix="", unit=".", suffix="")  # the table-of-contents freeze: a line of dots
@example(prefix="1 Introduction ", unit=".", suffix="\n")
@example(prefix="a", unit=" ", suffix="x")
@example(prefix="page", unit=" ", suffix="x")
@example(prefix="1", unit=" ", suffix="x")  # the page-number filter: cubic before
@example(prefix="", unit="1. ", suffix="")
@example(prefix="", unit=". ", suffix="7")
@example(prefix="가", unit="요?", suffix="x")
def test_text_functions_take_linear_time(fn, prefix: str, unit: str, suffix: str) -> None:
    assert_linear(fn, prefix, unit, suffix)


@pytest.mark.parametrize("fn", [chunks, chunks_markdown], ids=lambda f: f.__name__)
@settings(max_examples=3, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prefix=EDGE, unit=UNIT, suffix=EDGE)
@example(prefix="", unit="a", suffix="")  # one huge word: a single [UNK] token
@example(prefix="", unit="> ", suffix="deep")
@example(prefix="", unit="- ", suffix="list")
@example(prefix="", unit="\n", suffix="x")
def test_chunking_takes_linear_time(fn, prefix: str, unit: str, suffix: str) -> None:
    assert_linear(fn, prefix, unit, suffix)


@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prefix=EDGE, unit=UNIT, suffix=EDGE)
@example(prefix="fact", unit=" ", suffix="x")
@example(prefix="[1", unit=", 2", suffix="")
def test_citation_resolution_takes_linear_time(prefix: str, unit: str, suffix: str) -> None:
    assert_linear(citations, prefix, unit, suffix)


@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(prefix=EDGE, unit=UNIT, suffix=EDGE)
@example(prefix="", unit="1. ", suffix="")
@example(prefix=" ", unit=" ", suffix="a. b.")
@example(prefix="The gateway policy, for x,", unit=" ", suffix="(it says) x.")  # a long sentence cut to clauses
@example(prefix="policy ", unit="1", suffix=" x")  # a run of digits: the date pattern was quadratic
def test_the_extractive_answer_takes_linear_time(prefix: str, unit: str, suffix: str) -> None:
    assert_linear(extractive_answer, prefix, unit, suffix)


def test_the_check_catches_quadratic_work() -> None:
    """The property must be able to fail: a deliberately quadratic function is caught."""
    import re

    quadratic = re.compile(r"[ \t]+([.,;:!?])")  # retried from every space of a run
    with pytest.raises(pytest.fail.Exception, match="for 4x the input"):
        assert_linear(lambda text: quadratic.sub(r"\1", text), "fact", " ", "x", min_chars=1_000)
