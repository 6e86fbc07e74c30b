"""The configured embedding provider, behind the query cache."""

from __future__ import annotations

from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.embeddings.local import LocalEmbedder
from zava.errors import ConfigurationError


def create_embedder(settings: Settings) -> CachedEmbedder:
    """The provider named by ``ZAVA_EMBEDDING_PROVIDER`` with an LRU query cache."""
    if settings.embedding_provider == "local":
        return CachedEmbedder(LocalEmbedder(settings.embedding_model, settings.embedding_dim,
                                            settings.embedding_model_path))
    raise ConfigurationError(
        f"embedding provider {settings.embedding_provider!r} is not available in this build")
