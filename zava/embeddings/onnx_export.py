"""A sentence-transformers BERT model as one ONNX graph, built from its safetensors weights
without PyTorch.

The graph is the BERT encoder (word + position + token-type-0 embeddings, LayerNorm,
N layers of self-attention and an erf-GELU feed-forward, each followed by a residual
LayerNorm), then the model's pooling (mean over the attention mask, or [CLS]) and L2
normalisation: ``input_ids`` and ``attention_mask`` (int64, batch x tokens) in,
``sentence_embedding`` (float32, batch x hidden, unit length) out. It mirrors what
sentence-transformers computes with Hugging Face's ``BertModel`` in eval mode, so the
same weights give the same vectors (cosine >= 0.999 with the shipped catalog vectors).

Building takes about a second; :func:`cached_model` does it once per weights file and
keeps the result under a cache folder, named by a hash of the weights, the model's
configuration and :data:`BUILDER_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from zava.errors import ConfigurationError

BUILDER_VERSION = 1
"""Bumped whenever the graph changes, so cached files from older builders are rebuilt."""

OPSET = 17
"""LayerNormalization is an ONNX operator from opset 17 (onnxruntime >= 1.14)."""

RUNTIME_HINT = "or use ZAVA_EMBEDDING_RUNTIME=sentence-transformers"

Pooling = Literal["mean", "cls"]


@dataclass(frozen=True)
class BertSpec:
    """What the graph needs to know about a sentence-transformers BERT model folder."""

    folder: Path
    layers: int
    hidden: int
    heads: int
    intermediate: int
    layer_norm_eps: float
    max_positions: int
    max_seq_length: int
    do_lower_case: bool
    pooling: Pooling

    @property
    def weights(self) -> Path:
        """The safetensors file."""
        return self.folder / "model.safetensors"


def _json(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read {path}: {exc}") from exc
    return data


def _pooling(folder: Path) -> Pooling:
    """The pooling sentence-transformers applies (modules.json, then its config)."""
    modules_file = folder / "modules.json"
    pooling_dir = folder / "1_Pooling"
    if modules_file.exists():
        modules: list[dict[str, Any]] = json.loads(modules_file.read_text())
        for module in modules:
            if str(module.get("type", "")).endswith("models.Pooling"):
                pooling_dir = folder / str(module.get("path", ""))
    config_file = pooling_dir / "config.json"
    if not config_file.exists():
        return "mean"  # sentence-transformers' default for a bare transformer
    config = _json(config_file)
    modes = {key.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
             for key, on in config.items() if key.startswith("pooling_mode_") and on is True}
    if modes == {"mean"}:
        return "mean"
    if modes == {"cls"}:
        return "cls"
    raise ConfigurationError(
        f"{config_file}: the onnx runtime pools by mean or [CLS] only, this model uses "
        f"{sorted(modes)}; {RUNTIME_HINT}")


def read_spec(folder: Path) -> BertSpec:
    """The model folder's architecture, checked to be a BERT encoder the graph reproduces.

    Raises ``ConfigurationError`` naming the file at fault and the way out (the
    sentence-transformers runtime) for anything else.
    """
    config_file = folder / "config.json"
    if not config_file.exists():
        raise ConfigurationError(
            f"{folder} is not a model folder (no config.json); set ZAVA_EMBEDDING_MODEL_PATH "
            "to a sentence-transformers model folder")
    if not (folder / "model.safetensors").exists():
        raise ConfigurationError(
            f"{folder} has no model.safetensors: the onnx runtime reads safetensors weights "
            f"only (pytorch_model.bin needs PyTorch); {RUNTIME_HINT}")
    config = _json(config_file)
    unsupported = {
        "model_type": (config.get("model_type"), "bert"),
        "hidden_act": (config.get("hidden_act", "gelu"), "gelu"),
        "position_embedding_type": (config.get("position_embedding_type", "absolute"),
                                    "absolute"),
    }
    for key, (value, wanted) in unsupported.items():
        if value != wanted:
            raise ConfigurationError(
                f"{config_file}: {key} is {value!r}; the onnx runtime builds {wanted!r} BERT "
                f"encoders only; {RUNTIME_HINT}")
    st_file = folder / "sentence_bert_config.json"
    st_config = _json(st_file) if st_file.exists() else {}
    max_positions = int(config["max_position_embeddings"])
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    if hidden % heads:
        raise ConfigurationError(f"{config_file}: hidden_size is not a multiple of the heads")
    return BertSpec(
        folder=folder, layers=int(config["num_hidden_layers"]), hidden=hidden, heads=heads,
        intermediate=int(config["intermediate_size"]),
        layer_norm_eps=float(config.get("layer_norm_eps", 1e-12)),
        max_positions=max_positions,
        max_seq_length=min(int(st_config.get("max_seq_length") or max_positions),
                           max_positions),
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        pooling=_pooling(folder))


def file_sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def cache_key(spec: BertSpec) -> str:
    """Names the built graph: the weights' hash, the configuration and the builder."""
    recipe = json.dumps({
        "builder": BUILDER_VERSION, "opset": OPSET, "weights": file_sha256(spec.weights),
        "config": (spec.folder / "config.json").read_text(), "pooling": spec.pooling,
    }, sort_keys=True)
    return hashlib.sha256(recipe.encode()).hexdigest()[:24]


