"""retail.search_products_by_description(): the database's own semantic search gives the
repository's answers, checks its arguments, and is executable by the readers only."""

from __future__ import annotations

import pytest
from pgvector.sqlalchemy import Vector
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from zava.config import Settings
from zava.embeddings.base import CachedEmbedder
from zava.seeding import company
from zava.services.unit_of_work import SqlAlchemyUnitOfWork

QUESTIONS = ["cordless drill", "keep the pipes under the house from freezing",
             "something to keep rain off the patio furniture", "dehumidifer"]
SEARCH = text(
    "SELECT product_id, product_name, product_description, similarity_score "
    "FROM retail.search_products_by_description(:embedding, :threshold, :limit)"
).bindparams(bindparam("embedding", type_=Vector()))


@pytest.mark.parametrize("caller", [company.SEATTLE_MANAGER_ID, company.HEAD_OFFICE_ID],
                         ids=["store reader", "all-stores reader"])
@pytest.mark.parametrize("question", QUESTIONS)
async def test_the_function_and_the_repository_agree(
        seeded_app_engine: AsyncEngine, settings: Settings, embedder: CachedEmbedder,
        caller: object, question: str) -> None:
    (vector,) = await embedder.embed([question])
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, caller) as uow:  # type: ignore[arg-type]
        role = (await uow.connection.execute(text("SELECT current_user"))).scalar_one()
        rows = (await uow.connection.execute(
            SEARCH, {"embedding": vector, "threshold": 0.3, "limit": 10})).all()
        matches = await uow.products.similar(vector, min_similarity=0.3, limit=10)
    assert role == ("zava_store_reader" if caller == company.SEATTLE_MANAGER_ID
                    else "zava_all_reader")
    assert rows, "the question should find something above 30%"
    assert [r.product_id for r in rows] == [m.product.product_id for m in matches]
    assert [r.product_name for r in rows] == [m.product.name for m in matches]
    assert [r.product_description for r in rows] == [m.product.description for m in matches]
    for row, match in zip(rows, matches, strict=True):
        assert row.similarity_score == pytest.approx(match.similarity, abs=1e-6)


async def test_the_defaults_are_the_labs(seeded_app_engine: AsyncEngine,
                                         settings: Settings) -> None:
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.HEAD_OFFICE_ID) as uow:
        rows = (await uow.connection.execute(text(
            "SELECT f.product_name, f.similarity_score FROM retail.products p "
            "JOIN retail.product_description_embeddings e USING (product_id), "
            "retail.search_products_by_description(e.embedding) f WHERE p.sku = 'PT-DRL-0001'"
        ))).all()
    assert 0 < len(rows) <= 20 and all(r.similarity_score >= 0.7 for r in rows)
    assert rows[0].product_name.startswith("20V Cordless Brushless Drill")


@pytest.mark.parametrize(("threshold", "limit", "dimensions", "message"), [
    (0.5, 0, 384, "max_results must be between 1 and 1000, got 0"),
    (0.5, 5000, 384, "max_results must be between 1 and 1000"),
    (70, 10, 384, "similarity_threshold is a fraction from 0 to 1"),
    (-0.1, 10, 384, "similarity_threshold is a fraction from 0 to 1"),
    (0.5, 10, 3, "query_embedding has 3 dimensions, but the catalog vectors have 384 "
                 "(model all-MiniLM-L6-v2)"),
])
async def test_bad_arguments_are_named(seeded_app_engine: AsyncEngine, settings: Settings,
                                       threshold: float, limit: int, dimensions: int,
                                       message: str) -> None:
    async with SqlAlchemyUnitOfWork(seeded_app_engine, settings, company.HEAD_OFFICE_ID) as uow:
        with pytest.raises(DBAPIError, match=message.replace("(", r"\(").replace(")", r"\)")):
            await uow.connection.execute(SEARCH, {"embedding": [0.1] * dimensions,
                                                  "threshold": threshold, "limit": limit})


async def test_only_the_readers_may_execute_it(seeded_admin_engine: AsyncEngine) -> None:
    async with seeded_admin_engine.connect() as connection:
        granted = (await connection.execute(text(
            "SELECT a.grantee::regrole::text FROM pg_proc p, aclexplode(p.proacl) a "
            "WHERE p.proname = 'search_products_by_description' AND a.privilege_type = "
            "'EXECUTE' ORDER BY 1"))).scalars()
        public = (await connection.execute(text(
            "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a "
            "WHERE p.proname = 'search_products_by_description' AND a.grantee = 0"))).scalar()
    assert list(granted) == ["zava_all_reader", "zava_owner", "zava_reader",
                             "zava_store_reader"]
    assert public == 0
