"""Ranking research for issue 16, on the product's own chunks and ranking functions
(bench/ranking_lab.py: chunks and embeddings cached once; text/bm25.BM25Index and
retrieval/fusion as the product runs them), writing two sections of docs/BENCHMARKS.md:

    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ranking.py korean   # keyword terms for Korean
    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ranking.py fusion   # every set, every ranking

Korean settings are chosen on KorQuAD's even-indexed articles only (the odd ones are the
product's held-out check and are not run here); English ones on SciFact train; SQuAD is
reported, not tuned on. Kiwi (kiwipiepy + kiwipiepy-model) is measured when installed
(`pip install kiwipiepy kiwipiepy-model`); it is not a dependency of the product.
"""

from __future__ import annotations

import pickle
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ranking_lab as lab
from report import write_section

from rag_assistant.retrieval import fusion
from rag_assistant.text.bm25 import BM25Index, BM25Parameters
from rag_assistant.text.keywords import keyword_terms

POOL = 50  # candidates per ranking, as the retriever asks
GRID_K1, GRID_B = (0.6, 0.9, 1.2), (0.5, 0.75)
_WORD = re.compile(r"\w+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]+")


def plain_bigrams(text: str) -> list[str]:
    """The 40-line baseline: \\w+ words lower-cased, Hangul words as character bigrams, no
    stemming, no stop words."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if _HANGUL.fullmatch(word) and len(word) > 1:
            out.extend(word[i : i + 2] for i in range(len(word) - 1))
        else:
            out.append(word)
    return out


_kiwi = None
_KIWI_CONTENT = ("NN", "VV", "VA", "XR", "SL", "SH", "SN", "MAG", "NR", "NP")


def kiwi_available() -> bool:
    try:
        import kiwipiepy  # noqa: F401
    except ImportError:
        return False
    return True


def kiwi_morphemes(text: str) -> list[str]:
    """Kiwi's content morphemes (nouns, verb and adjective stems, roots, foreign words,
    numbers, adverbs); particles and endings dropped."""
    global _kiwi
    if _kiwi is None:
        from kiwipiepy import Kiwi

        _kiwi = Kiwi()
    return [t.form.lower() for t in _kiwi.tokenize(text) if t.tag.startswith(_KIWI_CONTENT)]


def kiwi_and_bigrams(text: str) -> list[str]:
    return kiwi_morphemes(text) + ["#" + t for t in keyword_terms(text)]


# --- keyword rankings ---------------------------------------------------------------------


def keyword_lists(ds: lab.Dataset, terms: Callable[[str], list[str]], parameters: BM25Parameters,
                  grouped: bool = True) -> list[list[tuple[int, float]]]:
    index = BM25Index(ds.chunk_texts, groups=ds.chunk_doc.tolist() if grouped else None,
                      parameters=parameters, terms=terms)
    return [index.search(q, POOL) for q in ds.queries.values()]


def paragraph_run(ds: lab.Dataset, terms: Callable[[str], list[str]], parameters: BM25Parameters) -> lab.Run:
    """Whole corpus documents as the indexed units (the SOURCES.md reference points)."""
    index = BM25Index([f"{d.title}\n\n{d.text}" for d in ds.corpus], parameters=parameters, terms=terms)
    return [index.search(q, 100) for q in ds.queries.values()]


def chunk_lists_to_run(ds: lab.Dataset, lists: list[list[tuple[int, float]]]) -> lab.Run:
    run = []
    for ranked in lists:
        best: dict[int, float] = {}
        for chunk, score in ranked:
            doc = int(ds.chunk_doc[chunk])
            if doc not in best or score > best[doc]:
                best[doc] = score
        run.append(sorted(best.items(), key=lambda item: (-item[1], item[0]))[:100])
    return run


def ndcg(ds: lab.Dataset, lists: list[list[tuple[int, float]]]) -> float:
    return lab.evaluate(ds, chunk_lists_to_run(ds, lists))["ndcg"]


# --- Korean keyword section --------------------------------------------------------------


def korean() -> None:
    ds = lab.load("korquad")
    plain = BM25Parameters(k1=0.9, b=0.4, by_language={}, document_weight=0.0)
    fts5_like = BM25Parameters(k1=1.2, b=0.75, by_language={}, document_weight=0.0)
    chosen = BM25Parameters()
    no_documents = BM25Parameters(document_weight=0.0)
    rows: list[tuple[str, float]] = []

    def add(label: str, value: float) -> None:
        rows.append((label, value))
        print(f"  {label:<78} {value:.4f}", flush=True)

    add("plain bigram BM25 (k1 0.9, b 0.4), whole paragraphs as units (SOURCES.md reference)",
        lab.evaluate(ds, paragraph_run(ds, plain_bigrams, plain))["ndcg"])
    add("plain bigram BM25 (k1 0.9, b 0.4), the product's chunks, best chunk per paragraph",
        ndcg(ds, keyword_lists(ds, plain_bigrams, plain, grouped=False)))
    add("product terms, k1 1.2 b 0.75 (what FTS5 fixes), chunks (today's keyword ranking)",
        ndcg(ds, keyword_lists(ds, keyword_terms, fts5_like, grouped=False)))
    add("product terms, Korean k1 0.6 b 0.75, chunks", ndcg(ds, keyword_lists(ds, keyword_terms, no_documents, grouped=False)))
    add("product terms, Korean k1 0.6 b 0.75, + document aggregation (weight 1.0): the default",
        ndcg(ds, keyword_lists(ds, keyword_terms, chosen)))
    add("plain bigrams, k1 0.6 b 0.75, + document aggregation", ndcg(ds, keyword_lists(ds, plain_bigrams, chosen)))
    grid = []
    for k1 in GRID_K1:
        for b in GRID_B:
            value = ndcg(ds, keyword_lists(ds, keyword_terms, BM25Parameters(by_language={"ko": (k1, b)})))
            grid.append((k1, b, value))
            print(f"  grid k1 {k1} b {b}: {value:.4f}", flush=True)
    kiwi_rows: list[str] = []
    if kiwi_available():
        started = time.perf_counter()
        kiwi_morphemes("준비")
        load = time.perf_counter() - started
        add("Kiwi morphemes alone, k1 0.6 b 0.75, + document aggregation", ndcg(ds, keyword_lists(ds, kiwi_morphemes, chosen)))
        add("Kiwi morphemes + product bigrams, + document aggregation",
            ndcg(ds, keyword_lists(ds, kiwi_and_bigrams, chosen)))
        texts = [d.text for d in ds.corpus]
        chars = sum(len(t) for t in texts)
        cost = {}
        for name, fn in (("product terms (bigrams)", keyword_terms), ("Kiwi morphemes", kiwi_morphemes)):
            started = time.perf_counter()
            for t in texts:
                fn(t)
            ingest = chars / (time.perf_counter() - started) / 1000
            queries = list(ds.queries.values())[:500]
            per_query = []
            for q in queries:
                started = time.perf_counter()
                fn(q)
                per_query.append((time.perf_counter() - started) * 1000)
            cost[name] = (ingest, statistics.median(per_query))
        from importlib.metadata import files

        size = sum(f.size or 0 for pkg in ("kiwipiepy", "kiwipiepy-model") for f in files(pkg) or [])
        kiwi_rows = [
            "| tokenizer | ingest (thousand chars/s) | per question (median) |",
            "|---|---:|---:|",
            *[f"| {name} | {ingest:,.0f} | {q:.3f} ms |" for name, (ingest, q) in cost.items()],
            "",
            f"Kiwi's packages take {size / 2**20:.0f} MiB installed (the model alone ~105 MiB) and load in {load:.1f} s",
            "(first call, on the shared machine). The upload and query Lambda functions have 46.6 MiB of headroom",
            "under the 250 MB limit (x86_64; docs/BENCHMARKS.md, Lambda assets): Kiwi cannot ship there, and the",
            "keyword terms must be the same on both homes, so the product keeps Hangul bigrams.",
        ]
    best = max(grid, key=lambda row: row[2])
    lines = [
        "## Korean keyword ranking (KorQuAD 1.0 dev, even-indexed articles)",
        "",
        "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ranking.py korean` (3,316 questions,",
        "all 964 paragraphs as the corpus, chunked by the product (Korean budget of two syllables a token: ~360 characters);",
        "nDCG@10 of the best chunk per paragraph; BM25 = text/bm25.BM25Index, the ranking both homes share).",
        "",
        "| keyword ranking | nDCG@10 |",
        "|---|---:|",
        *[f"| {label} | {value:.4f} |" for label, value in rows],
        "",
        f"Korean k1 / b grid with document aggregation (best: k1 {best[0]}, b {best[1]}, {best[2]:.4f}):",
        "",
        "| k1 \\ b | " + " | ".join(str(b) for b in GRID_B) + " |",
        "|---|" + "---:|" * len(GRID_B),
        *[f"| {k1} | " + " | ".join(f"{v:.4f}" for kk, _, v in grid if kk == k1) + " |" for k1 in GRID_K1],
        "",
        *kiwi_rows,
        "",
    ]
    write_section("bench_ranking_korean", lines)


# --- every ranking on every set ----------------------------------------------------------


def candidate_lists(ds: lab.Dataset, model: str, terms: Callable[[str], list[str]] = keyword_terms):
    """Per query: (dense top POOL, keyword top POOL, unused), cached in .cache/lab."""
    import hashlib

    key = hashlib.sha256("\x1e".join(ds.chunk_texts).encode()).hexdigest()[:12]
    path = lab.CACHE / f"lists-{ds.name}-{model.replace('/', '_')}-{terms.__name__}-{key}.pkl"
    if path.exists():
        return pickle.loads(path.read_bytes())
    chunks = lab.vectors(ds, model, "chunks")
    queries = lab.vectors(ds, model, "queries")
    lists = keyword_lists(ds, terms, BM25Parameters())
    out = []
    for i, (_query, keyword) in enumerate(zip(ds.queries.values(), lists, strict=True)):
        scores = chunks @ queries[i]
        top = np.argsort(-scores, kind="stable")[:POOL]
        dense = [(int(c), float(scores[c])) for c in top]
        out.append((dense, keyword, None))
    path.write_bytes(pickle.dumps(out))
    return out


def minmax_convex(dense, keyword, weight: float):
    """Yesterday's fusion, for comparison: min-max cosine, BM25 / best BM25, fixed weight."""
    scores: dict = {}
    if dense:
        high, low = dense[0][1], dense[-1][1]
        for key, score in dense:
            scores[key] = weight * (score - low) / ((high - low) or 1.0)
    if keyword:
        top = keyword[0][1] or 1.0
        for key, score in keyword:
            scores[key] = scores.get(key, 0.0) + (1 - weight) * score / top
    return sorted(scores.items(), key=lambda item: -item[1])


