"""The ONNX runtime of the local provider on a tiny random BERT written to a temporary
folder (no real model): the built graph computes what a plain numpy BERT computes
(embeddings, attention under the padding mask, erf GELU, LayerNorm, mean or [CLS]
pooling, unit length), tokenization truncates and pads, batches equal single texts, the
graph is cached by the weights' hash, and unusable models are configuration errors."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from tokenizers.implementations.bert_wordpiece import BertWordPieceTokenizer

from zava.config import Settings
from zava.embeddings import onnx_export
from zava.embeddings.factory import create_embedder
from zava.embeddings.local import LocalEmbedder
from zava.embeddings.onnx import OnnxEmbedder, load_runtime
from zava.embeddings.onnx_export import cached_model, read_spec
from zava.errors import ConfigurationError

WORDS = ["cordless", "drill", "saw", "paint", "brush", "the", "a", "for", "wood", "metal",
         "##s", "##ing", "blue", "red", "."]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
HIDDEN, HEADS, LAYERS, INTERMEDIATE, POSITIONS, EPS = 8, 2, 2, 16, 16, 1e-12


def _weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)

    def rand(*shape: int, scale: float = 0.5) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    weights = {
        "embeddings.word_embeddings.weight": rand(len(VOCAB), HIDDEN),
        "embeddings.position_embeddings.weight": rand(POSITIONS, HIDDEN),
        "embeddings.token_type_embeddings.weight": rand(2, HIDDEN),
        "embeddings.LayerNorm.weight": 1 + rand(HIDDEN, scale=0.1),
        "embeddings.LayerNorm.bias": rand(HIDDEN, scale=0.1),
        "pooler.dense.weight": rand(HIDDEN, HIDDEN),
        "pooler.dense.bias": rand(HIDDEN),
    }
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}"
        for name, (rows, cols) in {
            "attention.self.query": (HIDDEN, HIDDEN), "attention.self.key": (HIDDEN, HIDDEN),
            "attention.self.value": (HIDDEN, HIDDEN), "attention.output.dense": (HIDDEN, HIDDEN),
            "intermediate.dense": (INTERMEDIATE, HIDDEN), "output.dense": (HIDDEN, INTERMEDIATE),
        }.items():
            weights[f"{p}.{name}.weight"] = rand(rows, cols)
            weights[f"{p}.{name}.bias"] = rand(rows, scale=0.1)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            weights[f"{p}.{norm}.weight"] = 1 + rand(HIDDEN, scale=0.1)
            weights[f"{p}.{norm}.bias"] = rand(HIDDEN, scale=0.1)
    return weights


def write_model(folder: Path, *, seed: int = 1, pooling: str = "mean", max_seq_length: int = 12,
                tokenizer_json: bool = True, config: dict[str, object] | None = None) -> Path:
    """A sentence-transformers BERT model folder with random weights (``config``
    overrides config.json's entries)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "bert", "hidden_act": "gelu", "hidden_size": HIDDEN,
        "num_attention_heads": HEADS, "num_hidden_layers": LAYERS,
        "intermediate_size": INTERMEDIATE, "max_position_embeddings": POSITIONS,
        "layer_norm_eps": EPS, "type_vocab_size": 2, "vocab_size": len(VOCAB),
        "position_embedding_type": "absolute", **(config or {})}))
    (folder / "sentence_bert_config.json").write_text(json.dumps(
        {"max_seq_length": max_seq_length, "do_lower_case": False}))
    (folder / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"}]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({
        "word_embedding_dimension": HIDDEN, "pooling_mode_cls_token": pooling == "cls",
        "pooling_mode_mean_tokens": pooling == "mean",
        "pooling_mode_max_tokens": pooling == "max"}))
    (folder / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    if tokenizer_json:
        BertWordPieceTokenizer(str(folder / "vocab.txt"), lowercase=True).save(
            str(folder / "tokenizer.json"))
    save_file(_weights(seed), str(folder / "model.safetensors"))
    return folder


def reference(weights: dict[str, np.ndarray], ids: list[int], pooling: str = "mean") -> np.ndarray:
    """BERT in numpy, one unpadded text: the vector the graph must reproduce."""
    w = {k: v.astype(np.float64) for k, v in weights.items()}

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        normed: np.ndarray = (x - mean) / np.sqrt(var + EPS)
        return normed * w[f"{prefix}.weight"] + w[f"{prefix}.bias"]

    def linear(x: np.ndarray, prefix: str) -> np.ndarray:
        product: np.ndarray = x @ w[f"{prefix}.weight"].T
        return product + w[f"{prefix}.bias"]

    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.token_type_embeddings.weight"][0]
         + w["embeddings.position_embeddings.weight"][: len(ids)])
    x = norm(x, "embeddings.LayerNorm")
    d = HIDDEN // HEADS
    erf = np.vectorize(math.erf)
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}"
        q, k, v = (linear(x, f"{p}.attention.self.{n}").reshape(len(ids), HEADS, d)
                   .transpose(1, 0, 2) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        context = (probs @ v).transpose(1, 0, 2).reshape(len(ids), HIDDEN)
        x = norm(linear(context, f"{p}.attention.output.dense") + x,
                 f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        gelu = inner * 0.5 * (1 + erf(inner / math.sqrt(2)))
        x = norm(linear(gelu, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    pooled = x.mean(0) if pooling == "mean" else x[0]
    result: np.ndarray = pooled / np.linalg.norm(pooled)
    return result


def token_ids(text: str, limit: int = 12) -> list[int]:
    """[CLS] word pieces [SEP], cut to ``limit`` tokens (this vocabulary's pieces are
    whole words, '##s' and '##ing', and punctuation)."""
    pieces: list[int] = []
    for word in text.lower().replace(".", " . ").split():
        if word in VOCAB:
            pieces.append(VOCAB.index(word))
        elif word.endswith("s") and word[:-1] in VOCAB:
            pieces += [VOCAB.index(word[:-1]), VOCAB.index("##s")]
        else:
            pieces.append(VOCAB.index("[UNK]"))
    return [VOCAB.index("[CLS]"), *pieces[: limit - 2], VOCAB.index("[SEP]")]


TEXTS = ["Cordless drill", "the blue paint brushes for wood.", "", "saw",
         "red metal saws zzz for the drill", "  Paint  "]


def embedder(folder: Path, tmp_path: Path, batch_size: int = 32) -> OnnxEmbedder:
    return OnnxEmbedder("tiny-bert", HIDDEN, folder, cache_dirs=[tmp_path / "cache"],
                        batch_size=batch_size)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize("tokenizer_json", [True, False])
def test_the_graph_computes_bert_pooling_and_unit_length(
        tmp_path: Path, pooling: str, tokenizer_json: bool) -> None:
    folder = write_model(tmp_path / "model", pooling=pooling, tokenizer_json=tokenizer_json)
    vectors = embedder(folder, tmp_path).vectors(TEXTS)
    weights = _weights(1)
    expected = np.array([reference(weights, token_ids(t.strip()), pooling) for t in TEXTS])
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-6)


def test_tokenization_truncates_to_the_models_max_length(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "model", max_seq_length=6)
    tiny = embedder(folder, tmp_path)
    runtime = load_runtime(folder, cache_dirs=[tmp_path / "cache"])
    long = "the drill " * 50
    assert len(runtime.tokenizer.encode(long).ids) == 6
    np.testing.assert_allclose(tiny.vectors([long])[0],
                               reference(_weights(1), token_ids(long, 6)), atol=1e-5)
    # Longer than the position table too: still cut at max_seq_length.
    assert np.isfinite(tiny.vectors(["saw " * 500])).all()


async def test_a_batch_equals_its_texts_one_by_one_in_order(tmp_path: Path) -> None:
    tiny = embedder(write_model(tmp_path / "model"), tmp_path, batch_size=4)
    together = np.array(await tiny.embed(TEXTS))
    alone = np.array([(await tiny.embed([text]))[0] for text in TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-6)
    assert tiny.provider_calls == 1 + len(TEXTS)
    assert await tiny.embed([]) == []


def test_the_graph_is_built_once_per_weights(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    spec = read_spec(write_model(tmp_path / "model"))
    built = cached_model(spec, [tmp_path / "cache"], "tiny")
    assert isinstance(built, Path) and built.parent == tmp_path / "cache"
    assert built.name.startswith("tiny-") and built.suffix == ".onnx"

    def no_build(_: object) -> None:
        raise AssertionError("rebuilt although cached")

    with monkeypatch.context() as patched:
        patched.setattr(onnx_export, "build_model", no_build)
        assert cached_model(spec, [tmp_path / "elsewhere", tmp_path / "cache"], "tiny") == built
    other = read_spec(write_model(tmp_path / "other", seed=2))
    assert cached_model(other, [tmp_path / "cache"], "tiny") != built


def test_without_a_writable_cache_the_graph_is_built_in_memory(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    spec = read_spec(write_model(tmp_path / "model"))
    built = cached_model(spec, [tmp_path / "a-file" / "cache"], "tiny")
    assert isinstance(built, bytes) and len(built) > 1000
    vectors = OnnxEmbedder("tiny", HIDDEN, spec.folder,
                           cache_dirs=[tmp_path / "a-file" / "cache"]).vectors(["drill"])
    np.testing.assert_allclose(vectors[0], reference(_weights(1), token_ids("drill")),
                               atol=1e-5)


@pytest.mark.parametrize(("change", "message"), [
    ({"model_type": "roberta"}, "model_type is 'roberta'"),
    ({"hidden_act": "relu"}, "hidden_act is 'relu'"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
])
def test_other_architectures_point_to_sentence_transformers(
        tmp_path: Path, change: dict[str, object], message: str) -> None:
    folder = write_model(tmp_path / "model", config=change)
    with pytest.raises(ConfigurationError, match=message) as raised:
        embedder(folder, tmp_path).load()
    assert "ZAVA_EMBEDDING_RUNTIME=sentence-transformers" in str(raised.value)


def test_unusable_model_folders_are_configuration_errors(tmp_path: Path) -> None:
    folder = write_model(tmp_path / "model")
    with pytest.raises(ConfigurationError, match="ZAVA_EMBEDDING_DIM"):
        OnnxEmbedder("tiny", 384, folder, cache_dirs=[tmp_path / "cache"]).load()
    with pytest.raises(ConfigurationError, match="ZAVA_EMBEDDING_MODEL_PATH"):
        OnnxEmbedder("some-org/some-model", 384, cache_dirs=[tmp_path / "cache"]).load()
    without_weights = write_model(tmp_path / "bin-only")
    (without_weights / "model.safetensors").unlink()
    with pytest.raises(ConfigurationError, match="safetensors"):
        embedder(without_weights, tmp_path).load()
    with pytest.raises(ConfigurationError, match="pool"):
        write_model(tmp_path / "max", pooling="max")
        embedder(tmp_path / "max", tmp_path).load()


def test_the_local_provider_runs_on_onnx_unless_told_otherwise(tmp_path: Path) -> None:
    default = create_embedder(Settings(data_dir=tmp_path))
    assert isinstance(default.inner, OnnxEmbedder)
    assert (default.model_name, default.dimension) == ("all-MiniLM-L6-v2", 384)
    assert default.inner._threads == min(2, os.cpu_count() or 1)
    one = create_embedder(Settings(data_dir=tmp_path, embedding_threads=1)).inner
    assert isinstance(one, OnnxEmbedder) and one._threads == 1
    chosen = create_embedder(Settings(data_dir=tmp_path,
                                      embedding_runtime="sentence-transformers"))
    assert isinstance(chosen.inner, LocalEmbedder)
    with pytest.raises(ValueError, match="embedding_runtime"):
        Settings(embedding_runtime="torchscript")
