"""Training and evaluation read exactly the built dataset: a rebuild is never served from an old
``datasets`` cache, and a flipped byte, a truncated, missing or unlisted shard stops them with the file named."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
from helpers.sequences import make_sequence, write_sto

from builder import layout
from builder.biosim.storage import read_storage
from builder.cli import main
from builder.dataset.build import BuildConfig, build_dataset
from builder.dataset.manifest import ShardChecksumError
from builder.dataset.windows import WindowConfig
from builder.evaluation.protocol import MEAN_PREDICTOR, MeanActivationPredictor, evaluate
from builder.evaluation.window_data import WindowDataset

CONFIG = BuildConfig(window=WindowConfig(size=8, stride=8))


@pytest.fixture(autouse=True)
def own_datasets_cache(tmp_path, monkeypatch):
    """Each test starts from an empty ``datasets`` cache, shared by every load inside the test (as a user's is)."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf_cache"))


@pytest.fixture(scope="module")
def sequences(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("integrity_sequences")
    for i in range(4):
        make_sequence(root, f"clip{i}", subject=f"s{i}", num_frames=24, seed=i)
    return root


@pytest.fixture
def built(sequences, tmp_path) -> Path:
    out = tmp_path / "dataset"
    build_dataset(sequences, out, CONFIG)
    return out


def _halve_labels(sequences: Path, into: Path) -> Path:
    """A copy of the BioSim outputs whose activation labels are halved (same files, same sizes)."""
    shutil.copytree(sequences, into)
    for folder in sorted((into / "sequences").iterdir()):
        table = read_storage(folder / layout.ACTIVATIONS)
        write_sto(folder / layout.ACTIVATIONS, table.time, table.data / 2)
    return into


def _mean_label(dataset: WindowDataset) -> float:
    arrays = dataset.arrays(["activations", "muscle_mask"])
    return float(arrays["activations"][arrays["muscle_mask"]].mean())


def test_rebuild_with_new_labels_is_read_by_training_and_evaluation(sequences, built, tmp_path):
    before = _mean_label(WindowDataset(built, "train"))
    means_before = MeanActivationPredictor.fit(built).means
    halved = _halve_labels(sequences, tmp_path / "halved")
    build_dataset(halved, built, CONFIG)   # the same folder, rebuilt with new labels
    train = WindowDataset(built, "train")   # what training reads
    assert _mean_label(train) == pytest.approx(before / 2, rel=1e-5)
    np.testing.assert_allclose(MeanActivationPredictor.fit(built).means, means_before / 2, rtol=1e-5)  # evaluation
    count = len(WindowDataset(built / "webdataset", "test"))
    overlapping = BuildConfig(window=WindowConfig(size=8, stride=4))   # same card features, more windows
    manifest = build_dataset(halved, built, overlapping)
    listed = sum(e["windows"] for e in manifest["files"] if e.get("split") == "test" and e["format"] == "webdataset")
    assert len(WindowDataset(built / "webdataset", "test")) == listed > count


def _flip_label_byte(shard: Path) -> None:
    """Flip one byte inside the first window's activation array (the file keeps its size)."""
    with tarfile.open(shard) as archive:
        member = next(m for m in archive if m.name.endswith(".activations.npy"))
    with shard.open("r+b") as handle:
        handle.seek(member.offset_data + member.size - 5)
        value = handle.read(1)[0]
        handle.seek(-1, 1)
        handle.write(bytes([value ^ 0x20]))


def test_flipped_byte_is_refused_when_checksums_are_verified(built, tmp_path, capsys):
    shard = next((built / "webdataset").glob("train-*.tar"))
    _flip_label_byte(shard)
    with pytest.raises(ShardChecksumError, match=rf"{shard}: sha256 \w+ does not match the manifest's"):
        WindowDataset(built, "train", verify_checksums=True)
    assert main(["dataset", "verify", str(built)]) == 2
    assert f"{shard}: sha256" in capsys.readouterr().err
    assert main(["train", "--config", "tiny", "--dataset", str(built), "-o", str(tmp_path / "run"),
                 "--verify-checksums"]) == 2
    assert f"{shard}: sha256" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_truncated_missing_and_unlisted_shards_are_refused_by_name(built, tmp_path, capsys):
    shard = next((built / "webdataset").glob("test-*.tar"))
    whole = shard.read_bytes()
    shard.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ShardChecksumError,
                       match=rf"{shard}: size {len(whole) // 2} bytes, manifest says {len(whole)}"):
        WindowDataset(built, "test")
    assert main(["evaluate", "--dataset", str(built), "--model", MEAN_PREDICTOR, "-o", str(tmp_path / "eval")]) == 2
    assert f"{shard}: size {len(whole) // 2} bytes" in capsys.readouterr().err
    assert not (tmp_path / "eval").exists()

    shard.unlink()
    with pytest.raises(ShardChecksumError, match=rf"{shard}: missing"):
        WindowDataset(built, "train")

    shard.write_bytes(whole)
    stray = built / "webdataset" / "train-00099.tar"
    shutil.copy(shard, stray)
    with pytest.raises(ShardChecksumError, match=rf"{stray}: not listed in manifest.json"):
        WindowDataset(built, "train")
    assert main(["dataset", "verify", str(built)]) == 2
    assert f"{stray}: not listed in manifest.json" in capsys.readouterr().err
    stray.unlink()
    assert evaluate(MEAN_PREDICTOR, built, tmp_path / "eval")["num_windows"] == len(WindowDataset(built, "test"))
