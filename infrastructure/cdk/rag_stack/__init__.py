"""The parts of RagServerlessStack: settings, packaging, storage, functions, API, monitoring."""
