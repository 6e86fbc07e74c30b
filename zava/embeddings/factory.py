"""The configured embedding provider, behind the query cache."""

from __future__ import annotations

from zava.cache.backends import CacheBackend
from zava.config import Settings
from zava.embeddings.base import CachedEmbedder, Embedder
from zava.embeddings.local import LocalEmbedder
from zava.embeddings.openai import OpenAIEmbedder


def create_embedder(settings: Settings, shared: CacheBackend | None = None) -> CachedEmbedder:
    """The provider named by ``ZAVA_EMBEDDING_PROVIDER`` with an LRU query cache (and the
    ``shared`` cache behind it, when the servers share one)."""
    provider: Embedder
    if settings.embedding_provider == "openai":
        provider = OpenAIEmbedder.from_settings(settings)
    else:
        provider = LocalEmbedder(settings.embedding_model, settings.embedding_dim,
                                 settings.embedding_model_path)
    return CachedEmbedder(provider, size=settings.embedding_cache_size, shared=shared,
                          prefix=settings.cache_prefix)
