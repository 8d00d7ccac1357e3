"""Text to keyword terms, the same for every keyword index (SQLite FTS5 locally, the
in-memory BM25 on AWS), so both rank alike.

- Latin-script words: lower-cased, English stop words dropped, Snowball-stemmed
  ("architectures" -> "architectur"), which measurably helps BM25 (docs/BENCHMARKS.md).
- Hangul: Korean glues particles and endings to nouns ("트러스트의", "트러스트를"), so a
  word never matches another form of itself. Without a morphological analyser (Kiwi is
  144 MiB: it does not fit the Lambda bundles) a word becomes three kinds of term:
  - its stem: the word less one common particle or ending from a short list
    (`korean_stem`: "트러스트의" -> "트러스트"), kept whole with a mark ("#트러스트") so
    that forms of the same word match exactly;
  - the overlapping character bigrams of that stem ("트러 러스 스트"), which match
    compounds and forms the list misses; a one-syllable stem is kept whole;
  - a bigram across the space to the next word (last syllable + first), since Korean
    spacing varies ("지명수배 된" / "지명수배된").
  A run of Hangul is a word of its own when glued to Latin letters or digits ("MVNO의",
  "1937년"), so the particle does not hide the name or number.
  Chosen on KorQuAD's even articles (docs/BENCHMARKS.md, Korean keyword ranking).
- Other scripts and digits: the word as it is.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .language import HANGUL_RUN

#: Changes whenever keyword_terms gives other terms for the same text: the stores keep the
#: terms they computed at index time and re-derive them when this differs.
TERMS_VERSION = "2"

_TOKEN = re.compile(r"[\uac00-\ud7a3]+|[^\W_\uac00-\ud7a3]+", re.UNICODE)
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


# Particles (case, topic, and their compounds) and common verb/copula endings, removed
# from the end of a Hangul word (one, longest first) to give its stem. Short on purpose: a
# one-syllable ending also eats the last syllable of some nouns ("국가" -> "국"), which the
# bigrams of the unstripped forms and the same cut in the question make up for; longer
# lists measured no better (docs/BENCHMARKS.md).
_KOREAN_SUFFIXES = frozenset(
    """에서는 에서도 에게서 에게는 으로는 으로서 으로써 으로도 이라는 이라고 이라 에서 에게 으로
    로서 로써 로는 까지 부터 처럼 보다 마다 이나 이며 이고 이다 이었다 였다 라는 라고 와는 과는
    에는 에도 에의 의 은 는 이 가 을 를 에 와 과 도 만 로 나 며 고 다
    하였다 하였으며 하였고 했다 했으며 했고 한다 하며 하고 하여 해서 하는 하던 한 할
    되었다 되었으며 되어 되는 된 됐다 인 였던 었던 았던 던 습니다 입니다""".split()
)
_SUFFIX_LENGTHS = sorted({len(s) for s in _KOREAN_SUFFIXES}, reverse=True)
#: Marks a Korean stem, so that a two-syllable stem and a bigram stay different terms.
STEM_MARK = "#"


def korean_stem(word: str) -> str:
    """A Hangul word without its longest listed particle or ending (at least one syllable is kept)."""
    for n in _SUFFIX_LENGTHS:
        if len(word) > n and word[-n:] in _KOREAN_SUFFIXES:
            return word[:-n]
    return word


def keyword_terms(text: str) -> list[str]:
    terms: list[str] = []
    text = text.lower()
    previous, previous_end = "", 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if HANGUL_RUN.fullmatch(token):
            stem = korean_stem(token)
            if len(stem) == 1:
                terms.append(stem)
            else:
                terms.extend(stem[i : i + 2] for i in range(len(stem) - 1))
            terms.append(STEM_MARK + stem)
            if previous and text[previous_end : match.start()].isspace():
                terms.append(previous[-1] + token[0])
            previous, previous_end = token, match.end()
            continue
        previous = ""
        if token in STOPWORDS:
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
