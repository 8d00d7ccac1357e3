"""`rag eval`: retrieval quality on a BEIR-format golden set."""
