"""Reading BEIR-format files: corpus.jsonl[.gz] (_id, title, text), queries.jsonl[.gz]
(_id, text), qrels TSV with a header (query-id, corpus-id, score)."""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    doc_id: str
    title: str
    text: str


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return path.open(encoding="utf-8")


def _jsonl(path: Path) -> Iterator[dict]:
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc.msg})") from None


def read_corpus(path: Path) -> list[CorpusDoc]:
    docs = []
    for row in _jsonl(path):
        if "_id" not in row:
            raise ValueError(f"{path}: a corpus line has no _id")
        docs.append(CorpusDoc(str(row["_id"]), str(row.get("title") or ""), str(row.get("text") or "")))
    return docs


def read_queries(path: Path) -> dict[str, str]:
    queries = {}
    for row in _jsonl(path):
        if "_id" not in row or "text" not in row:
            raise ValueError(f"{path}: a query line needs _id and text")
        queries[str(row["_id"])] = str(row["text"])
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter="\t")
        header = next(reader, None)
        if not header or len(header) < 3:
            raise ValueError(f"{path}: expected a header 'query-id corpus-id score'")
        for row in reader:
            if len(row) >= 3 and row[0]:
                qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return qrels
