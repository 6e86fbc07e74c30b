"""Precomputed description embeddings of the catalog, shipped as a compact file.

``seed/embeddings/<model>.npz`` holds the SKUs and their float16 vectors, made by
``zava seed embed-catalog`` from the catalog with the local model, so a fresh machine
loads semantic search data without computing anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zava.embeddings.local import LocalEmbedder
from zava.errors import ConfigurationError
from zava.seeding import catalog
from zava.seeding.company import SEED_DIR

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DIMENSION = 384


def embeddings_path(model: str = DEFAULT_MODEL) -> Path:
    """Where the shipped vectors for ``model`` live."""
    return SEED_DIR / "embeddings" / f"{model}.npz"


def embed_catalog(embedder: LocalEmbedder, output: Path) -> int:
    """Embed every product's name and description; write the file; return the count."""
    products = catalog.products()
    vectors = np.asarray(embedder.encode([p.embedding_text for p in products]), dtype=np.float16)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, skus=np.array([p.sku for p in products]), vectors=vectors,
                        model=np.array(embedder.model_name))
    return len(products)


def load_catalog_vectors(model: str = DEFAULT_MODEL) -> dict[str, list[float]]:
    """SKU -> vector from the shipped file; checks it covers exactly the catalog."""
    path = embeddings_path(model)
    if not path.exists():
        raise ConfigurationError(
            f"no precomputed embeddings for {model} ({path}); run `zava seed embed-catalog`")
    with np.load(path) as data:
        skus = [str(s) for s in data["skus"]]
        vectors = data["vectors"].astype(np.float32)
    if sorted(skus) != sorted(p.sku for p in catalog.products()):
        raise ConfigurationError(
            f"{path} does not match the catalog (products were added or changed); "
            "run `zava seed embed-catalog` to recompute it")
    return {sku: vector.tolist() for sku, vector in zip(skus, vectors, strict=True)}
