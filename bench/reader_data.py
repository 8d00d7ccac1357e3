"""Training and tuning data for the sentence reader (answering/reader.py): for every SQuAD v1.1
dev question, the candidate sentences the extractive answerer weighs (top 5 sources of the
default retrieval over the indexed articles, article % 4 != 3), with their word scores and
whether each holds a gold answer. bench/train_reader.py trains on it.

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/reader_data.py   # -> .cache/reader-data.jsonl
"""

from __future__ import annotations

import gzip
import json

from bench_answers import HELD_OUT_EVERY, REPO, SHARED, service_for

from rag_assistant.answering.extractive import scored_candidates
from rag_assistant.evaluation.answers import contains_gold
from rag_assistant.evaluation.beir import read_corpus
from rag_assistant.evaluation.runner import index_corpus
from rag_assistant.evaluation.squad import article_of

OUT = REPO / ".cache" / "reader-data.jsonl"


def main() -> None:
    service, _ = service_for("squad")
    corpus = read_corpus(SHARED / "data" / "squad-v1.1" / "corpus.jsonl.gz")
    index_corpus(service, [d for d in corpus if article_of(d.doc_id) % HELD_OUT_EVERY != HELD_OUT_EVERY - 1])
    with gzip.open(SHARED / "data" / "squad-v1.1" / "queries.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    with OUT.open("w", encoding="utf-8") as out:
        for row in rows:
            article = article_of(row["metadata"]["doc_id"])
            indexed = article % HELD_OUT_EVERY != HELD_OUT_EVERY - 1
            gold = row["metadata"]["answers"] if indexed else []
            asked, _, first = scored_candidates(row["text"], service.search(row["text"], 5))
            record = {"id": row["_id"], "article": article, "question": row["text"], "indexed": indexed,
                      "cands": [{"text": c.text, "score": c.score, "label": bool(gold) and contains_gold(c.text, gold)}
                                for c in first]}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    service.close()
    print(f"{len(rows)} questions -> {OUT}")


if __name__ == "__main__":
    main()
