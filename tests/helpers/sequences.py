"""Small, real per-sequence BioSim output folders for the dataset tests.

Each folder holds real files in the formats of ``builder.layout``, written by the project's own
writers where they exist: motion.npz (``builder.sources.motion_file.save_motion``), record.json
(``builder.biosim.record.SequenceRecord``, or the plain ``kept``/``drop_reason`` contract),
activations.sto written by OpenSim's own STOFileAdapter, an H.264 video.mp4 encoded with PyAV
(one frame per motion frame, frame number drawn into the pixels), boxes and camera.
``sequence_truth``, ``read_frames`` and ``check_window`` read such a folder back independently of the
dataset code and compare a built window with it.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from biohuman10m.vocabulary import MUSCLE_NAMES
from builder import layout
from builder.biosim.record import SequenceRecord
from builder.sources.motion import MotionSequence
from builder.sources.motion_file import save_motion

WIDTH, HEIGHT = 96, 64


def write_sto(path: Path, times: np.ndarray, activations: np.ndarray) -> None:
    """Write activations with OpenSim's STOFileAdapter (a real OpenSim storage file)."""
    import opensim

    table = opensim.TimeSeriesTable()
    table.setColumnLabels(list(MUSCLE_NAMES))
    for time, row in zip(times, activations):
        table.appendRow(float(time), opensim.RowVector([float(v) for v in row]))
    table.addTableMetaDataString("inDegrees", "no")
    opensim.STOFileAdapter.write(table, str(path))


def frame_image(index: int, seed: int) -> np.ndarray:
    """A frame whose colours encode its index (so decoded frames can be matched to frame numbers)."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image[..., 0] = (index * 7) % 256
    image[..., 1] = (seed * 40) % 256
    image[: HEIGHT // 2, : WIDTH // 2, 2] = 200
    column = (index % 12) * 8
    image[HEIGHT // 2:, column: column + 8] = 255   # bars that move from frame to frame
    column = (index // 12 % 12) * 8
    image[: HEIGHT // 2, column: column + 8, 1] = 255
    return image


def write_video(path: Path, frames: np.ndarray, fps: float) -> None:
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"crf": "10"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def make_sequence(root: Path, sequence_id: str, source: str = "default", subject: str = "s0", num_frames: int = 40,
                  fps: float = 30.0, seed: int = 0, kept: bool = True, drop_reason: str | None = None,
                  invalid_frames: tuple[int, ...] = (), nan_activation_frames: tuple[int, ...] = (),
                  invisible_frames: tuple[int, ...] = (), record_style: str = "biosim") -> Path:
    """Write one sequence folder under ``root/sequences`` and return it."""
    rng = np.random.default_rng(seed)
    folder = layout.sequence_dir(root, sequence_id)
    folder.mkdir(parents=True, exist_ok=True)
    times = np.arange(num_frames) / fps
    frame_valid = np.ones(num_frames, bool)
    frame_valid[list(invalid_frames)] = False
    sequence = MotionSequence(sequence_id=sequence_id, source=source, subject=subject,
                              poses=rng.normal(0, 0.3, (num_frames, 72)), trans=rng.normal(0, 1, (num_frames, 3)),
                              fps=fps, betas=rng.normal(0, 1, 10), frame_valid=frame_valid)
    save_motion(sequence, folder / layout.MOTION)
    activations = rng.uniform(0.01, 1.0, (num_frames, len(MUSCLE_NAMES)))
    activations[list(nan_activation_frames)] = np.nan
    write_sto(folder / layout.ACTIVATIONS, times, activations)
    write_video(folder / layout.VIDEO, np.stack([frame_image(i, seed) for i in range(num_frames)]), fps)
    boxes = np.tile(np.array([20, 10, 60, 60], np.float32), (num_frames, 1)) + np.arange(num_frames)[:, None] % 5
    visible = np.ones(num_frames, bool)
    visible[list(invisible_frames)] = False
    boxes[~visible] = np.nan
    np.save(folder / layout.BOXES, boxes)
    np.save(folder / layout.BOX_VISIBLE, visible)
    np.savez(folder / layout.CAMERA, K=np.eye(3), R=np.eye(3)[None], t=np.zeros((1, 3)),
             image_size=np.array([WIDTH, HEIGHT]))
    settings = {"thresholds": {"max_marker_error": 0.15, "max_constraint_violation": 1e-11},
                "smoothing": {"window_s": 0.367, "order": 2}}
    if record_style == "biosim":
        SequenceRecord(sequence_id=sequence_id, status="kept" if kept else "dropped",
                       reasons=[] if kept else [drop_reason], settings=settings).write(folder / layout.RECORD)
    else:   # the dataset's plain contract
        record = {"sequence_id": sequence_id, "source": source, "subject": subject, "kept": kept,
                  "drop_reason": drop_reason, "settings": settings}
        (folder / layout.RECORD).write_text(json.dumps(record))
    return folder


def make_corpus(root: Path, frames: int = 40) -> list[Path]:
    """A few sources, subjects and a dropped sequence: enough for splits, masks and statistics."""
    specs = [
        ("h36m_S1_walk", "Human3.6M", "S1", 0), ("h36m_S5_walk", "Human3.6M", "S5", 1),
        ("h36m_S9_run", "Human3.6M", "S9", 2), ("bedlam_0001", "BEDLAM", "b1", 3),
        ("default_walk", "default", "anny", 4), ("default_jump", "default", "anny", 5),
    ]
    folders = [make_sequence(root, sid, source, subject, num_frames=frames + 3 * seed, seed=seed,
                             invalid_frames=(5,), nan_activation_frames=(7,), invisible_frames=(2, 3),
                             record_style="contract" if seed == 4 else "biosim")
               for sid, source, subject, seed in specs]
    folders.append(make_sequence(root, "default_dropped", "default", "anny", num_frames=frames, seed=9, kept=False,
                                 drop_reason="IK max marker error 0.213 m > 0.15 m"))
    return folders


def sequence_truth(corpus: Path, sequence_id: str) -> dict:
    """The per-sequence files read independently of the dataset code (OpenSim reads the .sto)."""
    import opensim

    folder = layout.sequence_dir(corpus, sequence_id)
    motion = np.load(folder / layout.MOTION)
    table = opensim.TimeSeriesTable(str(folder / layout.ACTIVATIONS))
    matrix = table.getMatrix().to_numpy()
    labels = list(table.getColumnLabels())
    # BioSim's activation rows, placed at the motion frames they belong to (NaN where a frame has none)
    sto_times = np.asarray(table.getIndependentColumn())
    rows = np.abs(motion["times"][:, None] - sto_times[None]).argmin(axis=1)
    has_row = np.abs(sto_times[rows] - motion["times"]) < 0.5 / float(motion["fps"])
    activations = np.where(has_row[:, None], matrix[rows][:, [labels.index(name) for name in MUSCLE_NAMES]], np.nan)
    # BioSim's frame mask (validity.sto), where the sequence has one
    trusted = np.ones(len(motion["times"]), bool)
    if (folder / layout.VALIDITY).is_file():
        validity = opensim.TimeSeriesTable(str(folder / layout.VALIDITY))
        valid_times = np.asarray(validity.getIndependentColumn())
        nearest = np.abs(motion["times"][:, None] - valid_times[None]).argmin(axis=1)
        trusted = validity.getDependentColumn("valid").to_numpy()[nearest] > 0.5
    return {"poses": motion["poses"], "trans": motion["trans"], "betas": motion["betas"],
            "frame_valid": motion["frame_valid"], "trusted": trusted,
            "times": motion["times"], "activations": activations,
            "boxes": np.load(folder / layout.BOXES), "box_visible": np.load(folder / layout.BOX_VISIBLE),
            "source": str(motion["source"])}


def read_frames(corpus: Path, sequence_id: str) -> np.ndarray:
    """The decoded RGB frames of a sequence's video (T, H, W, 3), read with PyAV alone."""
    import av

    with av.open(str(layout.sequence_dir(corpus, sequence_id) / layout.VIDEO)) as container:
        return np.stack([frame.to_ndarray(format="rgb24").copy() for frame in container.decode(video=0)])


