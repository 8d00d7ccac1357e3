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
from rag_assistant.text import keywords
from rag_assistant.text.bm25 import BM25Index, BM25Parameters
from rag_assistant.text.keywords import keyword_terms

POOL = 50  # candidates per ranking, as the retriever asks
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
                  grouped: bool = True, question: Callable[[str], str] = str) -> list[list[tuple[int, float]]]:
    index = BM25Index(ds.chunk_texts, groups=ds.chunk_doc.tolist() if grouped else None,
                      parameters=parameters, terms=terms)
    return [index.search(question(q), POOL) for q in ds.queries.values()]


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

_V1_TOKEN = re.compile(r"[\uac00-\ud7a3]+|[^\W_]+")
_SPLIT_TOKEN = re.compile(r"[\uac00-\ud7a3]+|[^\W_\uac00-\ud7a3]+")
#: A longer particle and ending list than the product's, to show that length does not pay.
LONGER_SUFFIXES = frozenset(
    """이 가 을 를 의 에 에서 에게 께 한테 로 으로 와 과 이랑 랑 보다 처럼 만큼 에게서 한테서 로서
    으로서 로써 으로써 로부터 으로부터 에서부터 은 는 도 만 까지 부터 마저 조차 밖에 마다 이나 나
    이든지 든지 이라도 라도 이다 였다 이었다 이며 이고 이라는 라는 이라고 라고 이자 입니다 이었던
    였던 에서는 에서도 에게는 에는 에도 으로는 로는 과는 와는 과의 와의 에서의 으로의 로의 에의
    까지의 부터는 만은 만이 들 들은 들이 들을 들의 들에게 들과 들도 들로 하다 했다 하였다 한다 하는
    한 할 하여 해 해서 하고 하며 하면 하면서 하지 하게 했던 하던 하였던 하기 함 했으며 하였으며
    했고 하였고 되다 된다 되는 된 될 되어 되었다 됐다 되었던 되며 되고 되기 되었으며 됐으며 되었고
    됐던 었다 았다 었던 았던 는다 으며 으면 으나 지만 면서 었으며 았으며 었고 았고 습니다""".split()
)
#: Korean question words: what a question asks, not what its answer's passage says.
_ASKING = ("무엇", "무슨", "누구", "누가", "언제", "어디", "어딘", "어떤", "어떠", "어떻", "어느", "얼마", "몇", "왜")


def _strip(word: str, suffixes: frozenset[str]) -> str:
    for n in sorted({len(x) for x in suffixes}, reverse=True):
        if len(word) > n and word[-n:] in suffixes:
            return word[:-n]
    return word


def korean_terms(*, split: bool, stems: bool, across: bool,
                 suffixes: frozenset[str] = keywords._KOREAN_SUFFIXES) -> Callable[[str], list[str]]:
    """The product's term function with its Korean parts switchable, for the ablation rows
    (all three on = keyword_terms, checked on the corpus). Latin words as the product's."""
    pattern = _SPLIT_TOKEN if split else _V1_TOKEN

    def terms(text: str) -> list[str]:
        out: list[str] = []
        text = text.lower()
        previous, previous_end = "", 0
        for match in pattern.finditer(text):
            token = match.group()
            if _HANGUL.fullmatch(token):
                stem = _strip(token, suffixes) if stems else token
                out.extend([stem] if len(stem) == 1 else [stem[i : i + 2] for i in range(len(stem) - 1)])
                if stems:
                    out.append(keywords.STEM_MARK + stem)
                if across and previous and text[previous_end : match.start()].isspace():
                    out.append(previous[-1] + token[0])
                previous, previous_end = token, match.end()
                continue
            previous = ""
            if token not in keywords.STOPWORDS:
                out.append(keywords._stem(token) if re.fullmatch(r"[a-z]+", token) else token)
        return out

    terms.__name__ = f"korean_terms_{int(split)}{int(stems)}{int(across)}"
    return terms


bigram_terms_v1 = korean_terms(split=False, stems=False, across=False)


def without_asking_words(question: str) -> str:
    """The question without its Korean question words and interrogative endings."""
    words = keywords.without_question_endings(question).split()
    return " ".join(w for w in words if not w.startswith(_ASKING))


