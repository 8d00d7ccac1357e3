"""Text to keyword terms, the same for every keyword index (SQLite FTS5 locally, the
in-memory BM25 on AWS), so both rank alike.

- Latin-script words: lower-cased, English stop words dropped, Snowball-stemmed
  ("architectures" -> "architectur"), which measurably helps BM25 (docs/BENCHMARKS.md).
- Hangul: Korean glues particles and endings to nouns ("트러스트의", "트러스트를"), so a
  word never matches another form of itself. Overlapping character bigrams
  ("트러 러스 스트 트의") match across forms without a morphological analyser; a one-syllable
  word is kept whole.
- Other scripts and digits: the word as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .language import HANGUL_RUN

#: Changes whenever keyword_terms gives other terms for the same text: the stores keep the
#: terms they computed at index time and re-derive them when this differs.
TERMS_VERSION = "1"

_TOKEN = re.compile(r"[\uac00-\ud7a3]+|[^\W_]+", re.UNICODE)
_LATIN = re.compile(r"[a-z]+")

# Words that carry no topic: matching them says nothing about relevance.
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before
    being between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself
    just me more most my no nor not now of off on once only or other our out over own same
    she should so some such than that the their them then there these they this those
    through to too under until up very was we were what when where which while who whom why
    will with would you your yours describe explain tell list give""".split()
)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer  # PyStemmer: Snowball in C

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def keyword_terms(text: str) -> list[str]:
    terms: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        if HANGUL_RUN.fullmatch(token):
            if len(token) == 1:
                terms.append(token)
            else:
                terms.extend(token[i : i + 2] for i in range(len(token) - 1))
        elif token in STOPWORDS:
            continue
        elif _LATIN.fullmatch(token):
            terms.append(_stem(token))
        else:
            terms.append(token)
    return terms


def keyword_text(text: str) -> str:
    """The terms as one space-separated string, for an index that splits on spaces."""
    return " ".join(keyword_terms(text))


# Interrogative endings carry no topic ("가능한가요" asks about "가능"); left in, their
# bigrams ("한가", "가요") make every question look half unanswered.
_KOREAN_QUESTION_ENDING = re.compile(
    r"(?<=[\uac00-\ud7a3])(?:인가요|한가요|하나요|되나요|있나요|없나요|할까요|일까요|습니까|입니까|나요|가요|까요|니까|는지요?|죠)(?=[\s?？.!]*$|\s)"
)


def without_question_endings(question: str) -> str:
    """The question with its Korean interrogative endings removed."""
    return _KOREAN_QUESTION_ENDING.sub("", question)


def question_terms(question: str) -> list[str]:
    """keyword_terms of a question without its interrogative endings (Korean)."""
    return keyword_terms(without_question_endings(question))
