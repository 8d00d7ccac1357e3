"""Reading a SQuAD-format file (SQuAD v1.1/v2.0, KorQuAD 1.0) as a retrieval set: every
paragraph is a corpus document, every question a query whose one relevant document is the
paragraph it was asked of, with its gold answer strings beside it.

Paragraph ids are "<article index>-<paragraph index>" (the numbering of the shared SQuAD
corpus), so a caller can split by article (KorQuAD: tune on even articles only). A SQuAD 2.0
question marked `is_impossible` is kept as a query with no answers and no judgement: it is
there to measure abstention, not ranking.
"""

from __future__ import annotations

import json
from pathlib import Path

from .beir import CorpusDoc


def read_squad(path: Path) -> tuple[list[CorpusDoc], dict[str, str], dict[str, dict[str, int]], dict[str, list[str]]]:
    """(corpus, queries {id: text}, qrels {id: {paragraph id: 1}}, answers {id: [gold strings]})."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise ValueError(f"{path}: not a SQuAD-format file (no 'data' list of articles)")
    corpus: list[CorpusDoc] = []
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    answers: dict[str, list[str]] = {}
    for a, article in enumerate(articles):
        title = str(article.get("title") or "")
        for p, paragraph in enumerate(article.get("paragraphs") or []):
            if "context" not in paragraph:
                raise ValueError(f"{path}: article {a} paragraph {p} has no context")
            doc_id = f"{a}-{p}"
            corpus.append(CorpusDoc(doc_id, title.replace("_", " "), str(paragraph["context"])))
            for qa in paragraph.get("qas") or []:
                if "id" not in qa or "question" not in qa:
                    raise ValueError(f"{path}: a question in article {a} paragraph {p} needs id and question")
                query_id = str(qa["id"])
                queries[query_id] = str(qa["question"])
                gold = [] if qa.get("is_impossible") else [str(x["text"]) for x in qa.get("answers") or []]
                answers[query_id] = list(dict.fromkeys(gold))
                if gold:
                    qrels[query_id] = {doc_id: 1}
    return corpus, queries, qrels, answers


def article_of(doc_id: str) -> int:
    """The article index of a paragraph id written by read_squad."""
    return int(doc_id.split("-", 1)[0])