def check_window(window: dict, truth: dict) -> None:
    """A window's arrays equal the per-sequence files at its frames; padding and masks are right."""
    start, count = int(window["start_frame"]), int(window["num_frames"])
    frames = slice(start, start + count)
    np.testing.assert_array_equal(window["frame_mask"], np.arange(len(window["frame_mask"])) < count)
    np.testing.assert_array_equal(window["frame_index"][:count], np.arange(start, start + count))
    assert (window["frame_index"][count:] == -1).all()
    np.testing.assert_array_equal(window["poses"][:count], truth["poses"][frames])
    np.testing.assert_array_equal(window["trans"][:count], truth["trans"][frames])
    np.testing.assert_array_equal(window["betas"], truth["betas"])
    np.testing.assert_allclose(window["times"][:count], truth["times"][frames])
    np.testing.assert_array_equal(window["pose_mask"][:count], truth["frame_valid"][frames])
    activations = truth["activations"][frames]
    expected_muscle = truth["frame_valid"][frames] & truth["trusted"][frames] & np.isfinite(activations).all(axis=1)
    np.testing.assert_array_equal(window["muscle_mask"][:count], expected_muscle)
    np.testing.assert_allclose(window["activations"][:count][expected_muscle], activations[expected_muscle],
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(window["box_visible"][:count], truth["box_visible"][frames])
    visible = truth["box_visible"][frames]
    np.testing.assert_array_equal(window["boxes"][:count][visible], truth["boxes"][frames][visible])
    for mask in ("pose_mask", "muscle_mask", "box_visible"):
        assert not window[mask][count:].any()
    assert not window["poses"][count:].any() and not window["activations"][count:].any()
