"""Text to vectors: the Embedder protocol and its backends."""

from .base import Embedder
from .registry import create_embedder

__all__ = ["Embedder", "create_embedder"]
