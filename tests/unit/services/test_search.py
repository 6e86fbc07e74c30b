"""Semantic search as a use case, with a fake unit of work and a fake embedder: the
model runs with no unit open, vectors of another model are refused before anything is
searched, each mode asks the repository it should, and stock comes from the caller's
stores."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tests.unit.fakes import FakeUnitOfWork, product, store
from zava.errors import ConfigurationError, ValidationError
from zava.repositories.products import check_embedding_space
from zava.repositories.results import ProductMatch
from zava.services.search import SearchMode, search_products

DRILL, SAW, HOSE = product("PT-DRL-1"), product("PT-SAW-2", "Circular saw", "120.50"), \
    product("GO-HOS-3", "Garden hose", "25.00")


class FakeEmbedder:
    """Four dimensions; records what it embedded and whether the unit was open then."""

    model_name = "fake-model"
    dimension = 4

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self.uow = uow
        self.texts: list[str] = []
        self.unit_open_while_embedding: list[bool] = []

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts.extend(texts)
        self.unit_open_while_embedding.append(self.uow.open)
        return [[0.5, 0.5, 0.5, 0.5] for _ in texts]

    async def aclose(self) -> None:
        """Nothing to release."""


@pytest.fixture
def uow() -> FakeUnitOfWork:
    unit = FakeUnitOfWork([store("Seattle")])
    unit.products.matches = [ProductMatch(DRILL, 0.8123, 0.9, lexical_match=True),
                             ProductMatch(SAW, 0.41, 0.5),
                             ProductMatch(HOSE, 0.12, 0.1, lexical_match=True)]
    unit.inventory.on_hand = {DRILL.product_id: 7, HOSE.product_id: 2}
    return unit


@pytest.fixture
def fake_embedder(uow: FakeUnitOfWork) -> FakeEmbedder:
    return FakeEmbedder(uow)


async def test_hybrid_search_fuses_words_and_meaning(uow: FakeUnitOfWork,
                                                     fake_embedder: FakeEmbedder) -> None:
    found = await search_products(uow, fake_embedder, query="  cordless\n drill ", max_rows=10,
                                  similarity_threshold_percent=40)
    assert found.query == "cordless drill" and found.mode == "hybrid"
    assert fake_embedder.texts == ["cordless drill"]
    # The model runs with no unit open; then one unit searches (and checks the space).
    assert fake_embedder.unit_open_while_embedding == [False]
    assert uow.products.calls == [("fused", ("cordless drill", [0.5] * 4, 0.4, 10))]
    assert [(p.sku, p.similarity_percent, p.matched_words, p.units_in_your_stores)
            for p in found.products] == [("PT-DRL-1", 81.2, True, 7),
                                         ("PT-SAW-2", 41.0, False, 0),
                                         ("GO-HOS-3", 12.0, True, 2)]
    assert found.products[1].price == 120.5 and found.products[1].category == "Power Tools"
    assert uow.entered == 1 and not uow.open


async def test_vector_search_uses_only_the_nearest_descriptions(uow: FakeUnitOfWork,
                                                                fake_embedder: FakeEmbedder) -> None:
    found = await search_products(uow, fake_embedder, query="drill", max_rows=2,
                                  similarity_threshold_percent=40, mode="vector")
    assert [p.sku for p in found.products] == ["PT-DRL-1", "PT-SAW-2"]
    assert uow.products.calls[-1] == ("similar", ([0.5] * 4, 0.4, 2))


async def test_lexical_search_needs_no_embedding(uow: FakeUnitOfWork,
                                                 fake_embedder: FakeEmbedder) -> None:
    uow.products.space = ("another-model", 1536)  # irrelevant without vectors
    found = await search_products(uow, fake_embedder, query="hose", max_rows=5,
                                  similarity_threshold_percent=90, mode="lexical")
    assert fake_embedder.texts == []
    assert uow.products.calls == [("fused", ("hose", None, 0.9, 5))]
    assert [p.sku for p in found.products] == ["PT-DRL-1", "GO-HOS-3"]


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
async def test_an_empty_question_is_refused_before_anything_runs(
        uow: FakeUnitOfWork, fake_embedder: FakeEmbedder, query: str) -> None:
    with pytest.raises(ValidationError, match="query_description is empty"):
        await search_products(uow, fake_embedder, query=query, max_rows=5,
                              similarity_threshold_percent=0)
    assert fake_embedder.texts == [] and uow.entered == 0


@pytest.mark.parametrize("mode", ["hybrid", "vector"])
async def test_vectors_of_another_model_are_refused_with_the_fix(
        uow: FakeUnitOfWork, fake_embedder: FakeEmbedder, mode: SearchMode) -> None:
    uow.products.space = ("all-MiniLM-L6-v2", 384)
    with pytest.raises(ConfigurationError) as refused:
        await search_products(uow, fake_embedder, query="drill", max_rows=5,
                              similarity_threshold_percent=0, mode=mode)
    message = refused.value.message
    assert message.startswith("the product vectors were made with all-MiniLM-L6-v2 (384 dims) "
                              "but the server is configured for fake-model (4 dims)")
    assert "`zava db reembed`" in message and "ZAVA_EMBEDDING_MODEL" in message
    assert uow.products.calls == []  # nothing searched
    assert uow.exits == [ConfigurationError]


@pytest.mark.parametrize("space", [("fake-model", 4), None])
def test_the_same_space_or_none_recorded_is_accepted(space: tuple[str, int] | None) -> None:
    check_embedding_space(space, ("fake-model", 4))


@pytest.mark.parametrize("space", [("fake-model", 8), ("other-model", 4)])
def test_a_different_model_or_dimension_is_refused(space: tuple[str, int]) -> None:
    with pytest.raises(ConfigurationError, match="re-embed the catalog"):
        check_embedding_space(space, ("fake-model", 4))


async def test_no_match_is_an_empty_list(uow: FakeUnitOfWork, fake_embedder: FakeEmbedder) -> None:
    uow.products.matches = []
    found = await search_products(uow, fake_embedder, query="unicorn saddle", max_rows=5,
                                  similarity_threshold_percent=50)
    assert found.products == []
