"""Every answer generator passes tests/answerer_contract.py: the extractive answerer (the
offline default, on the real model) and the LLM answerer (protocol test: the official
OpenAI SDK against tests/openai_wire.py)."""

from __future__ import annotations

import pytest
from answerer_contract import AnswerGeneratorContract
from openai_wire import Script, openai_wire_server


class TestExtractiveAnswerer(AnswerGeneratorContract):
    @pytest.fixture()
    def answerer(self):
        from rag_assistant.answering.extractive import ExtractiveAnswerer

        return ExtractiveAnswerer()


class TestOpenAIAnswererProtocolContract(AnswerGeneratorContract):
    @pytest.fixture()
    def answerer(self):
        from rag_assistant.answering.extractive import ExtractiveAnswerer
        from rag_assistant.answering.llm import LlmAnswerer
        from rag_assistant.answering.openai_chat import OpenAIChat

        script = Script(reply="No: zero trust grants no implicit trust based on network location [1].")
        with openai_wire_server(script) as url:
            chat = OpenAIChat(provider="openai", model="gpt-4o-mini", api_key="sk-test-not-real", base_url=url,
                              temperature=0.1, max_tokens=300, timeout=5.0, max_retries=0)
            yield LlmAnswerer(chat, ExtractiveAnswerer())


# --- what the extractive answerer quotes ----------------------------------------------------

def _hits(*texts: str, heading: str | None = None):
    from rag_assistant.models import Chunk, SearchHit

    return [SearchHit(Chunk(f"d{n}:v1:{n:05d}", f"d{n}", n, text, heading=heading), f"doc{n}.md", 1.0 - n / 10)
            for n, text in enumerate(texts)]


DEPLOY = ("Deploy the stack with the CDK from the infrastructure folder once your AWS credentials are set.\n"
          "cd infrastructure/cdk && npx cdk deploy RagServerlessStack\n"
          "API_URL=$(aws cloudformation describe-stacks --stack-name RagServerlessStack \\\n"
          "| Output | Value |\n| --- | --- |\n"
          "<!-- bench_aws:end --> The stack deploys in about five minutes.")


def test_prose_is_quoted_not_shell_lines_or_markup() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    answer = ExtractiveAnswerer().generate("How do I deploy the stack to AWS?", _hits(DEPLOY))
    assert answer.answered
    assert answer.text.startswith("Deploy the stack with the CDK")
    for debris in ("$(", "npx", "| ---", "<!--", "\\"):
        assert debris not in answer.text


def test_technical_prose_with_inline_code_is_quoted() -> None:
    """READMEs name commands and variables in backticks: the sentence is still prose (the
    first question a user asks of this project's own docs was declined for it)."""
    from rag_assistant.answering.extractive import ExtractiveAnswerer, is_prose

    assert is_prose("`make test` runs every test on real parts and stops the emulators afterwards.")
    assert not is_prose("cd infrastructure/cdk && npx cdk deploy RagServerlessStack")
    hits = _hits("`make test` installs the test tools and runs every test, the same command CI runs.",
                 "The cafeteria opens at eight.")
    answer = ExtractiveAnswerer().generate("How do I run the tests?", hits)
    assert answer.answered and answer.text.startswith("`make test` installs the test tools")


def test_a_documents_own_reference_marks_are_not_shown_as_citations() -> None:
    """"... at two o'clock [2]." quoted as is would read as a citation of source 2."""
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    hits = _hits("The nightly backup of the file servers runs at 02:00 every day [2], as the retention "
                 "policy [3, 4] requires.", "The cafeteria opens at eight.")
    answer = ExtractiveAnswerer().generate("When does the nightly backup of the file servers run?", hits)
    assert answer.answered and answer.cited == (1,)
    assert answer.text == "The nightly backup of the file servers runs at 02:00 every day, as the retention policy requires. [1]"
    assert "[2]" in answer.quotes[1]  # the quote itself stays verbatim: the page finds it in the source


