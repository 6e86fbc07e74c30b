"""Search modes, the threshold, the caller's stock and the refusals, on the tiny seed."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.errors import ConfigurationError, ValidationError
from zava.seeding import company
from zava.services.search import search_products
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

QUESTION = "something to keep rain off the patio furniture"


class NoModel:
    """An embedder that must not be called (lexical search needs no model)."""

    model_name = "none"
    dimension = 3

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        raise AssertionError("lexical search called the model")


class OtherModel:
    """An embedder of another model and dimension than the catalog's vectors."""

    model_name = "text-embedding-3-small"
    dimension = 1536

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [[0.0] * self.dimension for _ in texts]


async def search(engine: AsyncEngine, settings: Settings, embedder: object, *,
                 caller: object = company.HEAD_OFFICE_ID, **options: object):  # type: ignore[no-untyped-def]
    uow = SqlAlchemyUnitOfWork(engine, settings, caller)  # type: ignore[arg-type]
    return await search_products(uow, embedder, **{  # type: ignore[arg-type]
        "query": QUESTION, "max_rows": 10, "similarity_threshold_percent": 0, **options})


async def test_the_modes_rank_differently(seeded_app_engine: AsyncEngine, settings: Settings,
                                          embedder: CachedEmbedder) -> None:
    found = {mode: [p.sku for p in (await search(seeded_app_engine, settings, embedder,
                                                   mode=mode)).products]
             for mode in ("vector", "lexical", "hybrid")}
    assert all(len(skus) == 10 for skus in found.values())
    assert "GO-PAT-0004" in found["vector"][:3] and "GO-PAT-0004" in found["hybrid"][:3]
    assert found["vector"] != found["hybrid"] != found["lexical"]


async def test_lexical_search_needs_no_model(seeded_app_engine: AsyncEngine,
                                             settings: Settings) -> None:
    results = await search(seeded_app_engine, settings, NoModel(), mode="lexical")
    assert results.products and all(p.matched_words for p in results.products)
    assert all(p.similarity_percent == 0 for p in results.products)


async def test_the_threshold_filters_meaning_but_keeps_word_matches(
        seeded_app_engine: AsyncEngine, settings: Settings, embedder: CachedEmbedder) -> None:
    strict = {"similarity_threshold_percent": 60}
    vector = await search(seeded_app_engine, settings, embedder, mode="vector", **strict)
    hybrid = await search(seeded_app_engine, settings, embedder, mode="hybrid", **strict)
    assert all(p.similarity_percent >= 60 for p in vector.products)
    assert all(p.similarity_percent >= 60 or p.matched_words for p in hybrid.products)
    assert any(p.similarity_percent < 60 for p in hybrid.products)
    nothing = await search(seeded_app_engine, settings, embedder, mode="vector",
                           similarity_threshold_percent=99.9)
    assert nothing.products == []


@pytest.mark.parametrize("manager", [company.SEATTLE_MANAGER_ID, company.EASTSIDE_REGIONAL_ID,
                                     company.HEAD_OFFICE_ID])
async def test_stock_is_the_callers_stores_only(
        seeded_app_engine: AsyncEngine, seeded_admin_engine: AsyncEngine, settings: Settings,
        embedder: CachedEmbedder, manager: object) -> None:
    results = await search(seeded_app_engine, settings, embedder, caller=manager)
    stores = [str(s) for s in company.visible_stores(
        next(m for m in company.managers() if m.manager_id == manager))]
    async with seeded_admin_engine.connect() as connection:
        expected = dict((await connection.execute(text(
            "SELECT p.sku, sum(i.stock_level)::int FROM retail.inventory i "
            "JOIN retail.products p USING (product_id) "
            "WHERE i.store_id = ANY(CAST(:stores AS uuid[])) GROUP BY p.sku"),
            {"stores": stores})).all())
    assert results.products
    assert {p.sku: p.units_in_your_stores for p in results.products} == {
        p.sku: expected.get(p.sku, 0) for p in results.products}


async def test_an_empty_question_is_refused(seeded_app_engine: AsyncEngine, settings: Settings,
                                            embedder: CachedEmbedder) -> None:
    with pytest.raises(ValidationError, match="query_description is empty"):
        await search(seeded_app_engine, settings, embedder, query="  \n\t ")


@pytest.mark.parametrize("mode", ["vector", "hybrid"])
async def test_vectors_of_another_model_are_refused(seeded_app_engine: AsyncEngine,
                                                    settings: Settings, mode: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        await search(seeded_app_engine, settings, OtherModel(), mode=mode)
    message = refused.value.message
    assert "all-MiniLM-L6-v2 (384 dims)" in message
    assert "text-embedding-3-small (1536 dims)" in message
    assert "zava db reembed" in message


async def test_lexical_search_works_whatever_the_model(seeded_app_engine: AsyncEngine,
                                                       settings: Settings) -> None:
    results = await search(seeded_app_engine, settings, OtherModel(), mode="lexical")
    assert results.products
