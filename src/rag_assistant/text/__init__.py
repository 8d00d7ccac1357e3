"""Text processing shared by the stores, the retriever and the answerers, below all of
them: language detection, keyword terms, BM25, sentence splitting. Imports nothing else
of the package."""
