"""Finding the chunks that answer a question."""

from .retriever import Retriever

__all__ = ["Retriever"]
