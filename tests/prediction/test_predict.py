"""Prediction on a rendered video: every export is written and readable (the .sto by OpenSim),
and bad inputs (unreadable video, wrong box count, no boxes, checkpoint of another config) fail clearly."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from biohuman10m.vocabulary import MUSCLE_NAMES
from builder import layout
from builder.cli import main as cli_main
from builder.prediction.exports import POSE_COLUMNS
from builder.prediction.video_prediction import predict_video, read_boxes
from builder.video import probe_video, read_video


@pytest.fixture(scope="module")
def walk_video(rendered_walk, tmp_path_factory):
    """The rendered walk's video and its boxes saved as CSV (NaN rows where the body is not visible)."""
    result, _ = rendered_walk
    boxes = np.where(result.visible[:, None], result.boxes, np.nan)
    box_file = tmp_path_factory.mktemp("boxes") / "boxes.csv"
    with box_file.open("w") as handle:
        handle.write("x0,y0,x1,y1\n")
        for row in boxes:
            handle.write(",".join(f"{v:.2f}" for v in row) + "\n")
    return result.out_dir / layout.VIDEO, box_file, boxes


@pytest.fixture(scope="module")
def prediction(tiny_trained_run, walk_video, tmp_path_factory):
    run, _ = tiny_trained_run
    video, box_file, _ = walk_video
    out = tmp_path_factory.mktemp("prediction")
    return predict_video(run / "model", video, box_file, out), out


def test_predict_writes_every_output(prediction, walk_video):
    import opensim

    result, out = prediction
    video, _, boxes = walk_video
    info = probe_video(video)
    assert result.activations.shape == (info.num_frames, len(MUSCLE_NAMES))
    assert result.poses.shape == (info.num_frames, 72)
    assert ((result.activations >= 0) & (result.activations <= 1)).all()
    np.testing.assert_array_equal(result.has_box, np.isfinite(boxes).all(1))

    table = opensim.TimeSeriesTable(str(out / "activations.sto"))
    assert list(table.getColumnLabels()) == list(MUSCLE_NAMES)
    assert table.getNumRows() == info.num_frames
    np.testing.assert_allclose(np.array(table.getIndependentColumn()), np.arange(info.num_frames) / info.fps, atol=1e-5)
    soleus = table.getDependentColumn("soleus_r").to_numpy()
    np.testing.assert_allclose(soleus, result.activations[:, MUSCLE_NAMES.index("soleus_r")], atol=1e-5)

    motion = opensim.TimeSeriesTable(str(out / "smpl_pose.mot"))
    assert list(motion.getColumnLabels()) == list(POSE_COLUMNS) and motion.getNumRows() == info.num_frames
    np.testing.assert_allclose(motion.getDependentColumn("left_knee_x").to_numpy(), result.poses[:, 12], atol=1e-5)

    with (out / "predictions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == info.num_frames
    assert float(rows[3]["vaslat_r"]) == pytest.approx(result.activations[3, MUSCLE_NAMES.index("vaslat_r")], abs=1e-5)

    assert (out / "muscle_groups.png").read_bytes()[:4] == b"\x89PNG"
    overlay = probe_video(out / "overlay.mp4")
    assert overlay.num_frames == info.num_frames and (overlay.width, overlay.height) == (info.width, info.height)


def test_overlay_draws_activation_bars_beside_the_person(prediction, walk_video):
    _, out = prediction
    video, _, boxes = walk_video
    original, _ = read_video(video)
    drawn, _ = read_video(out / "overlay.mp4")
    frame = int(np.flatnonzero(np.isfinite(boxes).all(1))[0])
    x0, y0, x1, y1 = boxes[frame].astype(int)
    width = original.shape[2]
    side = slice(x1 + 4, min(width, x1 + 40)) if x1 + 40 <= width else slice(max(0, x0 - 40), x0 - 4)
    region = (slice(max(0, y0), y1), side)
    difference = np.abs(drawn[frame][region].astype(int) - original[frame][region].astype(int)).mean()
    elsewhere = np.abs(drawn[frame][:, :4].astype(int) - original[frame][:, :4].astype(int)).mean()
    assert difference > 10 > elsewhere


def test_cli_predict_runs_and_reports_bad_input(tiny_trained_run, walk_video, tmp_path, capsys):
    run, _ = tiny_trained_run
    video, box_file, _ = walk_video
    assert cli_main(["predict", str(video), "--model", str(run / "model"), "--boxes", str(box_file),
                     "-o", str(tmp_path / "cli"), "--no-overlay"]) == 0
    assert (tmp_path / "cli" / "activations.sto").is_file() and not (tmp_path / "cli" / "overlay.mp4").exists()
    assert cli_main(["predict", str(video), "--model", str(run / "model")]) == 2
    assert "no person boxes given" in capsys.readouterr().err


def test_bad_inputs_give_clear_errors(tiny_trained_run, walk_video, tmp_path):
    run, _ = tiny_trained_run
    model = run / "model"
    video, box_file, boxes = walk_video
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="no person boxes given.*ships no offline person detector"):
        predict_video(model, video, None, out)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    with pytest.raises(ValueError, match="broken.mp4: not a readable video"):
        predict_video(model, broken, box_file, out)
    with pytest.raises(FileNotFoundError, match="missing.mp4: video file not found"):
        predict_video(model, tmp_path / "missing.mp4", box_file, out)
    np.save(tmp_path / "short.npy", boxes[:-3])
    with pytest.raises(ValueError, match=f"short.npy: {len(boxes) - 3} boxes for the {len(boxes)} frames"):
        predict_video(model, video, tmp_path / "short.npy", out)
    np.save(tmp_path / "three.npy", boxes[:, :3])
    with pytest.raises(ValueError, match="three.npy: boxes must be one row of 4 numbers"):
        predict_video(model, video, tmp_path / "three.npy", out)
    assert not out.exists()  # nothing written for a refused input


