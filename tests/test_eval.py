"""`rag eval` on tiny BEIR sets with known answers, and the metrics themselves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FIXTURES

from rag_assistant.cli import cli
from rag_assistant.evaluation.metrics import mrr_at, ndcg_at, recall_at

TINY = FIXTURES / "tiny_beir"
KOREAN = FIXTURES / "korean"


def test_metrics_on_hand_computed_cases() -> None:
    assert ndcg_at(["a", "b"], {"a": 1}) == 1.0
    assert ndcg_at(["b", "a"], {"a": 1}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert ndcg_at(["x"], {"a": 1}) == 0.0
    assert recall_at(["a", "x", "b"], {"a": 1, "b": 1, "c": 1}, k=2) == pytest.approx(1 / 3)
    assert mrr_at(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert mrr_at(["a"], {"a": 0}) == 0.0


def run_eval(tmp_path: Path, model_cache: Path, folder: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli,
        ["eval", "--corpus", str(folder / "corpus.jsonl"), "--queries", str(folder / "queries.jsonl"),
         "--qrels", str(folder / "qrels.tsv"), "--json", *extra],
        env={"RAG_DATA_DIR": str(tmp_path / "eval"), "RAG_CACHE_DIR": str(model_cache)},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_tiny_set_is_ranked_perfectly_and_the_run_file_is_trec(tmp_path: Path, model_cache: Path) -> None:
    run_file = tmp_path / "run.trec"
    report = run_eval(tmp_path, model_cache, TINY, "--run-out", str(run_file), "--top-k", "3")
    assert report["queries"] == 3  # the unjudged query is not scored
    assert (report["ndcg_at_10"], report["recall_at_100"], report["mrr_at_10"]) == (1.0, 1.0, 1.0)
    assert report["indexed"] == 3
    lines = run_file.read_text().splitlines()
    first = lines[0].split()
    assert first[:4] == ["q1", "Q0", "d1", "1"] and first[5] == "rag-hybrid" and float(first[4]) > 0
    assert {line.split()[0] for line in lines} == {"q1", "q2", "q3"}
    again = run_eval(tmp_path, model_cache, TINY)
    assert again["unchanged"] == 3 and again["indexed"] == 0


@pytest.mark.slow
def test_korean_questions_find_korean_documents(tmp_path: Path, model_cache: Path) -> None:
    hybrid = run_eval(tmp_path, model_cache, KOREAN)
    dense = run_eval(tmp_path, model_cache, KOREAN, "--retrieval", "dense")
    # MiniLM cannot read Korean; the bigram keyword index can, and the default uses it.
    assert hybrid["ndcg_at_10"] >= 0.9 and hybrid["mrr_at_10"] >= 0.9
    assert hybrid["ndcg_at_10"] > dense["ndcg_at_10"] + 0.2


@pytest.mark.slow
def test_bad_files_are_one_clear_line(tmp_path: Path, model_cache: Path) -> None:
    broken = tmp_path / "corpus.jsonl"
    broken.write_text('{"_id": "a", "text": "ok"}\nnot json\n')
    result = CliRunner().invoke(
        cli, ["eval", "--corpus", str(broken), "--queries", str(TINY / "queries.jsonl")],
        env={"RAG_DATA_DIR": str(tmp_path / "e"), "RAG_CACHE_DIR": str(model_cache)},
    )
    assert result.exit_code == 1 and "corpus.jsonl:2: not JSON" in result.stderr


def run_squad_eval(tmp_path: Path, model_cache: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        cli, ["eval", "--squad", str(FIXTURES / "squad_tiny" / "squad.json"), "--json", *extra],
        env={"RAG_DATA_DIR": str(tmp_path / "eval"), "RAG_CACHE_DIR": str(model_cache), "LLM_PROVIDER": "extractive"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow
def test_squad_file_scores_answers_and_abstention(tmp_path: Path, model_cache: Path) -> None:
    report = run_squad_eval(tmp_path, model_cache, "--answers", "--hold-out", "4")
    assert report["indexed"] == 3  # the fourth article is held out of the index
    assert report["queries"] == 4 and report["ndcg_at_10"] == 1.0
    answers = report["answers"]
    assert answers["generator"] == "extractive"
    # 4 answerable questions; 2 is_impossible + 2 about the held-out article.
    assert (answers["answerable"], answers["unanswerable"]) == (4, 4)
    assert answers["contains_gold"] == 1.0 and answers["declined"] == 1.0
    assert answers["answer_chars_max"] <= 200  # a sentence, not the paragraph


def test_answers_need_a_squad_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["eval", "--corpus", str(TINY / "corpus.jsonl"), "--queries", str(TINY / "queries.jsonl"), "--answers"],
        env={"RAG_DATA_DIR": str(tmp_path / "eval")})
    assert result.exit_code != 0 and "--squad" in result.output


@pytest.mark.slow
def test_the_report_names_the_ranking_each_query_got(tmp_path: Path, model_cache: Path) -> None:
    # MiniLM cannot read Korean: the hybrid run ranks Korean questions by keywords alone,
    # and the report says so instead of claiming hybrid for all of them.
    report = run_eval(tmp_path, model_cache, KOREAN)
    korean = [json.loads(line) for line in (KOREAN / "queries.jsonl").read_text().splitlines() if line.strip()]
    from rag_assistant.text.language import is_korean

    expected_keyword = sorted(q["_id"] for q in korean if is_korean(q["text"]))
    assert expected_keyword, "the Korean set has Korean questions"
    assert report["mode"] == "hybrid"
    assert report["retrieval_used"]["keyword"] == len(expected_keyword)
    assert report["retrieval_used"].get("hybrid", 0) == report["queries"] - len(expected_keyword)
    assert sorted(report["rerouted"]) == expected_keyword
    assert set(report["rerouted"].values()) == {"keyword"}
    english = run_eval(tmp_path, model_cache, TINY)
    assert english["retrieval_used"] == {"hybrid": 3} and english["rerouted"] == {}


def test_run_scores_give_the_order_whatever_the_scorers_tie_rule(tmp_path: Path) -> None:
    from rag_assistant.evaluation.runner import write_trec_run

    run = {"q1": [("b", 0.5), ("a", 0.5), ("c", 0.5), ("d", 0.1234567891234)], "q2": [("z", 1.0)]}
    path = tmp_path / "run.trec"
    write_trec_run(path, run, "t")
    rows = [line.split() for line in path.read_text().splitlines()]
    by_query: dict[str, list[tuple[str, float]]] = {}
    for query, _, doc, _, score, _ in rows:
        by_query.setdefault(query, []).append((doc, float(score)))
    for query, ranked in run.items():
        written = by_query[query]
        ours = [doc for doc, _ in ranked]
        # trec_eval breaks ties by document id descending, others ascending: with strictly
        # decreasing scores both give our order.
        assert [d for d, _ in sorted(written, key=lambda r: (-r[1], r[0]))] == ours
        assert [d for d, _ in sorted(written, key=lambda r: (-r[1], [-ord(c) for c in r[0]]))] == ours
    assert by_query["q1"][3][1] == 0.1234567891234  # full precision, not 6 decimals
