"""Turning retrieved chunks into an answer with numbered citations."""

from .base import AnswerGenerator, GeneratedAnswer

__all__ = ["AnswerGenerator", "GeneratedAnswer"]