@pytest.mark.parametrize("change, message", [
    ({"hidden_size": 64}, "weights do not match config.json, a checkpoint saved from another config"),
    ({"num_muscles": 80}, "predicts 80 muscles"),
    ({"model_type": "bert"}, "model type 'bert' is not a BioHuman model"),
])
def test_checkpoint_from_another_config_is_refused(tiny_trained_run, walk_video, tmp_path, change, message):
    run, _ = tiny_trained_run
    video, box_file, _ = walk_video
    other = tmp_path / "other"
    shutil.copytree(run / "model", other)
    config = json.loads((other / "config.json").read_text())
    config.update(change)
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=message):
        predict_video(other, video, box_file, tmp_path / "out")


@pytest.mark.parametrize("overlap,batch_size", [(0, 8), (3, 2)])
def test_streamed_video_prediction_equals_chunked_inference_in_memory(tiny_trained_run, walk_video, tmp_path,
                                                                      overlap, batch_size):
    """predict_video decodes and crops the video as windows advance; the result is the same as
    cropping every frame first and running predict_long_video on the whole tensor."""
    import torch

    from builder.prediction.checkpoint_loading import load_model_and_processor

    run, _ = tiny_trained_run
    video, box_file, _ = walk_video
    streamed = predict_video(run / "model", video, box_file, tmp_path, overlap=overlap, batch_size=batch_size,
                             overlay=False)
    model, processor = load_model_and_processor(run / "model")
    frames, _ = read_video(video)
    assert model.config.window_length * 2 < len(frames)  # several batches: frames are dropped and decoded on
    encoded = processor(frames, read_boxes(box_file))  # the file's boxes (rounded to 0.01 px)
    with torch.no_grad():
        whole = model.predict_long_video(overlap=overlap, batch_size=batch_size, pixel_values=encoded["pixel_values"],
                                         boxes=encoded["boxes"], attention_mask=encoded["attention_mask"])
    np.testing.assert_array_equal(streamed.activations, whole.muscle_activations[0].numpy())
    np.testing.assert_array_equal(streamed.poses, whole.pose[0].numpy())
    np.testing.assert_array_equal(streamed.has_box, encoded["attention_mask"][0].bool().numpy())
