"""Serverless RAG Assistant: answers questions about your documents, with their sources."""

__version__ = "0.1.0"