class _Graph:
    """Collects nodes and initializers, naming every intermediate value."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []

    def const(self, name: str, value: np.ndarray) -> str:
        from onnx import numpy_helper

        self.initializers.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], name: str, **attributes: Any) -> str:
        from onnx import helper

        self.nodes.append(helper.make_node(op_type, list(inputs), [name], name=name,
                                           **attributes))
        return name

    def linear(self, x: str, weights: dict[str, np.ndarray], prefix: str, name: str) -> str:
        """``x @ W.T + b`` of a torch Linear layer called ``prefix``."""
        kernel = self.const(f"{prefix}.kernel", weights[f"{prefix}.weight"].T)
        bias = self.const(f"{prefix}.bias", weights[f"{prefix}.bias"])
        return self.op("Add", [self.op("MatMul", [x, kernel], f"{name}.matmul"), bias], name)

    def layer_norm(self, x: str, weights: dict[str, np.ndarray], prefix: str, eps: float,
                   name: str) -> str:
        gamma = self.const(f"{prefix}.gamma", weights[f"{prefix}.weight"])
        beta = self.const(f"{prefix}.beta", weights[f"{prefix}.bias"])
        return self.op("LayerNormalization", [x, gamma, beta], name, axis=-1, epsilon=eps)


def _load_weights(spec: BertSpec) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights = {key: value.astype(np.float32) if value.dtype.kind == "f" else value
               for key, value in load_file(str(spec.weights)).items()}
    # A checkpoint saved from BertForMaskedLM and the like prefixes the encoder's names.
    if "embeddings.word_embeddings.weight" not in weights:
        weights = {key.removeprefix("bert."): value for key, value in weights.items()}
    if "embeddings.word_embeddings.weight" not in weights:
        raise ConfigurationError(
            f"{spec.weights} holds no BERT embeddings (embeddings.word_embeddings.weight); "
            f"{RUNTIME_HINT}")
    return weights


def build_model(spec: BertSpec) -> Any:
    """The ONNX ``ModelProto`` of the encoder, pooling and normalisation of ``spec``."""
    import onnx
    from onnx import TensorProto, helper

    weights = _load_weights(spec)
    g = _Graph()
    head_dim = spec.hidden // spec.heads
    eps = spec.layer_norm_eps
    i64 = np.int64

    # Embeddings: word + token type 0 + absolute position, then LayerNorm.
    words = g.op("Gather", [g.const("word_embeddings",
                                    weights["embeddings.word_embeddings.weight"]),
                            "input_ids"], "embed.words", axis=0)
    token_type = weights["embeddings.token_type_embeddings.weight"][0]
    typed = g.op("Add", [words, g.const("token_type_0", token_type)], "embed.typed")
    length = g.op("Shape", ["input_ids"], "embed.length", start=1, end=2)
    positions = g.op("Slice", [g.const("position_embeddings",
                                       weights["embeddings.position_embeddings.weight"]),
                               g.const("zero", np.array([0], dtype=i64)), length,
                               g.const("axis0", np.array([0], dtype=i64))], "embed.positions")
    summed = g.op("Add", [typed, positions], "embed.sum")
    x = g.layer_norm(summed, weights, "embeddings.LayerNorm", eps, "embed.out")

    # The attention mask as an additive bias: 0 for tokens, the lowest float for padding.
    mask = g.op("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const("one", np.array(1.0, dtype=np.float32)), mask],
                    "mask.inverted")
    bias = g.op("Mul", [inverted, g.const("lowest", np.array(np.finfo(np.float32).min,
                                                            dtype=np.float32))], "mask.lowest")
    bias = g.op("Unsqueeze", [bias, g.const("axes12", np.array([1, 2], dtype=i64))],
                "mask.bias")

    split_heads = g.const("split_heads", np.array([0, 0, spec.heads, head_dim], dtype=i64))
    merge_heads = g.const("merge_heads", np.array([0, 0, spec.hidden], dtype=i64))
    scale = g.const("scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    qkv_sizes = g.const("qkv_sizes", np.array([spec.hidden] * 3, dtype=i64))
    sqrt2 = g.const("sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    half = g.const("half", np.array(0.5, dtype=np.float32))

    for layer in range(spec.layers):
        p = f"encoder.layer.{layer}"
        n = f"layer{layer}"
        # One MatMul for query, key and value, split after.
        attention = f"{p}.attention.self"
        weights[f"{attention}.qkv.weight"] = np.concatenate(
            [weights[f"{attention}.{part}.weight"] for part in ("query", "key", "value")])
        weights[f"{attention}.qkv.bias"] = np.concatenate(
            [weights[f"{attention}.{part}.bias"] for part in ("query", "key", "value")])
        qkv = g.linear(x, weights, f"{attention}.qkv", f"{n}.qkv")
        g.nodes.append(helper.make_node("Split", [qkv, qkv_sizes],
                                        [f"{n}.q", f"{n}.k", f"{n}.v"], name=f"{n}.split",
                                        axis=-1))
        q, k, v = (g.op("Reshape", [f"{n}.{part}", split_heads], f"{n}.{part}.heads")
                   for part in "qkv")
        q = g.op("Transpose", [q], f"{n}.q.t", perm=[0, 2, 1, 3])
        k = g.op("Transpose", [k], f"{n}.k.t", perm=[0, 2, 3, 1])
        v = g.op("Transpose", [v], f"{n}.v.t", perm=[0, 2, 1, 3])
        scores = g.op("Mul", [g.op("MatMul", [q, k], f"{n}.scores.raw"), scale],
                      f"{n}.scores.scaled")
        scores = g.op("Add", [scores, bias], f"{n}.scores")
        probs = g.op("Softmax", [scores], f"{n}.probs", axis=-1)
        context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{n}.context.heads")],
                       f"{n}.context.t", perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads], f"{n}.context")
        attended = g.linear(context, weights, f"{p}.attention.output.dense", f"{n}.attn.out")
        x = g.layer_norm(g.op("Add", [attended, x], f"{n}.attn.residual"), weights,
                         f"{p}.attention.output.LayerNorm", eps, f"{n}.attn.norm")
        # Feed-forward with the exact (erf) GELU: x * 0.5 * (1 + erf(x / sqrt(2))).
        inner = g.linear(x, weights, f"{p}.intermediate.dense", f"{n}.ffn.in")
        erf = g.op("Erf", [g.op("Div", [inner, sqrt2], f"{n}.gelu.div")], f"{n}.gelu.erf")
        gelu = g.op("Mul", [g.op("Mul", [inner, half], f"{n}.gelu.half"),
                            g.op("Add", [erf, g.const(f"{n}.gelu.one",
                                                      np.array(1.0, dtype=np.float32))],
                                 f"{n}.gelu.plus1")], f"{n}.gelu")
        out = g.linear(gelu, weights, f"{p}.output.dense", f"{n}.ffn.out")
        x = g.layer_norm(g.op("Add", [out, x], f"{n}.ffn.residual"), weights,
                         f"{p}.output.LayerNorm", eps, f"{n}.out")

    axis1 = g.const("axis1", np.array([1], dtype=i64))
    if spec.pooling == "mean":
        # Mean of the token vectors under the mask (the count clamped as in
        # sentence-transformers).
        mask3 = g.op("Unsqueeze", [mask, g.const("axis2", np.array([2], dtype=i64))],
                     "pool.mask")
        total = g.op("ReduceSum", [g.op("Mul", [x, mask3], "pool.masked"), axis1],
                     "pool.total", keepdims=0)
        count = g.op("ReduceSum", [mask3, axis1], "pool.count.raw", keepdims=0)
        count = g.op("Max", [count, g.const("min_count", np.array(1e-9, dtype=np.float32))],
                     "pool.count")
        pooled = g.op("Div", [total, count], "pool.mean")
    else:
        pooled = g.op("Gather", [x, g.const("cls_index", np.array(0, dtype=i64))],
                      "pool.cls", axis=1)
    # L2 normalisation, as torch.nn.functional.normalize (norm clamped at 1e-12).
    square = g.op("ReduceSum", [g.op("Mul", [pooled, pooled], "norm.squares"), axis1],
                  "norm.sum", keepdims=1)
    norm = g.op("Max", [g.op("Sqrt", [square], "norm.raw"),
                        g.const("min_norm", np.array(1e-12, dtype=np.float32))], "norm")
    g.op("Div", [pooled, norm], "sentence_embedding")

    graph = helper.make_graph(
        g.nodes, "sentence_embedding",
        inputs=[helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "tokens"])
                for name in ("input_ids", "attention_mask")],
        outputs=[helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT,
                                               ["batch", spec.hidden])],
        initializer=g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="zava", producer_version=str(BUILDER_VERSION))
    model.ir_version = 8  # readable by onnxruntime >= 1.14
    onnx.checker.check_model(model)
    return model


def cached_model(spec: BertSpec, cache_dirs: Sequence[Path], stem: str) -> Path | bytes:
    """The built graph: the cached file when one of ``cache_dirs`` has it, else built now
    and written to the first folder that accepts it; its bytes if none does."""
    name = f"{stem}-{cache_key(spec)}.onnx"
    for folder in cache_dirs:
        if (folder / name).is_file():
            return folder / name
    payload: bytes = build_model(spec).SerializeToString()
    for folder in cache_dirs:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(payload)
                os.chmod(temporary, 0o644)  # mkstemp makes it private; it holds no secret
                os.replace(temporary, folder / name)  # atomic: a racing build is harmless
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError:
            continue
        return folder / name
    return payload