def korean() -> None:
    ds = lab.load("korquad")
    plain = BM25Parameters(k1=0.9, b=0.4, by_language={}, document_weight=0.0)
    before = BM25Parameters(by_language={"ko": (0.6, 0.75)})
    chosen = BM25Parameters()
    k1, b = chosen.by_language["ko"]
    texts_check = ds.chunk_texts + list(ds.queries.values())
    product = korean_terms(split=True, stems=True, across=True)
    assert all(product(t) == keyword_terms(t) for t in texts_check), "the ablation's full form must be the product's"
    rows: list[tuple[str, float]] = []

    def add(label: str, value: float) -> None:
        rows.append((label, value))
        print(f"  {label:<78} {value:.4f}", flush=True)

    add("plain bigram BM25 (k1 0.9, b 0.4), whole paragraphs as units (SOURCES.md reference)",
        lab.evaluate(ds, paragraph_run(ds, plain_bigrams, plain))["ndcg"])
    add("plain bigram BM25 (k1 0.9, b 0.4), the product's chunks, best chunk per paragraph",
        ndcg(ds, keyword_lists(ds, plain_bigrams, plain, grouped=False)))
    add("terms v1: Hangul bigrams, Korean k1 0.6 b 0.75, + document aggregation (the default before)",
        ndcg(ds, keyword_lists(ds, bigram_terms_v1, before)))
    add("+ Hangul split from Latin letters and digits (\"MVNO의\" -> mvno, 의)",
        ndcg(ds, keyword_lists(ds, korean_terms(split=True, stems=False, across=False), before)))
    add("+ stems: one particle or ending stripped, bigrams of the stem + the stem itself",
        ndcg(ds, keyword_lists(ds, korean_terms(split=True, stems=True, across=False), before)))
    add("+ a bigram across the space to the next word: terms v2 (the product's), k1 0.6 b 0.75",
        ndcg(ds, keyword_lists(ds, keyword_terms, before)))
    add(f"terms v2, Korean k1 {k1} b {b}, + document aggregation: **the default**",
        ndcg(ds, keyword_lists(ds, keyword_terms, chosen)))
    add(f"terms v2, k1 {k1} b {b}, chunks alone (no document aggregation)",
        ndcg(ds, keyword_lists(ds, keyword_terms, BM25Parameters(document_weight=0.0), grouped=False)))
    add(f"terms v2 with a longer list ({len(LONGER_SUFFIXES)} particles and endings instead of {len(keywords._KOREAN_SUFFIXES)})",
        ndcg(ds, keyword_lists(ds, korean_terms(split=True, stems=True, across=True, suffixes=LONGER_SUFFIXES), chosen)))
    add("terms v2, question words (무엇, 누구, 언제, ...) and endings dropped from the question",
        ndcg(ds, keyword_lists(ds, keyword_terms, chosen, question=without_asking_words)))
    grid_k1, grid_b = (0.3, 0.45, 0.6, 0.9), (0.5, 0.75, 0.9)
    grid = []
    for gk in grid_k1:
        for gb in grid_b:
            value = ndcg(ds, keyword_lists(ds, keyword_terms, BM25Parameters(by_language={"ko": (gk, gb)})))
            grid.append((gk, gb, value))
            print(f"  grid k1 {gk} b {gb}: {value:.4f}", flush=True)
    tokenizers: dict[str, Callable[[str], list[str]]] = {"terms v1 (bigrams)": bigram_terms_v1,
                                                        "terms v2 (the product's)": keyword_terms}
    kiwi_note: list[str] = []
    if kiwi_available():
        started = time.perf_counter()
        kiwi_morphemes("준비")
        load = time.perf_counter() - started
        add("Kiwi morphemes alone, + document aggregation", ndcg(ds, keyword_lists(ds, kiwi_morphemes, chosen)))
        add("Kiwi morphemes + terms v2, + document aggregation", ndcg(ds, keyword_lists(ds, kiwi_and_bigrams, chosen)))
        tokenizers["Kiwi morphemes"] = kiwi_morphemes
        from importlib.metadata import files

        size = sum(f.size or 0 for pkg in ("kiwipiepy", "kiwipiepy-model") for f in files(pkg) or [])
        kiwi_note = [
            f"Kiwi's packages take {size / 2**20:.0f} MiB installed (the model alone ~105 MiB) and load in {load:.1f} s",
            "(first call, on the shared machine). The upload and query Lambda functions have 46.6 MiB of headroom",
            "under the 250 MB limit (x86_64; docs/BENCHMARKS.md, Lambda assets): Kiwi cannot ship there, and the",
            "keyword terms must be the same on both homes, so the product keeps its own terms (pure Python, no data files).",
        ]
    cost = _term_cost(ds, tokenizers)
    search = _search_cost(ds, {"terms v1 (bigrams)": (bigram_terms_v1, before), "terms v2 (the product's)": (keyword_terms, chosen)})
    # The held-out check: odd-indexed articles, never used to choose anything above.
    odd = lab.load("korquad", held_out=True)
    held_out = [("terms v1, k1 0.6 b 0.75 (the default before)", ndcg(odd, keyword_lists(odd, bigram_terms_v1, before))),
                (f"terms v2, k1 {k1} b {b} (the default)", ndcg(odd, keyword_lists(odd, keyword_terms, chosen)))]
    for label, value in held_out:
        print(f"  held out: {label:<68} {value:.4f}", flush=True)
    best = max(grid, key=lambda row: row[2])
    lines = [
        "## Korean keyword ranking (KorQuAD 1.0 dev, even-indexed articles)",
        "",
        f"Command: `RAG_SHARED_DIR=/work/shared .venv/bin/python bench/bench_ranking.py korean` ({len(ds.queries):,} questions,",
        "all 964 paragraphs as the corpus, chunked by the product (Korean budget of two syllables a token: ~360 characters);",
        "nDCG@10 of the best chunk per paragraph; BM25 = text/bm25.BM25Index, the ranking both homes share; every",
        "row with document aggregation (weight 1.0) unless it says otherwise). The default model, MiniLM, reads no",
        "Korean: a Korean question is ranked by this keyword ranking alone, so these rows are the default's KorQuAD figure.",
        "",
        "| keyword ranking | nDCG@10 |",
        "|---|---:|",
        *[f"| {label} | {value:.4f} |" for label, value in rows],
        "",
        f"Korean k1 / b grid, terms v2 with document aggregation (best: k1 {best[0]}, b {best[1]}, {best[2]:.4f}; the",
        f"grid is flat within 0.001 for k1 0.3-0.6: the default k1 {k1} b {b} sits in the middle of that plateau):",
        "",
        "| k1 \\ b | " + " | ".join(str(gb) for gb in grid_b) + " |",
        "|---|" + "---:|" * len(grid_b),
        *[f"| {gk} | " + " | ".join(f"{v:.4f}" for kk, _, v in grid if kk == gk) + " |" for gk in grid_k1],
        "",
        f"**Held-out check** (odd-indexed articles, {len(odd.queries):,} questions; run once, after everything above was chosen):",
        "",
        "| keyword ranking | nDCG@10 |",
        "|---|---:|",
        *[f"| {label} | {value:.4f} |" for label, value in held_out],
        "",
        "Cost (same process, the shared 2-core machine; ingest over the 964 paragraphs, per question the median over",
        "500 questions; keyword search = BM25Index.search with document aggregation, median of 300, alternating):",
        "",
        "| terms | ingest (thousand chars/s) | terms per paragraph | per question (terms) | keyword search per question |",
        "|---|---:|---:|---:|---:|",
        *[f"| {name} | {c[0]:,.0f} | {c[1]:.0f} | {c[2]:.3f} ms | "
          + (f"{search[name]:.2f} ms |" if name in search else "- |") for name, c in cost.items()],
        "",
        *kiwi_note,
        "",
    ]
    write_section("bench_ranking_korean", lines)


