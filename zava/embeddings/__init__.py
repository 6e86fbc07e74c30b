"""Embedding providers: text in, vectors out (the local model on ONNX Runtime or
sentence-transformers, or an OpenAI-compatible HTTP API)."""
