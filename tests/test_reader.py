"""The sentence reader (answering/reader.py) on its real weights: built from the MiniLM package
and the trained layers the project ships, read through onnxruntime (no torch), and how the
extractive answerer uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SUPER_BOWL = [
    "The American Football Conference (AFC) champion Denver Broncos defeated the National Football Conference "
    "(NFC) champion Carolina Panthers 24–10 to earn their third Super Bowl title.",
    "The game was played on February 7, 2016, at Levi's Stadium in the San Francisco Bay Area at Santa Clara, "
    "California.",
    "As this was the 50th Super Bowl, the league emphasized the golden anniversary with various gold-themed "
    "initiatives.",
]


@pytest.mark.parametrize(("question", "answer_at"), [
    ("Which NFL team won Super Bowl 50?", 0),
    ("Where was Super Bowl 50 played?", 1),
    ("On what date was Super Bowl 50 played?", 1),
    ("What color was used to emphasize the 50th anniversary of the Super Bowl?", 2),
])
def test_the_reader_ranks_the_sentence_that_answers_first(sentence_reader, question: str, answer_at: int) -> None:
    # Every sentence names the Super Bowl: the words alone do not tell which one answers.
    readings = sentence_reader.read(question, SUPER_BOWL)
    assert max(range(len(readings)), key=readings.__getitem__) == answer_at, readings


def test_the_reader_says_no_to_an_on_topic_sentence_that_does_not_answer(sentence_reader) -> None:
    answering, on_topic = sentence_reader.read("Who won Super Bowl 50?", [SUPER_BOWL[0], SUPER_BOWL[2]])
    assert answering > 0 > on_topic, (answering, on_topic)


def test_questions_and_sentences_past_the_token_budget_are_read(sentence_reader) -> None:
    """The API takes questions far longer than the reader's 128 tokens; they are cut, not refused."""
    from rag_assistant.api.schemas import MAX_QUESTION_CHARS

    question = ("Which NFL team won Super Bowl 50 " * 200)[:MAX_QUESTION_CHARS]
    readings = sentence_reader.read(question, [SUPER_BOWL[0], "word " * 400, ""])
    assert len(readings) == 3 and all(isinstance(r, float) for r in readings)


def test_int8_and_fp32_builds_read_alike(tmp_path: Path, sentence_reader) -> None:
    """The int8 build (the default and Lambda's) keeps the fp32 build's choices."""
    from rag_assistant.answering.reader import OnnxSentenceReader, export_reader
    from rag_assistant.embedding import minilm

    fp32 = OnnxSentenceReader(lambda: export_reader(tmp_path / "fp32", minilm.model_dir(), quantize=False))
    for question in ("Which NFL team won Super Bowl 50?", "Where was Super Bowl 50 played?"):
        full, small = fp32.read(question, SUPER_BOWL), sentence_reader.read(question, SUPER_BOWL)
        assert max(range(3), key=full.__getitem__) == max(range(3), key=small.__getitem__)
        assert max(abs(a - b) for a, b in zip(full, small, strict=True)) < 1.0, (full, small)
    manifest = json.loads((tmp_path / "fp32" / "reader.json").read_text())
    assert manifest["quantization"] == "fp32" and len(manifest["head"]) == minilm.DIMENSION


def test_a_folder_that_is_not_a_reader_is_refused_by_name(tmp_path: Path) -> None:
    from rag_assistant.answering.reader import OnnxSentenceReader
    from rag_assistant.errors import ConfigurationError

    (tmp_path / "reader.json").write_text(json.dumps({"name": "someone/else", "head": [1.0], "bias": 0}))
    with pytest.raises(ConfigurationError, match="not a sentence reader folder"):
        OnnxSentenceReader(lambda: tmp_path).read("q", ["s"])


# --- the answerer with the reader -------------------------------------------------------------

def _hits(*texts: str):
    from rag_assistant.models import Chunk, SearchHit

    return [SearchHit(Chunk(f"d{n}:v1:{n:05d}", f"d{n}", n, text), f"doc{n}.md", 1.0 - n / 10)
            for n, text in enumerate(texts)]


class _CountingReader:
    """The real reader, counting the sentences it reads (a spy, not a fake)."""

    def __init__(self, reader) -> None:
        self.reader, self.name, self.sentences = reader, reader.name, 0

    def read(self, question, sentences):
        self.sentences += len(sentences)
        return self.reader.read(question, sentences)


WAGES = ("Competition amongst employers tends to drive up wages due to the nature of the job, since there is a "
         "relative shortage of workers for the particular position. Members may also receive higher wages through "
         "collective bargaining, political influence, or corruption.")


def test_the_reader_declines_passages_on_the_topic_that_do_not_answer(sentence_reader) -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    # Every word but "sang" and "anthem" is in the passage: the words quote the winner.
    question, hits = "Who sang the national anthem at Super Bowl 50?", _hits(" ".join(SUPER_BOWL))
    assert ExtractiveAnswerer().generate(question, hits).answered
    assert not ExtractiveAnswerer(reader=sentence_reader).generate(question, hits).answered


def test_the_reader_picks_the_answer_among_sentences_that_all_name_the_topic(sentence_reader) -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    hits = _hits(" ".join(SUPER_BOWL[1:]), SUPER_BOWL[0])
    question = "Which team won Super Bowl 50?"
    # The words put the best-ranked source's "50th Super Bowl" sentence first; the reader reads who won.
    winner = SUPER_BOWL[0][:40]
    assert not ExtractiveAnswerer().generate(question, hits).text.startswith(winner)
    answer = ExtractiveAnswerer(reader=sentence_reader).generate(question, hits)
    assert answer.answered and answer.text.startswith(winner), answer.text


def test_the_reader_is_asked_only_where_it_can_change_the_answer(sentence_reader) -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    reader = _CountingReader(sentence_reader)
    answerer = ExtractiveAnswerer(reader=reader)
    # Korean: MiniLM reads no Hangul.
    assert answerer.generate("재택근무는 일주일에 몇 번 가능한가요?", _hits("재택근무는 주 2회까지 허용된다.")).answered
    # Every word of the question held: the words answer alone, whatever the reader would say.
    assert answerer.generate("What drives up wages amongst employers?", _hits(WAGES)).answered
    assert reader.sentences == 0
    # Some words missing: the reader reads the best sentences (here all three).
    answerer.generate("Who sang the national anthem at Super Bowl 50?", _hits(" ".join(SUPER_BOWL)))
    assert reader.sentences == 3


def test_instructions_answer_how_to_questions_without_the_reader(sentence_reader) -> None:
    """The reader learnt from Wikipedia facts and reads an instruction as a non-answer; a team's
    runbook is made of them."""
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    hits = _hits("# Canary\nShift one percent of traffic to the canary first.",
                 "# Rollback\nRedeploy the previous version to roll back.")
    assert sentence_reader.read("How do I roll out a canary?", ["Shift one percent of traffic to the canary first."])[0] < 0
    answer = ExtractiveAnswerer(reader=sentence_reader).generate("How do I roll out a canary?", hits)
    assert answer.answered and answer.text.startswith("Shift one percent of traffic"), answer.text


def test_the_service_builds_the_reader_unless_turned_off(settings) -> None:
    from rag_assistant.bootstrap import create_reader

    assert create_reader(settings) is None  # the fast-lane settings turn it off
    on = settings.model_copy(update={"sentence_reader": True})
    assert create_reader(on) is not None
    # An exported model folder without the reader (exported before it existed): words alone.
    bare = settings.model_copy(update={"sentence_reader": True, "embedding_model_dir": settings.cache_dir / "none"})
    assert create_reader(bare) is None
