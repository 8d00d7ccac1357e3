"""Where documents, chunks and vectors live: the VectorStore protocol and its backends."""

from .base import VectorStore

__all__ = ["VectorStore"]