def fused_ndcg(ds, lists, rule: str, weight: float = 0.5) -> float:
    out = []
    for dense, keyword, _ in lists:
        if rule == "rrf":
            out.append(fusion.rrf(dense, keyword))
        elif rule == "minmax":
            out.append(minmax_convex(dense, keyword, weight))
        else:  # the product's: standardised scores (same-language sets: nothing is keyword-blind)
            out.append(fusion.convex(dense, keyword, dense_weight=weight))
    return ndcg(ds, out)


ENGLISH_WEIGHTS = (0.3, 0.4, 0.5, 0.6)
KOREAN_WEIGHTS = (0.05, 0.1, 0.2, 0.3)
TERMS = {"product terms": keyword_terms, "plain bigrams": plain_bigrams, "Kiwi + bigrams": kiwi_and_bigrams}


def every_ranking(sets: list[str]) -> None:
    from rag_assistant.config import Settings

    defaults = Settings()
    sections: list[str] = []
    for name in sets:
        ds = lab.load(name)
        # Kiwi over SciFact's 11 M characters takes half an hour here, and changes only
        # how Hangul is cut: it is measured where there is Korean (and on SQuAD).
        variants = [v for v in TERMS if v != "Kiwi + bigrams" or (kiwi_available() and name != "scifact")]
        # MiniLM reads no Korean: under it a Korean question is ranked by keywords alone (the
        # default's KorQuAD figure is the keyword row); the multilingual switch fuses.
        models = ([] if name == "korquad" else ["all-MiniLM-L6-v2"]) + (
            ["use-multilingual"] if name != "scifact" and _cached(ds, "use-multilingual") else [])
        weights = KOREAN_WEIGHTS if name == "korquad" else ENGLISH_WEIGHTS
        default_weight = defaults.hybrid_dense_weight_korean if name == "korquad" else defaults.hybrid_dense_weight
        for model in models:
            rows: dict[str, list[float]] = {}
            for variant in variants:
                started = time.perf_counter()
                lists = candidate_lists(ds, model, TERMS[variant])
                print(f"{name} {model} {variant}: lists in {time.perf_counter() - started:.0f} s", flush=True)
                rows.setdefault("keyword (BM25 + document aggregation)", []).append(ndcg(ds, [k for _, k, _ in lists]))
                rows.setdefault(f"dense ({model})", []).append(ndcg(ds, [d for d, _, _ in lists]))
                rows.setdefault("RRF, k=60", []).append(fused_ndcg(ds, lists, "rrf"))
                rows.setdefault("min-max convex, dense weight 0.5 (the fusion before)", []).append(
                    fused_ndcg(ds, lists, "minmax", 0.5))
                for w in weights:
                    label = f"standardised convex, dense weight {w}" + (" **(default)**" if w == default_weight else "")
                    rows.setdefault(label, []).append(fused_ndcg(ds, lists, "standardised", w))
                for label, values in rows.items():
                    print(f"  {label:<58} {values[-1]:.4f}", flush=True)
            latency = _keyword_latency(ds)
            note = (f"Keyword search per question (BM25Index.search, median of 200, pure Python): "
                    f"{latency[0]:.1f} ms chunks alone, {latency[1]:.1f} ms with document aggregation.")
            print(note, flush=True)
            sections += [f"### {name} ({len(ds.queries):,} questions, {len(ds.corpus):,} documents, "
                         f"{len(ds.chunk_texts):,} chunks), {model}", "",
                         "| ranking | " + " | ".join(variants) + " |", "|---|" + "---:|" * len(variants),
                         *[f"| {label} | " + " | ".join(f"{v:.4f}" for v in values) + " |" for label, values in rows.items()],
                         "", note, ""]
    lines = [
        "## Every ranking on every set (issue 16)",
        "",
        "Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ranking.py fusion` (the product's",
        "chunks, BM25Index and retrieval/fusion functions over embeddings cached by bench/ranking_lab.py;",
        f"{POOL} candidates per ranking; nDCG@10 of the best chunk per document). Columns: the keyword terms",
        "(product: Snowball stems + Hangul bigrams; plain: \\w+ words + Hangul bigrams, no stemming or stop",
        "words; Kiwi: Kiwi's content morphemes + the product terms). English dense weight chosen on SciFact",
        f"train ({defaults.hybrid_dense_weight}), Korean on KorQuAD's even articles ({defaults.hybrid_dense_weight_korean});",
        "SQuAD is reported, not tuned on.",
        "",
        *sections,
    ]
    write_section("bench_ranking", lines)


def _keyword_latency(ds: lab.Dataset) -> tuple[float, float]:
    """Median search time of chunks alone and with document aggregation, the two timed
    alternately on the same questions (the shared machine is noisy: a paired comparison)."""
    indexes = [BM25Index(ds.chunk_texts, groups=ds.chunk_doc.tolist(), parameters=parameters)
               for parameters in (BM25Parameters(document_weight=0.0), BM25Parameters())]
    times: list[list[float]] = [[], []]
    for n, query in enumerate(list(ds.queries.values())[:200]):
        for i in (0, 1) if n % 2 else (1, 0):
            started = time.perf_counter()
            indexes[i].search(query, POOL)
            times[i].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def _cached(ds: lab.Dataset, model: str) -> bool:
    return any(lab.CACHE.glob(f"{ds.name}-chunks-{model}-*.npy"))


def main() -> None:
    what = sys.argv[1:] or ["korean", "fusion"]
    if "korean" in what:
        korean()
    if "fusion" in what:
        every_ranking([s for s in ("scifact", "squad", "korquad") if s in what] or ["scifact", "squad", "korquad"])


if __name__ == "__main__":
    main()