def test_a_question_about_the_command_gets_the_command() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    answer = ExtractiveAnswerer().generate("Which command deploys the RagServerlessStack with npx cdk?", _hits(DEPLOY))
    assert answer.answered and "npx cdk deploy RagServerlessStack" in answer.text


def test_a_fragment_is_never_quoted_first() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    chunk = ("Zero trust tenets network location trust\n"
             "Zero trust grants no implicit trust to assets based on their network location alone.")
    answer = ExtractiveAnswerer().generate("Does zero trust grant trust based on network location?", _hits(chunk))
    assert answer.answered and answer.text.startswith("Zero trust grants no implicit trust")


def test_the_sentence_that_answers_wins_over_the_one_that_names_the_topic() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    chunk = ("The Bell Rock Lighthouse, off the coast of Angus, Scotland, is the oldest surviving sea-washed "
             "lighthouse in the world. It was built between 1807 and 1810 by Robert Stevenson.")
    answer = ExtractiveAnswerer().generate("Who built the Bell Rock Lighthouse?", _hits(chunk))
    assert answer.answered and "Robert Stevenson" in answer.text


def test_a_long_sentence_is_cut_to_the_clauses_that_answer() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    sentence = ("After a long campaign across the northern provinces, during which the army lost many of its horses "
                "to the winter, the Jin capital of Zhongdu was captured in 1215 by Genghis Khan, who left a garrison "
                "there, and the court fled south to Kaifeng, where it remained for another two decades.")
    answer = ExtractiveAnswerer().generate("When did Genghis Khan capture the Jin capital?", _hits(sentence))
    assert answer.answered and "1215" in answer.text
    assert len(answer.text) < len(sentence) * 0.75
    quote = answer.quotes[1]
    assert quote in sentence  # still quoted verbatim


def test_a_passage_on_the_topic_that_lacks_the_question_is_declined() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    # About the same lighthouse, but nothing about who designed its lens or when.
    chunk = ("The Bell Rock Lighthouse, off the coast of Angus, Scotland, is the oldest surviving sea-washed "
             "lighthouse in the world. Its light can be seen from 35 miles away.")
    answer = ExtractiveAnswerer().generate("Which Parisian optician designed the Fresnel lens of the Cordouan "
                                           "lighthouse in 1823?", _hits(chunk))
    assert not answer.answered


def test_korean_answer_quotes_the_sentence_with_the_answer() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    chunk = ("재택근무 정책은 2023년에 개정되었다. 재택근무는 주 2회까지 허용되며 회사가 지급한 노트북을 사용해야 한다. "
             "공용 와이파이에서는 업무 시스템에 접속할 수 없다.")
    answerer = ExtractiveAnswerer()
    answer = answerer.generate("재택근무는 일주일에 몇 번 가능한가요?", _hits(chunk))
    assert answer.answered and answer.text.startswith("재택근무는 주 2회까지 허용되며")
    assert "와이파이" not in answer.text
    wifi = answerer.generate("공용 와이파이에서 업무 시스템에 접속할 수 있나요?", _hits(chunk))
    assert wifi.answered and "접속할 수 없다" in wifi.text
    assert not answerer.generate("회사 주차장은 몇 층에 있나요?", _hits(chunk)).answered


def test_a_date_before_the_question_words_stays_in_the_trimmed_quote() -> None:
    from rag_assistant.answering.extractive import ExtractiveAnswerer

    sentence = ("On October 6, 2004, a joint Japanese-Mongolian archaeological dig uncovered what is believed to be "
                "Genghis Khan's palace in rural Mongolia, which raises the possibility of actually locating the "
                "ruler's long-lost burial site.")
    answer = ExtractiveAnswerer().generate("On which date was Genghis Khan's palace uncovered?", _hits(sentence))
    assert answer.answered and "October 6, 2004" in answer.text
    assert answer.quotes[1] in sentence


