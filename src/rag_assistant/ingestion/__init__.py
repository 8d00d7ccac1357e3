"""From file bytes to clean, located chunks: parsing, cleaning, chunking."""
