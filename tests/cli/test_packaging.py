"""The wheel: package data in, dataset build outputs out (``biohuman10m/`` is both a package and the
default build folder), and the installed wheel runs outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers.paths import PROJECT_ROOT

from biohuman10m.layout import (
    BUILD_OUTPUTS,
    CACHE_DIR,
    CARD,
    FIGURES_DIR,
    HUB_CACHE_DIR,
    MANIFEST,
    PARQUET_DIR,
    SPLITS_FILE,
    WEBDATASET_DIR,
)

PACKAGES = ("biohuman10m", "modeling_biohuman", "builder")
PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md")

pytestmark = pytest.mark.slow


def copy_checkout(target: Path) -> Path:
    """The project's packages and build files, without caches and without earlier dataset builds."""
    for name in PROJECT_FILES:
        shutil.copy2(PROJECT_ROOT / name, target / name)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name == "__pycache__" or name.endswith(".pyc")}
        return skipped | (set(names) & set(BUILD_OUTPUTS) if Path(folder) == PROJECT_ROOT / "biohuman10m" else set())

    for package in PACKAGES:
        shutil.copytree(PROJECT_ROOT / package, target / package, ignore=ignore)
    return target


def fake_build_outputs(dataset: Path) -> None:
    """A file under every name a dataset build (or a Hub upload) puts into ``dataset``."""
    files = [dataset / CARD, dataset / SPLITS_FILE, dataset / MANIFEST, dataset / PARQUET_DIR / "train-00000.parquet",
             dataset / WEBDATASET_DIR / CARD, dataset / WEBDATASET_DIR / "train-00000.tar",
             dataset / FIGURES_DIR / "example_window.png", dataset / CACHE_DIR / "0123456789abcdef" / "seq.tar",
             dataset / HUB_CACHE_DIR / "huggingface" / "upload.lock"]
    assert {path.relative_to(dataset).parts[0] for path in files} == set(BUILD_OUTPUTS)
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n")


def package_data(root: Path) -> set[str]:
    """Every non-Python file of the packages in ``root`` (their package data)."""
    return {path.relative_to(root).as_posix() for package in PACKAGES for path in (root / package).rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = copy_checkout(tmp_path_factory.mktemp("checkout"))
    expected = package_data(source)
    fake_build_outputs(source / "biohuman10m")
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "--wheel-dir", str(dist), str(source)], check=True, capture_output=True, text=True)
    (wheel,) = dist.glob("biohuman-*.whl")
    return wheel, expected


def test_wheel_holds_the_package_data_and_no_dataset_file(wheel):
    path, expected = wheel
    names = set(zipfile.ZipFile(path).namelist())
    assert {"builder/training/configs/tiny.yaml", "builder/musculoskeletal/data/muscles_lower_limb.yaml",
            "builder/body/data/markers_anny.csv", "biohuman10m/card_template.md"} <= expected
    assert expected <= names, f"package data missing from the wheel: {sorted(expected - names)}"
    assert "builder/cli.py" in names and "modeling_biohuman/image_processing_biohuman.py" in names
    shipped = sorted(name for name in names
                     if name.split("/")[0] == "biohuman10m" and name.split("/")[1] in BUILD_OUTPUTS)
    assert not shipped, f"dataset build outputs in the wheel: {shipped}"


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    path, _ = wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "--quiet", str(path)],
                   check=True, capture_output=True, text=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"HF_HUB_OFFLINE": "1"}
    work = tmp_path / "elsewhere"
    work.mkdir()

    def run(*command: str) -> str:
        result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    site = run(str(python), "-c", "import builder, modeling_biohuman as m; print(builder.__file__, m.__file__)")
    assert all(Path(path).is_relative_to(venv) for path in site.split()), site
    assert "train" in run(str(venv / "bin" / "biohuman"), "--help")
    assert "--config" in run(str(venv / "bin" / "biohuman"), "train", "--help")
    loaded = run(str(python), "-c", SAVE_AND_LOAD, str(work / "model"))
    assert loaded.split() == ["BioHumanForMotionAndMuscle", "tiny.yaml"]


SAVE_AND_LOAD = """
import sys
from transformers import AutoModel
import modeling_biohuman as mb
from builder.training import config_path
config = mb.BioHumanConfig(image_size=(32, 24), image_encoder="vit", encoder_pretrained=False, encoder_hidden_size=32,
                           encoder_num_layers=1, encoder_num_heads=2, patch_size=8, decoder_hidden_size=32,
                           decoder_num_layers=1, decoder_num_heads=2, hidden_size=32, num_hidden_layers=1,
                           num_attention_heads=2, intermediate_size=64, window_length=8)
mb.BioHumanForMotionAndMuscle(config).save_pretrained(sys.argv[1])
print(type(AutoModel.from_pretrained(sys.argv[1])).__name__, config_path("tiny").name)
"""
