"""The shipped catalog embeddings, read and written without a model or a database."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from zava.errors import ConfigurationError
from zava.seeding import catalog, catalog_embeddings
from zava.seeding.catalog_embeddings import embeddings_path, load_catalog_vectors


def test_shipped_embeddings_cover_the_catalog() -> None:
    vectors = load_catalog_vectors()
    assert set(vectors) == {p.sku for p in catalog.products()}
    assert all(len(v) == 384 for v in vectors.values())
    assert embeddings_path().stat().st_size < 1_000_000


def test_stale_embeddings_are_refused_with_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = catalog.products()
    extra = dataclasses.replace(shipped[0], sku="ZZ-NEW-0001")
    monkeypatch.setattr(catalog, "products", lambda: (*shipped, extra))
    with pytest.raises(ConfigurationError, match=r"does not match the catalog.*embed-catalog"):
        load_catalog_vectors()


class FakeEmbedder:
    """Deterministic vectors without a model: a hash of the text."""

    model_name = "fake-model"
    dimension = 8

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[float(b) + 1.0 for b in hashlib.sha256(t.encode()).digest()[:8]]
                for t in texts]

    async def aclose(self) -> None:
        """Nothing to release."""


async def test_embed_catalog_writes_what_the_loader_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_embeddings, "SEED_DIR", tmp_path)
    count = await catalog_embeddings.embed_catalog(
        FakeEmbedder(), catalog_embeddings.embeddings_path("fake-model"))
    assert count == len(catalog.products())
    vectors = load_catalog_vectors("fake-model", 8)
    assert list(vectors) == [p.sku for p in catalog.products()]
    assert all(abs(float(np.linalg.norm(v)) - 1) < 1e-2 for v in vectors.values())
    with pytest.raises(ConfigurationError, match="ZAVA_EMBEDDING_DIM=16 zava seed embed-catalog"):
        load_catalog_vectors("fake-model", 16)
