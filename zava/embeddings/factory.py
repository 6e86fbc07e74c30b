"""The configured embedding provider, behind the query cache."""

from __future__ import annotations

from pathlib import Path

import platformdirs

from zava.cache.backends import CacheBackend
from zava.config import Settings
from zava.embeddings.base import CachedEmbedder, Embedder


def create_embedder(settings: Settings, shared: CacheBackend | None = None) -> CachedEmbedder:
    """The provider named by ``ZAVA_EMBEDDING_PROVIDER`` with an LRU query cache (and the
    ``shared`` cache behind it, when the servers share one). The ``local`` provider runs
    on ONNX Runtime unless ``ZAVA_EMBEDDING_RUNTIME=sentence-transformers``; its built
    graph is cached in the user's cache folder, else under ``ZAVA_DATA_DIR``."""
    # Each provider's module (httpx, numpy, onnxruntime) is imported only when chosen.
    provider: Embedder
    if settings.embedding_provider == "openai":
        from zava.embeddings.openai import OpenAIEmbedder

        provider = OpenAIEmbedder.from_settings(settings)
    elif settings.embedding_runtime == "sentence-transformers":
        from zava.embeddings.local import LocalEmbedder

        provider = LocalEmbedder(settings.embedding_model, settings.embedding_dim,
                                 settings.embedding_model_path)
    else:
        from zava.embeddings.onnx import OnnxEmbedder

        provider = OnnxEmbedder(
            settings.embedding_model, settings.embedding_dim, settings.embedding_model_path,
            cache_dirs=[Path(platformdirs.user_cache_dir("zava")) / "models",
                        settings.data_dir / "models"], threads=settings.embedding_threads)
    return CachedEmbedder(provider, size=settings.embedding_cache_size, shared=shared,
                          prefix=settings.cache_prefix)