def _term_cost(ds: lab.Dataset, tokenizers: dict[str, Callable[[str], list[str]]]) -> dict[str, tuple[float, float, float]]:
    """Per term function: thousand characters a second at ingest, terms per paragraph, and
    the median time to cut a question."""
    texts = [d.text for d in ds.corpus]
    chars = sum(len(t) for t in texts)
    questions = list(ds.queries.values())[:500]
    out = {}
    for name, fn in tokenizers.items():
        started = time.perf_counter()
        count = sum(len(fn(t)) for t in texts)
        ingest = chars / (time.perf_counter() - started) / 1000
        per_question = []
        for q in questions:
            started = time.perf_counter()
            fn(q)
            per_question.append((time.perf_counter() - started) * 1000)
        out[name] = (ingest, count / len(texts), statistics.median(per_question))
    return out


def _search_cost(ds: lab.Dataset, variants: dict[str, tuple[Callable[[str], list[str]], BM25Parameters]]) -> dict[str, float]:
    indexes = {name: BM25Index(ds.chunk_texts, groups=ds.chunk_doc.tolist(), parameters=p, terms=fn)
               for name, (fn, p) in variants.items()}
    times: dict[str, list[float]] = {name: [] for name in indexes}
    names = list(indexes)
    for n, question in enumerate(list(ds.queries.values())[:300]):
        for name in names if n % 2 else reversed(names):
            started = time.perf_counter()
            indexes[name].search(question, POOL)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(t) for name, t in times.items()}


# --- every ranking on every set ----------------------------------------------------------


def candidate_lists(ds: lab.Dataset, model: str, terms: Callable[[str], list[str]] = keyword_terms):
    """Per query: (dense top POOL, keyword top POOL, unused), cached in .cache/lab."""
    import hashlib

    key = hashlib.sha256("\x1e".join(ds.chunk_texts).encode()).hexdigest()[:12]
    # The terms' version is in the name: a new term function must not reuse old lists.
    path = lab.CACHE / f"lists-{ds.name}-{model.replace('/', '_')}-{terms.__name__}-v{keywords.TERMS_VERSION}-{key}.pkl"
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
            note = (f"Keyword search per question (BM25Index.search, median of 200, numpy): "
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
