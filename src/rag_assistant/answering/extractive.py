"""The offline answerer: quotes the sentence of the retrieved chunks that answers the question
(trimmed to the clauses that do when it is long), cited with its source number. No LLM, no
network, nothing invented.

How it reads, and why (docs/BENCHMARKS.md, extractive answers):

- Candidates are prose: code and shell lines, table debris and Markdown/HTML markup are
  quoted only when the question asks for them; a fragment (a heading, a cell) is never
  quoted first.
- A sentence answers when it holds the question's words — the rare ones, the names, the
  words in the question's order — in itself and the sentences around it, brings something
  the question does not (a sentence that only repeats the question answers nothing), holds
  a date or a number for "when"/"how many", a new name for "who"/"where", a cause for "why",
  and comes from a well-ranked source. These features are weighed by WEIGHTS, fitted on
  SQuAD and KorQuAD questions (bench/fit_answers.py). Words are matched the way each language
  needs: Snowball stems for English, syllable prefixes for Korean (a noun keeps its particle:
  "트러스트의" is "트러스트" + "의").
- A second sentence is quoted when it is nearly as likely to hold the answer.
- It abstains when the best passage does not hold enough of the question (RAG_MIN_RELEVANCE,
  the weighted share of the question's words found around the best sentence): that measures
  whether a passage can answer, not whether it is on the topic — an article about the same
  subject that lacks the question's names or dates is declined.
- Words miss paraphrases ("greater incomes" for "higher compensation") and cannot tell a
  sentence that names the question's words from one that answers it. When a sentence reader
  is at hand (answering/reader.py: MiniLM fine-tuned to read a question and a sentence
  together), it reads the question with the READER_CANDIDATES best English sentences whenever
  its reading can change the gate's decision (READING_RANGE): its log-odds join their scores,
  and with the words' share they decide the gate. Korean is read on words alone (MiniLM reads
  no Hangul).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..models import SearchHit
from ..text.keywords import STOPWORDS, keyword_terms, without_question_endings
from ..text.language import HANGUL_RUN, is_korean
from ..text.sentences import split_sentences
from .base import GeneratedAnswer, no_answer_text

if TYPE_CHECKING:  # numpy and onnxruntime stay out of the import (the answerer is pure Python)
    from .reader import SentenceReader

_MIN_SENTENCE_CHARS = 12
#: Korean question words carry particles and endings that a prefix matches only in part, so
#: the same gate reads lower in Korean: at 0.85 of it, 86% of the questions about KorQuAD
#: articles left out of the index are declined and 97.5% of the answerable ones answered
#: (tuning questions; at 0.6, only 52% were declined).
KOREAN_GATE_SCALE = 0.85
#: Sentences longer than this are trimmed to the clauses that hold the question's words.
_LONG_SENTENCE_CHARS = 200


@dataclass(frozen=True, slots=True)
class _Question:
    #: (stemmed term, weight) for Latin-script words and numbers
    latin: tuple[tuple[str, float], ...]
    #: Hangul words, particles and endings attached (matched by prefix)
    korean: tuple[str, ...]
    #: per word of `weights`: how much it says in English text (names not boosted)
    plain: tuple[float, ...]
    #: "time" | "number" | None: what kind of answer the question wants
    expects: str | None
    #: the question asks about code, commands or markup: quote them too
    wants_markup: bool
    #: Korean "몇 번/명/층...": the counter a number in the answer carries ("주 2회")
    counter: re.Pattern[str] | None = None

    @property
    def weights(self) -> list[float]:
        # A longer Korean word is a more specific one ("주차장은" says more than "회사").
        return [w for _, w in self.latin] + [korean_word_weight(w) for w in self.korean]


@dataclass(slots=True)
class _Candidate:
    source: int  # 1-based source number
    position: int  # sentence index within its chunk
    text: str
    matched: list[float]  # per question word: 0..1
    novel: int  # content terms the question does not have
    prose: bool
    fragment: bool
    terms: list[str]  # keyword terms in order
    score: float = 0.0
    window: float = 0.0  # share of the question held by the sentence and its neighbours


class ExtractiveAnswerer:
    name = "extractive"
    streams_text = False

    def __init__(
        self,
        *,
        min_relevance: float = 0.5,
        max_sentences: int = 2,
        max_sources: int = 5,
        max_chars: int = 600,
        reader: SentenceReader | None = None,
    ) -> None:
        """`reader`: the sentence reader, asked about the best English sentences of every
        question; None answers on words alone."""
        self._min_relevance = min_relevance
        self._max_sentences = max_sentences
        self._max_sources = max_sources
        self._max_chars = max_chars
        self._reader = reader

    def warm_up(self) -> None:
        if self._reader is not None:
            self._reader.warm_up()

    def generate(self, question: str, hits: Sequence[SearchHit]) -> GeneratedAnswer:
        declined = GeneratedAnswer(no_answer_text(question), answered=False, quotes={})
        asked, candidates, first = scored_candidates(question, hits[: self._max_sources])
        if not first:
            return declined
        ranked = sorted(first, key=lambda c: -c.score)
        korean = bool(asked.korean) and is_korean(question)
        gate = self._min_relevance * (KOREAN_GATE_SCALE if korean else 1.0)
        window = max(c.window for c in first)
        odds = SECOND_SENTENCE_ODDS["ko" if korean else "en"]
        if self._reader is not None and not korean and not _ASKS_HOW_TO.search(question):
            # Readings are bounded (READING_RANGE), so only a band of the words' share can go
            # either way: below it the passages lack too much, above it the words answer alone.
            threshold = gate + READER_GATE_OFFSET
            low, high = READING_RANGE
            if window + READER_GATE_WEIGHT * high < threshold:
                return declined
            if window + READER_GATE_WEIGHT * low < threshold:
                best = ranked[:READER_CANDIDATES]
                readings = [min(max(r, low), high) for r in self._reader.read(question, [c.text for c in best])]
                # How sure the reader is that one of the sentences answers: a passage on the
                # topic that holds the question's words but answers something else reads low.
                if window + READER_GATE_WEIGHT * max(readings) < threshold:
                    return declined
                for c, reading in zip(best, readings, strict=True):
                    c.score += READER_WEIGHT * reading
                ranked = sorted(best, key=lambda c: -c.score) + ranked[len(best):]
                odds = READER_SECOND_SENTENCE_ODDS
        elif window < gate:
            # The passages lack what the question names: say so rather than quote a neighbour.
            return declined
        chosen = self._select(ranked, candidates, odds)
        quotes: dict[int, list[str]] = {}
        parts: list[str] = []
        for k, candidate in enumerate(chosen):
            quote = _trim(candidate, asked)
            quotes.setdefault(candidate.source, []).append(quote)
            shown = quote if quote == candidate.text else _elided(candidate.text, quote)
            # The document's own reference marks ("[2]", "[3, 4]") would read as citations of
            # our sources: dropped from the answer text (the quote stays verbatim).
            shown = _REFERENCE_MARK.sub("", shown)
            run_ends = k + 1 == len(chosen) or chosen[k + 1].source != candidate.source
            parts.append(f"{shown} [{candidate.source}]" if run_ends else shown)
        return GeneratedAnswer(
            " ".join(parts),
            answered=True,
            quotes={n: " … ".join(q) for n, q in quotes.items()},
            cited=tuple(dict.fromkeys(c.source for c in chosen)),
            grounded=True,  # every sentence is quoted verbatim from the source it cites
        )

    def generate_stream(self, question: str, hits: Sequence[SearchHit]) -> Iterator[str | GeneratedAnswer]:
        answer = self.generate(question, hits)
        yield answer.text
        yield answer

    def _select(self, ranked: list[_Candidate], candidates: list[_Candidate], odds: float) -> list[_Candidate]:
        best = ranked[0]
        chosen = [best]
        length = len(best.text)
        if best.text.rstrip().endswith(":"):
            # "...the following tenets:" is useless without the list: take the items after it.
            for candidate in candidates:
                if candidate.source == best.source and candidate.position > best.position:
                    if length + len(candidate.text) > self._max_chars:
                        break
                    chosen.append(candidate)
                    length += len(candidate.text)
            return chosen
        for candidate in ranked[1:]:
            # A second sentence when the scores say it is nearly as likely to be the answer.
            if len(chosen) >= self._max_sentences or math.exp(candidate.score - best.score) < odds:
                break
            if length + len(candidate.text) > self._max_chars:
                continue
            chosen.append(candidate)
            length += len(candidate.text)
        # Read in document order within a source, sources in rank order.
        return sorted(chosen, key=lambda c: (c.source, c.position))


#: A second sentence is quoted when its chance of holding the answer is at least this share of
#: the best one's: containment against answer length on the tuning questions (Korean sentences
#: are half as long as English ones, so a second one costs less).
SECOND_SENTENCE_ODDS = {"en": 0.5, "ko": 0.3}
#: The reader reads the question with this many of the best sentences (by the words' score;
#: the sentence holding the answer is among the 8 best for 92% of the English questions whose
#: sources hold one, among the 3 best for 87%);
READER_CANDIDATES = 8
#: its log-odds join their scores with this weight;
READER_WEIGHT = 0.5
#: the answer is given when window + READER_GATE_WEIGHT * best log-odds reaches the gate +
#: READER_GATE_OFFSET: a passage that holds the question's words but answers something else
#: reads low. Chosen by bench/fit_reader.py's rule, the most containment with at least 82% of
#: the tuning questions about articles not indexed declined: 82.4% containment, 82.1% declined
#: (words alone: 81.1%, 75.0%; a gate weight of 0.06 declined 89.7% for 81.4% containment).
READER_GATE_WEIGHT = 0.03
READER_GATE_OFFSET = -0.05
#: and a second sentence is quoted at this share of the best one's chance.
READER_SECOND_SENTENCE_ODDS = 0.3
#: Readings are clamped to this range (the reader's own on the tuning questions: -5.7 to 4.0),
#: which bounds the band of the words' share where the reader can change the gate's decision
#: (0.315-0.63 at the default gate): outside it the reader is not asked. Most answerable
#: questions hold nearly every word, and skip it (2 ms instead of ~40).
READING_RANGE = (-6.0, 4.5)


def scored_candidates(question: str, hits: Sequence[SearchHit]) -> tuple[_Question, list[_Candidate], list[_Candidate]]:
    """The question's analysis, every candidate sentence of `hits` (scored, `window` set), and
    those that may be quoted first: prose (unless markup is asked for), no fragment, each text
    once (overlapping chunks repeat sentences; the better-ranked source keeps it)."""
    asked = analyse_question(question)
    if not hits or not sum(asked.weights):
        return asked, [], []
    candidates = _candidates(asked, hits)
    _score(asked, candidates, hits, question)
    seen: set[str] = set()
    first = []
    for c in candidates:
        if (c.prose or asked.wants_markup) and not c.fragment and c.text not in seen:
            seen.add(c.text)
            first.append(c)
    return asked, candidates, first


# --- the question ----------------------------------------------------------------------------

_WORD = re.compile(r"[\uac00-\ud7a3]+|[^\W_]+")
_EXPECTS_TIME = re.compile(
    r"^\s*when\b|\b(?:what|which)\s+(?:year|date|day|month|century|decade|time|period)\b|\bhow long ago\b"
    r"|언제|몇\s*년|몇\s*월|몇\s*일|연도|날짜|시기",
    re.IGNORECASE,
)
_EXPECTS_NUMBER = re.compile(
    r"\bhow\s+(?:many|much|long|old|far|large|big|tall|high|often)\b|\bwhat\s+(?:percentage|percent|number|amount)\b"
    r"|몇|얼마",
    re.IGNORECASE,
)
_WANTS_MARKUP = re.compile(
    r"\b(?:commands?|code|scripts?|syntax|shell|cli|snippets?|html|markdown|tags?|flags?|yaml|json|regex)\b"
    r"|명령|코드|스크립트|구문",
    re.IGNORECASE,
)
#: Korean words that ask rather than name (what, who, when, where, which, how, why).
_KOREAN_ASKING = ("무엇", "무슨", "누구", "누가", "언제", "어디", "어떤", "어느", "어떻게", "얼마", "몇", "왜")


def analyse_question(question: str) -> _Question:
    latin: dict[str, float] = {}
    plain: dict[str, float] = {}
    korean: list[str] = []
    for index, word in enumerate(_WORD.findall(without_question_endings(question))):
        if HANGUL_RUN.fullmatch(word):
            if len(word) >= 2 and not word.startswith(_KOREAN_ASKING) and word not in korean:
                korean.append(word)
            continue
        if word.lower() in STOPWORDS:
            continue
        # Names, numbers and rare words carry the question: a passage without them answers
        # something else; "using", "called", "first" say little.
        weight = said = word_weight(word)
        if any(ch.isdigit() for ch in word) or (index > 0 and word[0].isupper()):
            weight = max(weight, 1.0) * ENTITY_WEIGHT
        for term in keyword_terms(word):
            latin[term] = max(latin.get(term, 0.0), weight)
            plain[term] = max(plain.get(term, 0.0), said)
    expects = "time" if _EXPECTS_TIME.search(question) else "number" if _EXPECTS_NUMBER.search(question) else None
    counted = _KOREAN_HOW_MANY.search(question)
    counter = None
    if counted and counted.group(1) not in "년월일":
        units = _SAME_COUNTER.get(counted.group(1), counted.group(1))
        counter = re.compile(rf"[\d일이삼사오육칠팔구십백천만두세네한]\s*(?:{'|'.join(units)})")
    return _Question(tuple(latin.items()), tuple(korean),
                     tuple(plain[t] for t in latin) + tuple(korean_word_weight(w) for w in korean),
                     expects, bool(_WANTS_MARKUP.search(question)), counter)


def korean_word_weight(word: str) -> float:
    return float(min(3, len(word) - 1))


_KOREAN_HOW_MANY = re.compile(r"몇\s*([\uac00-\ud7a3])")
_SAME_COUNTER = {"번": ("번", "회"), "회": ("회", "번"), "차": ("차", "회", "번")}


ENTITY_WEIGHT = 2.0


@lru_cache(maxsize=1)
def _word_ranks() -> dict[str, int]:
    with (Path(__file__).with_name("english_words.txt")).open(encoding="utf-8") as handle:
        return {line.strip(): rank for rank, line in enumerate(handle, start=1) if line.strip()}


def word_weight(word: str) -> float:
    """How much an English word says, from its frequency rank in English text: ~0.5 for the
    commonest words, 1.0 for words past the 20,000 commonest (names, terms of art)."""
    rank = _word_ranks().get(word.lower())
    if rank is None:
        return 1.0
    return 0.35 + 0.65 * math.log(rank + 10) / math.log(20_000)


# --- candidate sentences -------------------------------------------------------------------


def _candidates(asked: _Question, hits: Sequence[SearchHit]) -> list[_Candidate]:
    wanted = {term for term, _ in asked.latin}
    candidates = []
    for n, hit in enumerate(hits, start=1):
        for position, sentence in enumerate(split_sentences(hit.chunk.text)):
            if len(sentence) < _MIN_SENTENCE_CHARS:
                continue
            sequence = keyword_terms(sentence)
            terms = set(sequence)
            matched = [1.0 if term in terms else 0.0 for term, _ in asked.latin]
            matched += [_korean_match(word, sentence) for word in asked.korean]
            novel = len(terms - wanted) if not asked.korean else _korean_novelty(asked, sentence)
            prose = is_prose(sentence)
            # A code line is judged as code (quoted when asked for), not as an unfinished sentence.
            fragment = is_fragment(sentence) if prose else False
            candidates.append(_Candidate(n, position, sentence, matched, novel, prose, fragment, sequence))
    return candidates


def _korean_match(word: str, sentence: str) -> float:
    """How much of a Korean question word a sentence holds: 1.0 for the word or its stem
    with a one-syllable particle/ending removed, partial credit for a shorter prefix."""
    if word in sentence:
        return 1.0
    for keep in range(len(word) - 1, 1, -1):
        if word[:keep] in sentence:
            return min(1.0, (keep - 1) / max(1, len(word) - 2))
    return 0.0


def _korean_novelty(asked: _Question, sentence: str) -> int:
    return sum(1 for word in HANGUL_RUN.findall(sentence) if not any(word[:2] == w[:2] for w in asked.korean))


def sentence_features(asked: _Question, candidates: list[_Candidate], hits: Sequence[SearchHit],
                      question: str) -> list[list[float]]:
    """FEATURES per candidate (and `window` set on each, for the gate). The score is a weighted
    sum of them; bench/fit_answers.py fits the weights and reads the features through here."""
    weights = asked.weights
    total = sum(weights) or 1.0
    plain = asked.plain
    plain_total = sum(plain) or 1.0
    # Question words weighted by how few candidate sentences hold them: the topic's name is in
    # every retrieved sentence, the word that asks ("built", "anthem") only in the answer.
    count = len(candidates)
    spread = [sum(1 for c in candidates if c.matched[i] > 0) for i in range(len(weights))]
    rarity = [w * math.log((count + 1) / (df + 0.5)) for w, df in zip(plain, spread, strict=True)]
    rare_total = sum(rarity) or 1.0
    rarest = max(rarity, default=0.0) or 1.0
    top = max(h.score for h in hits) or 1.0
    at = {(c.source, c.position): c for c in candidates}
    headings = [_heading_match(asked, hit) for hit in hits]
    terms = [t for t, _ in asked.latin]
    pairs = set(zip(terms, terms[1:], strict=False))
    asked_words = {w.lower() for w in _LATIN_WORD.findall(question)}
    names_wanted = "who" if _ASKS_WHO.search(question) else "where" if _ASKS_WHERE.search(question) else None
    why = bool(_ASKS_WHY.search(question))

    def share(c: _Candidate | None) -> float:
        return sum(p * m for p, m in zip(plain, c.matched, strict=True)) / plain_total if c is not None else 0.0

    rows = []
    for c in candidates:
        before = at.get((c.source, c.position - 1))
        after = at.get((c.source, c.position + 1))
        around = list(c.matched)
        for neighbour in (before, after):
            if neighbour is not None:
                around = [max(a, b) for a, b in zip(around, neighbour.matched, strict=True)]
        around = [max(a, b) for a, b in zip(around, headings[c.source - 1], strict=True)]
        c.window = sum(w * m for w, m in zip(weights, around, strict=True)) / total
        bigrams = names = 0.0
        if not asked.korean:
            if pairs:
                bigrams = len(pairs & set(zip(c.terms, c.terms[1:], strict=False))) / len(pairs)
            if names_wanted:
                # Names the question does not already have: a "who"/"where" answer is one.
                names = math.log1p(sum(1 for m in _NAME.finditer(c.text)
                                       if m.start() > 0 and m.group(0).lower() not in asked_words))
        own = c.matched
        if before is not None and _REFERS_BACK.match(c.text):
            # "It was built by ..." is about what the sentence before it names.
            own = [max(m, 0.8 * b) for m, b in zip(own, before.matched, strict=True)]
        rows.append([
            share(c),
            sum(r * m for r, m in zip(rarity, own, strict=True)) / rare_total,
            c.window,
            hits[c.source - 1].score / top,
            _type_fit(asked, c.text),
            math.log1p(c.novel),
            1.0 if c.novel == 0 else 0.0,  # only repeats the question
            bigrams,
            math.log(len(c.text)),
            1.0 if c.position == 0 else 0.0,
            names if names_wanted == "who" else 0.0,
            names if names_wanted == "where" else 0.0,
            share(before),
            share(after),
            max((r for r, m in zip(rarity, c.matched, strict=True) if m > 0), default=0.0) / rarest,
            1.0 if why and _BECAUSE.search(c.text) else 0.0,
        ])
    return rows


FEATURES = ("share", "rare", "window", "rank", "type", "novel", "repeats", "bigrams", "length", "first",
            "who_names", "where_names", "before", "after", "rarest", "because")
#: The score of a sentence: a conditional logit over the question's candidate sentences (the
#: softmax of the scores is the chance each holds the answer), fitted by bench/fit_answers.py
#: on SQuAD dev questions outside the reported sample and on KorQuAD's even articles.
WEIGHTS = {
    "en": {"share": 0.940, "rare": 4.171, "window": 2.134, "rank": 6.636, "type": 1.340, "novel": -0.702,
           "repeats": -5.125, "bigrams": 1.112, "length": 0.433, "first": -0.429, "who_names": 0.620,
           "where_names": 0.968, "before": 0.033, "after": -0.592, "rarest": 1.656, "because": 0.866},
    "ko": {"share": 0.566, "rare": 4.497, "window": 3.938, "rank": 6.649, "type": 1.947, "novel": -0.508,
           "repeats": -4.488, "length": 0.451, "first": -0.451, "before": -1.012, "after": -1.007, "rarest": 1.533,
           "because": 3.054},
}


def _score(asked: _Question, candidates: list[_Candidate], hits: Sequence[SearchHit], question: str) -> None:
    weights = WEIGHTS["ko" if asked.korean and is_korean(question) else "en"]
    vector = [weights.get(name, 0.0) for name in FEATURES]
    for c, row in zip(candidates, sentence_features(asked, candidates, hits, question), strict=True):
        c.score = sum(w * f for w, f in zip(vector, row, strict=True))


_REFERS_BACK = re.compile(r"(?:It|He|She|They|This|These|Its|His|Her|Their|그|이|그는|그녀는|이는)\b")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_NAME = re.compile(r"\b[A-Z][A-Za-z'\-]+")
_ASKS_WHO = re.compile(r"\bwho(?:m|se)?\b|\b(?:what|which)\s+(?:person|people|man|woman|company|group|team)\b", re.IGNORECASE)
_ASKS_WHERE = re.compile(r"\bwhere\b|\b(?:what|which)\s+(?:city|country|state|place|location|region|area)\b",
                         re.IGNORECASE)
#: "How do I ...?", "how can we ...": instructions answer them ("Shift one percent of traffic to
#: the canary first."), and the reader learnt from SQuAD's Wikipedia facts, which hold almost
#: no instructions: it reads them as non-answers. The words decide these alone.
_ASKS_HOW_TO = re.compile(r"\bhow\s+(?:(?:do|can|could|should|would|shall|may|must)\s+(?:i|we|you|one)|to)\b",
                          re.IGNORECASE)
_ASKS_WHY = re.compile(r"\bwhy\b|\breason\b|왜|이유", re.IGNORECASE)
_BECAUSE = re.compile(r"\b(?:because|due to|since|so that|in order to|as a result)\b|때문|위해|인해", re.IGNORECASE)


def _heading_match(asked: _Question, hit: SearchHit) -> list[float]:
    heading = hit.chunk.heading or ""
    terms = set(keyword_terms(heading))
    return [1.0 if t in terms else 0.0 for t, _ in asked.latin] + [_korean_match(w, heading) for w in asked.korean]


# "(?<!\d)": a Korean date starts at the first digit of a run (tried from every digit, a long
# run of them costs quadratic time).
_TIME = re.compile(
    r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:January|February|March|April|May|June|July|August|September|October"
    r"|November|December|century|centuries|BC|AD|BCE)\b|(?<!\d)\d+\s*(?:년|월|일|세기)|\d{1,2}:\d{2}"
)
_NUMBER = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|once|twice)\b|[일이삼사오육칠팔구십백천만억]\s*(?:개|명|번|회|가지)",
    re.IGNORECASE,
)


def _type_fit(asked: _Question, text: str) -> int:
    """+1 when the sentence holds the kind of answer asked for (a date, a number, a count in
    the counter asked about), -1 when it lacks it, 0 when the question asks for no kind."""
    if asked.counter is not None:
        pattern = asked.counter
    elif asked.expects == "time":
        pattern = _TIME
    elif asked.expects == "number":
        pattern = _NUMBER
    else:
        return 0
    return 1 if pattern.search(text) else -1


# --- prose -----------------------------------------------------------------------------------

# Shell and code: prompts and commands, pipes and substitutions, assignments, braces, line
# continuations. Markup: Markdown links, emphasis, tables, headings, quotes; HTML tags.
_CODE_LINE = re.compile(
    r"^\s*(?:\$\s|>>>|#!|sudo\s|npm\s|npx\s|pip\s|git\s|cd\s|export\s|make\s|aws\s|curl\s|docker\s|"
    r"python3?\s|import\s|from\s\S+\simport|def\s|class\s|return\s|[A-Za-z_][A-Za-z0-9_]*=\S)"
    r"|\$\(|&&|\|\||\s\\$|[{};]\s*$|^\s*[}\])]|=>|::|\w\(\)"
)
_MARKUP = re.compile(r"\]\(|\*\*|__\w|^\s*(?:#{1,6}\s|>\s|\|)|<\/?[A-Za-z!][^>]{0,200}>|\|\s*:?-{3,}|`")
_SYMBOLS = frozenset("{}[]<>|\\`$=;_/*#~^@")


#: A short inline code span in running text ("`make test` runs every test"): technical prose
#: names commands, variables and files this way, and the sentence around it is still prose.
_INLINE_CODE = re.compile(r"`[^`\n]{1,80}`")


def is_prose(sentence: str) -> bool:
    """Whether a sentence reads as prose: not code, a shell line, table debris or markup
    (inline code spans count as the words they stand for)."""
    sentence = _INLINE_CODE.sub("code", sentence)
    if _CODE_LINE.search(sentence) or _MARKUP.search(sentence):
        return False
    symbols = sum(1 for ch in sentence if ch in _SYMBOLS)
    if symbols > 2 and symbols > 0.04 * len(sentence):
        return False
    words = sentence.split()
    # Table rows and number lists: mostly figures, few words.
    figures = sum(1 for w in words if not any(ch.isalpha() for ch in w))
    return figures * 2 <= len(words)


_TERMINAL = (".", "!", "?", ":", "。", "！", "？", "다", "요", ")", '"', "”", "’")


def is_fragment(sentence: str) -> bool:
    """A heading, a caption or a cell: short and unfinished. Never the first thing quoted."""
    stripped = sentence.rstrip()
    finished = stripped.endswith(_TERMINAL)
    short = len(stripped.split()) < (3 if is_korean(stripped) else 6)
    return (not finished and short) or (not finished and len(stripped) < 40) or stripped[:1].islower()


_REFERENCE_MARK = re.compile(r"[ \t]?\[\d{1,3}(?:[ \t]?[,–-][ \t]?\d{1,3}){0,20}\]")


# --- the shortest span ---------------------------------------------------------------------

# "(?<!\s)": a break starts at the first space of a run (tried from every space, a long run
# of them costs quadratic time).
_CLAUSE_BREAK = re.compile(r"(?<=[,;:])\s+|(?<!\s)\s+(?=[–—]\s)|(?<=\s[–—])\s+|(?<!\s)\s+(?=\()")


def _trim(candidate: _Candidate, asked: _Question) -> str:
    """A long sentence cut to its clauses from the first holding a question word to the one
    after the last (the answer usually follows what the question names)."""
    text = candidate.text
    if len(text) <= _LONG_SENTENCE_CHARS:
        return text
    bounds = [0] + [m.end() for m in _CLAUSE_BREAK.finditer(text)] + [len(text)]
    clauses = [(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1) if bounds[i] < bounds[i + 1]]
    if len(clauses) < 2:
        return text
    hits = [i for i, (s, e) in enumerate(clauses) if _holds_question_word(asked, text[s:e])]
    if not hits:
        return text
    first, last = hits[0], min(len(clauses) - 1, hits[-1] + 1)
    if asked.expects is not None:
        # Stretch to the nearest clause with the date or number asked for ("On October 6, 2004,
        # a dig uncovered ..." names the date before the question's words).
        pattern = _TIME if asked.expects == "time" else _NUMBER
        if not pattern.search(text[clauses[first][0]:clauses[last][1]]):
            typed = [i for i, (s, e) in enumerate(clauses) if pattern.search(text[s:e])]
            if typed:
                nearest = min(typed, key=lambda i: first - i if i < first else i - last)
                first, last = min(first, nearest), max(last, nearest)
                # A date split by its own comma ("On October 6," "2004,") is kept whole.
                while first > 0 and pattern.search(text[slice(*clauses[first - 1])]):
                    first -= 1
                while last + 1 < len(clauses) and pattern.search(text[slice(*clauses[last + 1])]):
                    last += 1
    span = text[clauses[first][0] : clauses[last][1]].strip()
    return span if len(span) >= 40 else text


def _holds_question_word(asked: _Question, clause: str) -> bool:
    terms = set(keyword_terms(clause))
    return any(t in terms for t, _ in asked.latin) or any(_korean_match(w, clause) >= 1.0 for w in asked.korean)


def _elided(sentence: str, span: str) -> str:
    start = sentence.find(span)
    return ("… " if start > 0 else "") + span + (" …" if start + len(span) < len(sentence.rstrip()) else "")
