"""Hybrid retrieval and the keyword terms behind it."""

from __future__ import annotations

from rag_assistant.embedding.hashing import HashingEmbedder
from rag_assistant.models import Chunk, SearchHit
from rag_assistant.retrieval import fusion
from rag_assistant.retrieval.retriever import Retriever, unreadable_by
from rag_assistant.text.bm25 import BM25Index, BM25Parameters
from rag_assistant.text.keywords import keyword_terms


def test_keyword_terms_stem_english_and_bigram_korean() -> None:
    assert keyword_terms("The Architectures of trusted networks") == ["architectur", "trust", "network"]
    # Korean: the stem's bigrams, the stem itself, and a bigram across the space.
    assert keyword_terms("트러스트의 원칙") == ["트러", "러스", "스트", "#트러스트", "원칙", "#원칙", "의원"]
    assert keyword_terms("백") == ["백", "#백"]
    # A particle changes the word, not its terms.
    assert keyword_terms("트러스트는") == keyword_terms("트러스트를") == keyword_terms("트러스트")
    # Hangul glued to Latin letters or digits is a word of its own.
    assert keyword_terms("MVNO의 1937년") == ["mvno", "의", "#의", "1937", "년", "#년"]


def test_a_question_with_particles_finds_the_passage_that_uses_other_forms() -> None:
    # "방주를"/"노아는" in the question, "방주"/"노아의" in the passage: with bigrams alone the
    # particles' own bigrams ("주를", "아는") matched the wrong passage as well as the right one.
    passages = ["노아의 방주 이야기와 홍수", "주를 아는 사람들의 모임", "방주는 배가 아니다"]
    index = BM25Index(passages, parameters=BM25Parameters(document_weight=0.0))
    ranked = index.search("노아는 방주를", 3)
    assert ranked[0][0] == 0
    assert 1 not in {row for row, _ in ranked}  # no term of the question's words, only of particles'



def hit(chunk_id: str, score: float) -> SearchHit:
    return SearchHit(Chunk(chunk_id, "d", 0, chunk_id), "f.txt", score)


def test_each_ranking_counts_by_its_own_score_distribution() -> None:
    assert fusion.standardised([("a", 3.0), ("b", 1.0)]) == [("a", 2.0), ("b", 0.0)]
    assert fusion.standardised([("a", 5.0)]) == [("a", 0.0)]
    # The keyword top stands far above its ranking; the dense side is flat: keywords decide.
    dense = [("a", 0.35), ("b", 0.34), ("c", 0.33), ("d", 0.32)]
    keyword = [("c", 30.0), ("a", 3.0), ("b", 2.5), ("d", 2.0)]
    assert fusion.convex(dense, keyword, dense_weight=0.5)[0][0] == "c"
    # A clear dense winner against flat keyword scores wins instead.
    dense = [("a", 0.90), ("b", 0.30), ("c", 0.29), ("d", 0.28)]
    keyword = [("c", 4.0), ("a", 3.9), ("b", 3.8), ("d", 3.7)]
    assert fusion.convex(dense, keyword, dense_weight=0.5)[0][0] == "a"
    # Missing from a ranking is being at its floor; weight 0 is keyword order, 1 dense order.
    assert [k for k, _ in fusion.convex(dense, keyword, dense_weight=0.0)] == ["c", "a", "b", "d"]
    assert [k for k, _ in fusion.convex(dense, keyword, dense_weight=1.0)][:1] == ["a"]
    assert [key for key, _ in fusion.rrf(dense, keyword)][:2] == ["a", "c"]


def test_korean_questions_get_their_own_dense_weight() -> None:
    def korean(chunk_id: str, score: float) -> SearchHit:
        return SearchHit(Chunk(chunk_id, "d", 0, "제로 트러스트 정책 엔진"), "ko.txt", score)

    class Store:
        def keyword_search(self, query, top_k):
            return [korean("kw-top", 10.0), korean("dense-top", 1.0), korean("x", 0.5)]

        def search(self, vector, top_k):
            return [korean("dense-top", 0.9), korean("kw-top", 0.5), korean("x", 0.45)]

        def hybrid_candidates(self, vector, query, top_k):
            return self.search(vector, top_k), self.keyword_search(query, top_k)

    class Multilingual(HashingEmbedder):
        multilingual = True

    retriever = Retriever(Store(), Multilingual(), dense_weight=0.9, dense_weight_korean=0.1)
    assert retriever.search("정책 엔진은 무엇을 하나요?", 1)[0].chunk.chunk_id == "kw-top"
    # An English question: its weight (0.9), and the Korean passages are judged by the
    # dense side alone (the keyword index cannot match English words to them).
    assert retriever.search("what does the policy engine do?", 1)[0].chunk.chunk_id == "dense-top"


def test_queries_the_model_cannot_read_go_to_the_keyword_index() -> None:
    class EnglishOnly(HashingEmbedder):
        multilingual = False

    assert unreadable_by(EnglishOnly(), "제로 트러스트의 원칙은?")
    assert not unreadable_by(EnglishOnly(), "zero trust tenets (제로)")

    class Store:
        def keyword_search(self, query, top_k):
            return [hit("k1", 8.0), hit("k2", 4.0)]

        def search(self, vector, top_k):  # pragma: no cover - must not be called
            raise AssertionError("dense search used for an unreadable query")

    hits = Retriever(Store(), EnglishOnly()).search("백업은 언제 하나요?", 2)
    assert [(h.chunk.chunk_id, h.score) for h in hits] == [("k1", 1.0), ("k2", 0.5)]


def test_a_passage_in_another_language_is_judged_by_the_dense_side_alone() -> None:
    dense = [("ko-answer", 0.55), ("en-chunk", 0.50), ("en-other", 0.10)]
    keyword = [("en-chunk", 9.0), ("en-other", 8.0), ("en-third", 1.0)]
    mixed = fusion.convex(dense, keyword, dense_weight=0.5)
    assert mixed[0][0] == "en-chunk"  # counted as a keyword miss, the Korean answer loses ...
    fair = fusion.convex(dense, keyword, dense_weight=0.5, keyword_blind={"ko-answer"})
    assert fair[0][0] == "ko-answer"  # ... judged by the side that can read it, it wins
