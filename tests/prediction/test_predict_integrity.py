"""``predict`` never writes believable numbers it does not have: unusable boxes (NaN, inverted, zero width,
off-image) stop it or give NaN rows with a warning, and flipped, truncated or NaN weights are refused naming
the weights file."""

from __future__ import annotations

import csv
import json
import logging
import shutil
import struct

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from builder import layout
from builder.cli import main
from builder.prediction.video_prediction import predict_video
from builder.video import probe_video


@pytest.fixture(scope="module")
def walk(rendered_walk):
    """The rendered walk's video and its (T, 4) boxes (all visible)."""
    result, _ = rendered_walk
    assert result.visible.all()
    return result.out_dir / layout.VIDEO, np.asarray(result.boxes, np.float64)


def _spoiled(boxes: np.ndarray, frames: slice, width: int) -> np.ndarray:
    """``boxes`` with the given frames' boxes made unusable in turn: NaN, inverted, zero width, off-image."""
    spoiled = boxes.copy()
    for i in range(*frames.indices(len(boxes))):
        x0, y0, x1, y1 = boxes[i]
        spoiled[i] = [(np.nan, y0, x1, y1), (x1, y0, x0, y1), (x0, y0, x0, y1), (width + 5, y0, width + 40, y1)][i % 4]
    return spoiled


def test_too_few_usable_boxes_stop_the_prediction(tiny_trained_run, walk, tmp_path, capsys):
    run, _ = tiny_trained_run
    video, boxes = walk
    info = probe_video(video)
    bad = _spoiled(boxes, slice(0, len(boxes) - 3), info.width)   # 3 usable frames left
    np.save(tmp_path / "boxes.npy", bad)
    with pytest.raises(ValueError, match=rf"boxes.npy: only 3 of {len(boxes)} frames have a usable person box "
                                         r"\(NaN or inf: \d+, x1 <= x0 or y1 <= y0: \d+, outside the image: \d+"):
        predict_video(run / "model", video, tmp_path / "boxes.npy", tmp_path / "out")
    assert main(["predict", str(video), "--model", str(run / "model"), "--boxes", str(tmp_path / "boxes.npy"),
                 "-o", str(tmp_path / "out")]) == 2
    assert "only 3 of" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_frames_without_a_usable_box_get_nan_rows_and_a_warning(tiny_trained_run, walk, tmp_path, caplog):
    import opensim

    run, _ = tiny_trained_run
    video, boxes = walk
    spoiled = slice(2, 6)
    bad = _spoiled(boxes, spoiled, probe_video(video).width)
    with caplog.at_level(logging.WARNING):
        result = predict_video(run / "model", video, bad, tmp_path, overlay=False)
    assert f"4 of {len(boxes)} frames have no usable person box" in caplog.text
    missing = np.zeros(len(boxes), bool)
    missing[spoiled] = True
    np.testing.assert_array_equal(result.has_box, ~missing)
    tables = [opensim.TimeSeriesTable(str(tmp_path / name)) for name in ("activations.sto", "smpl_pose.mot")]
    sto, mot = (np.array(table.getMatrix().to_numpy()) for table in tables)   # OpenSim reads the NaN rows
    with (tmp_path / "predictions.csv").open() as handle:
        rows = np.array([[float(v) for v in row[3:]] for row in list(csv.reader(handle))[1:]])
    for table in (sto, mot, rows, result.activations, result.poses):
        np.testing.assert_array_equal(np.isnan(table).all(axis=1), missing)   # before: believable zeros / numbers
        assert np.isfinite(table[~missing]).all()


def _corrupt_copy(model_dir, into, change):
    shutil.copytree(model_dir, into)
    change(into / "model.safetensors")
    return into


def _flip_bytes(weights):
    """Overwrite the first 16 floats of the first float tensor with 0xFF bytes (NaN), as a disk error would."""
    data = bytearray(weights.read_bytes())
    header_size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + header_size])
    start = next(v["data_offsets"][0] for k, v in header.items() if k != "__metadata__" and v["dtype"] == "F32")
    data[8 + header_size + start: 8 + header_size + start + 64] = b"\xff" * 64
    weights.write_bytes(bytes(data))


def _truncate(weights):
    """Keep only the first half of the file, as an interrupted download would."""
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


def _huge_weights(weights):
    """Finite but absurd weights in one layer (3e38): the outputs overflow."""
    tensors = load_file(weights)
    tensors["transformer.layers.0.linear1.weight"] = torch.full_like(tensors["transformer.layers.0.linear1.weight"],
                                                                     3e38)
    save_file(tensors, weights, metadata={"format": "pt"})


@pytest.mark.parametrize("change, problem", [
    (_flip_bytes, "weight tensors hold NaN or inf"),
    (_truncate, "cannot be read, truncated or corrupt"),
    (_huge_weights, "the model gives NaN or inf for"),
])
def test_corrupt_weights_are_refused_naming_the_file(tiny_trained_run, walk, tmp_path, capsys, change, problem):
    run, _ = tiny_trained_run
    video, boxes = walk
    model = _corrupt_copy(run / "model", tmp_path / "model", change)
    np.save(tmp_path / "boxes.npy", boxes)
    assert main(["predict", str(video), "--model", str(model), "--boxes", str(tmp_path / "boxes.npy"),
                 "-o", str(tmp_path / "out"), "--no-overlay"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]   # after transformers' loading progress bar
    assert error.startswith(f"{model / 'model.safetensors'}: ") and problem in error, error
    assert not (tmp_path / "out" / "activations.sto").exists()
