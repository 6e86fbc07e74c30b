"""Embedding providers: text in, vectors out (local sentence-transformers, or an
OpenAI-compatible HTTP API)."""
