"""Windowing, splits, collation, frame codecs and the schema, each on its own."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biohuman10m.collate import collate_windows
from biohuman10m.features import WINDOW_SIZE, label_features, webdataset_features
from biohuman10m.frames import decode_jpeg, decode_mp4, encode_jpeg, encode_mp4
from builder.dataset.splits import assign_splits, read_splits, source_key, write_splits
from builder.dataset.windows import (
    WindowConfig,
    crop_affine,
    crop_frame,
    sample_key,
    window_starts,
)


@pytest.mark.parametrize("frames, size, stride, expected", [
    (100, 32, 32, [0, 32, 64, 96]),
    (64, 32, 32, [0, 32]),
    (70, 32, 16, [0, 16, 32, 48]),       # 48 + 32 - 16 = 64 < 70: 48 adds frames 64..69
    (10, 32, 8, [0]),
    (1, 32, 32, [0]),
])
def test_window_starts_cover_every_frame_once_or_more(frames, size, stride, expected):
    starts = window_starts(frames, size, stride)
    assert starts == expected
    covered = np.zeros(frames, bool)
    for start in starts:
        covered[start:start + size] = True
    assert covered.all()


def test_window_config_rejects_bad_values():
    with pytest.raises(ValueError, match="frames must be one of"):
        WindowConfig(frames="boxes")
    with pytest.raises(ValueError, match="even"):
        WindowConfig(crop_size=255)
    with pytest.raises(ValueError, match="positive"):
        WindowConfig(stride=0)


def test_sample_keys_have_no_dots():
    assert sample_key("h36m.S1.Walking 1", 64) == "h36m_S1_Walking_1_w000064"


def test_crop_affine_maps_crop_to_the_box_and_crops_the_right_pixels():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[40:60, 90:110] = 255                        # a white square centred at (100, 50)
    box = np.array([80, 30, 120, 70], np.float32)     # 40x40 box around it
    affine = crop_affine(box, (200, 100), crop_size=48, scale=1.2)
    np.testing.assert_allclose(affine @ [24, 24, 1], [100, 50])
    np.testing.assert_allclose(affine[0, 0] * 48, 48)  # side = 40 x 1.2
    crop = crop_frame(frame, affine, 48)
    assert crop.shape == (48, 48, 3)
    assert crop[24, 24].min() > 200 and crop[2, 2].max() < 50
    whole = crop_affine(None, (200, 100), crop_size=50, scale=1.2)
    np.testing.assert_allclose(whole @ [0, 0, 1], [0, -50])    # the square covering the whole image


def test_splits_follow_the_rules_and_are_reproducible(tmp_path):
    sequences = [(f"mp_{i}", "MotionPRO", f"m{i % 7}") for i in range(50)]
    sequences += [(f"h36m_{s}_{a}", "Human3.6M", s) for s in ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
                  for a in range(3)]
    sequences += [(f"emdb_{i}", "EMDB", f"P{i // 2}") for i in range(20)]
    sequences += [(f"3dpw_{i}", "3DPW", f"x{i}") for i in range(10)]
    sequences += [(f"bedlam_{i}", "BEDLAM", f"b{i}") for i in range(30)]
    sequences += [(f"default_{i}", "default", "anny") for i in range(15)]
    splits = assign_splits(sequences)
    assert splits == assign_splits(list(reversed(sequences)))
    by_source: dict = {}
    for sequence_id, source, subject in sequences:
        by_source.setdefault(source_key(source), []).append((subject, splits[sequence_id]))
    assert sum(s == "test" for _, s in by_source["motionpro"]) == 10                       # 8:2 by sequence
    for source, subjects in (("human36m", 7), ("emdb", 10)):
        test_subjects = {subject for subject, split in by_source[source] if split == "test"}
        train_subjects = {subject for subject, split in by_source[source] if split == "train"}
        assert not test_subjects & train_subjects                                           # subject level
        assert len(test_subjects) == round(0.2 * subjects)
    assert sum(s == "test" for _, s in by_source["3dpw"]) == 2
    assert all(split == "train" for _, split in by_source["bedlam"])
    assert sum(s == "test" for _, s in by_source["default"]) == 3
    write_splits(tmp_path / "splits.json", splits, "salt")
    assert read_splits(tmp_path / "splits.json") == splits
    assert assign_splits(sequences, salt="other") != splits


def test_collate_pads_mixed_length_windows_and_stacks_frames():
    def window(length: int, full: int = 8, seed: int = 0) -> dict:
        rng = np.random.default_rng(seed)
        mask = np.arange(full) < length
        return {"json": {"sequence_id": f"s{seed}", "num_frames": length, "start_frame": 0},
                "poses.npy": rng.normal(size=(full, 72)).astype(np.float32) * mask[:, None],
                "activations.npy": rng.uniform(size=(full, 112)).astype(np.float32),
                "frame_mask.npy": mask, "muscle_mask.npy": mask,
                "frame_index.npy": np.where(mask, np.arange(full), -1),
                "betas.npy": np.ones(10 + seed, np.float32),
                "frames.mp4": encode_mp4(rng.integers(0, 255, (length, 16, 16, 3), dtype=np.uint8), 30)}

    short = window(3, full=5, seed=1)
    long = window(8, seed=0)
    batch = collate_windows([long, short])
    assert batch["poses"].shape == (2, 8, 72) and batch["poses"].dtype == torch.float32
    assert batch["frames"].shape == (2, 8, 16, 16, 3) and batch["frames"].dtype == torch.uint8
    assert batch["frame_mask"].tolist()[1] == [True] * 3 + [False] * 5
    assert batch["frame_index"][1, 5:].tolist() == [-1, -1, -1]
    assert batch["betas"].shape == (2, 11) and batch["betas"][0, 10] == 0
    assert batch["sequence_id"] == ["s0", "s1"] and not batch["frames"][1, 3:].any()
    labels_only = collate_windows([long], decode_frames=False)
    assert "frames" not in labels_only
    with pytest.raises(ValueError, match="empty"):
        collate_windows([])


def test_frame_codecs_round_trip():
    rng = np.random.default_rng(0)
    frames = np.repeat(np.repeat(rng.integers(0, 255, (6, 4, 4, 3), dtype=np.uint8), 16, axis=1), 16, axis=2)
    data = encode_mp4(frames, 25.0, crf=0)
    assert data == encode_mp4(frames, 25.0, crf=0)
    decoded = decode_mp4(data)
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 12   # yuv420p chroma subsampling
    assert np.abs(decode_jpeg(encode_jpeg(frames[0], 95)).astype(int) - frames[0]).mean() < 12
    with pytest.raises(ValueError, match="even"):
        encode_mp4(np.zeros((2, 15, 16, 3), np.uint8), 30)


def test_schema_shapes():
    features = label_features()
    assert features["poses"].shape == (WINDOW_SIZE, 72) and features["activations"].shape == (WINDOW_SIZE, 112)
    assert "crop_affine" in label_features(crops=True) and "crop_affine" not in features
    jpg = webdataset_features(16, "jpg")
    assert "f15.jpg" in jpg and "frames.mp4" not in jpg and jpg["poses.npy"].shape == (16, 72)
    import biohuman10m

    assert biohuman10m.FEATURES == features


def test_activation_rows_follow_frames_despite_rounded_drifting_times(tmp_path):
    from helpers.sequences import write_sto

    from biohuman10m.vocabulary import MUSCLE_NAMES
    from builder.dataset.sequence_files import _activations_at

    times = np.arange(90) / 30.0
    rows = np.random.default_rng(0).uniform(0.01, 1, (90, len(MUSCLE_NAMES)))
    write_sto(tmp_path / "drift.sto", times * (1 - 1.5e-5) - 9e-6, rows)   # as BioSim's IK grid came out
    values, valid = _activations_at(tmp_path / "drift.sto", times)
    assert valid.all()
    np.testing.assert_allclose(values, rows, atol=1e-6)       # each frame gets its own row, not an interpolation

    fine = np.arange(10, 50) / 60.0                            # another rate, covering frames 5..24 only
    write_sto(tmp_path / "fine.sto", fine, np.tile(fine[:, None], (1, len(MUSCLE_NAMES))))
    values, valid = _activations_at(tmp_path / "fine.sto", times)
    assert valid.tolist() == [5 <= i <= 24 for i in range(90)]
    np.testing.assert_allclose(values[valid, 0], times[valid], atol=1e-6)   # linear columns interpolate exactly
    assert not values[~valid].any()
