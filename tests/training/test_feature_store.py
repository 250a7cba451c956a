"""Frozen-feature store and mirrored samples: the stored path computes what the pixel path computes,
mirrored labels describe the mirrored body, and runs from the store train, evaluate and report."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from biohuman10m.metrics import smpl_forward_kinematics
from biohuman10m.skeleton import SMPL_NEUTRAL_REST_JOINTS
from biohuman10m.vocabulary import MUSCLE_NAMES
from builder.evaluation.feature_store import StoreWindows, feature_store
from builder.evaluation.protocol import MEAN_PREDICTOR, MethodRuns, evaluate, evaluate_methods
from builder.evaluation.window_data import WindowDataset, model_inputs
from builder.training.mirroring import (
    mirror_boxes,
    mirror_muscles,
    mirror_pose,
    muscle_mirror_permutation,
    smpl_mirror_permutation,
)
from builder.training.trainer import TrainConfig, build_model_and_processor, train

SMALL_FROZEN = {"image_size": [64, 48], "image_encoder": "efficientnet_lite0", "encoder_pretrained": True,
                "decoder_hidden_size": 32, "decoder_num_layers": 1, "decoder_num_heads": 2, "num_fourier_features": 8,
                "hidden_size": 32, "pose_encoder_layers": 1, "num_hidden_layers": 1, "num_attention_heads": 2,
                "intermediate_size": 64, "window_length": 8}


def _config(**overrides) -> TrainConfig:
    values = {"model_config": dict(SMALL_FROZEN), "freeze_image_encoder": True, "precompute_features": True,
              "per_device_batch_size": 2, "max_steps": 4, "checkpoint_every": 2, "learning_rate": 1e-3,
              "warmup_steps": 1, "report_to": "none", "log_every": 1}
    return TrainConfig.from_dict({**values, **overrides})


def test_mirroring_swaps_sides_and_reflects_the_skeleton():
    joints, muscles = smpl_mirror_permutation(), muscle_mirror_permutation()
    assert (joints[joints] == np.arange(24)).all() and (muscles[muscles] == np.arange(len(MUSCLE_NAMES))).all()
    assert all(MUSCLE_NAMES[muscles[i]][:-2] == name[:-2] and MUSCLE_NAMES[muscles[i]] != name
               for i, name in enumerate(MUSCLE_NAMES))
    rng = np.random.default_rng(0)
    pose = rng.normal(0, 0.4, (5, 72))
    np.testing.assert_allclose(mirror_pose(mirror_pose(pose)), pose)
    # on a left-right symmetric skeleton, the mirrored pose puts every joint at the reflected partner's place
    rest = SMPL_NEUTRAL_REST_JOINTS - SMPL_NEUTRAL_REST_JOINTS[0]
    rest = (rest + rest[joints] * [-1, 1, 1]) / 2
    original = smpl_forward_kinematics(pose, rest)
    mirrored = smpl_forward_kinematics(mirror_pose(pose), rest)
    np.testing.assert_allclose(mirrored, original[:, joints] * [-1, 1, 1], atol=1e-9)
    activations = rng.uniform(size=(3, 112))
    soleus_l, soleus_r = MUSCLE_NAMES.index("soleus_l"), MUSCLE_NAMES.index("soleus_r")
    assert mirror_muscles(activations)[0, soleus_l] == activations[0, soleus_r]
    np.testing.assert_allclose(mirror_boxes(np.array([10.0, 5, 30, 40]), 48), [18, 5, 38, 40])


@pytest.fixture(scope="module")
def store_run(tiny_dataset, tmp_path_factory):
    root = tmp_path_factory.mktemp("store_run")
    config = _config(mirror_augmentation=True, feature_store_dir=str(root / "features"))
    metrics = train(config, tiny_dataset, root / "run")
    return root, config, metrics


def test_stored_features_give_the_pixel_path_outputs(store_run, tiny_dataset):
    root, config, _ = store_run
    model, processor = build_model_and_processor(config)
    model.eval()
    train_store = feature_store(model, processor, tiny_dataset, "train", root / "features", mirrored=True)
    assert train_store.mirrored_features is not None  # opened, not rebuilt: the run made it
    dataset = WindowDataset(tiny_dataset, "train")
    from biohuman10m.collate import collate_windows

    indices = np.arange(min(3, len(dataset)))
    pixels = model_inputs(collate_windows([dataset[int(i)] for i in indices]), processor)
    stored = train_store.model_inputs(indices)
    for name in ("attention_mask", "pose_labels", "muscle_labels", "pose_mask", "muscle_mask"):
        torch.testing.assert_close(stored[name].to(pixels[name].dtype), pixels[name])
    with torch.no_grad():
        mask = pixels["attention_mask"].bool()
        maps = model.hmr.encoder.backbone_features(pixels["pixel_values"][mask])
        torch.testing.assert_close(stored["image_features"][mask], maps, atol=6e-3, rtol=2e-3)  # float16 storage
        flipped = model.hmr.encoder.backbone_features(pixels["pixel_values"][mask].flip(-1))
        mirrored = train_store.model_inputs(indices, mirrored=True)
        torch.testing.assert_close(mirrored["image_features"][mask], flipped, atol=6e-3, rtol=2e-3)
        from_pixels = model(**{k: pixels[k] for k in ("pixel_values", "boxes", "attention_mask")})
        from_store = model(**{k: stored[k] for k in ("image_features", "boxes", "attention_mask")})
    torch.testing.assert_close(from_store.muscle_activations, from_pixels.muscle_activations, atol=2e-3, rtol=0)
    torch.testing.assert_close(from_store.pose, from_pixels.pose, atol=2e-3, rtol=0)
    torch.testing.assert_close(stored["boxes"][mask], pixels["boxes"][mask].float())
    np.testing.assert_allclose(mirrored["muscle_labels"].numpy(), mirror_muscles(stored["muscle_labels"].numpy()))
    windows = StoreWindows(train_store, mirrored=True)
    assert len(windows) == 2 * len(train_store) and windows.sources[:len(train_store)] == train_store.sources
    batch = windows.__getitems__([len(train_store), 0])
    mirrored = torch.from_numpy(mirror_pose(stored["pose_labels"][0].numpy()))
    torch.testing.assert_close(batch["pose_labels"][0], mirrored)
    torch.testing.assert_close(batch["pose_labels"][1], stored["pose_labels"][0])


def test_store_run_evaluates_the_same_from_its_saved_folder(store_run, tiny_dataset, tmp_path):
    root, _, metrics = store_run
    stores = sorted((root / "features").iterdir())
    saved = evaluate(root / "run" / "model", tiny_dataset, tmp_path / "eval", feature_root=root / "features")
    assert saved["muscle"] == pytest.approx(metrics["muscle"], rel=1e-9, nan_ok=True)
    assert sorted((root / "features").iterdir()) == stores   # the saved processor finds the training run's store
    from_video = evaluate(root / "run" / "model", tiny_dataset, tmp_path / "video")
    assert from_video["muscle"]["rmse"] == pytest.approx(metrics["muscle"]["rmse"], abs=2e-3)


def test_ceiling_trains_on_true_poses_and_the_report_measures_rows_against_it(store_run, tiny_dataset, tmp_path):
    root, _, _ = store_run
    runs = []
    for seed in (0, 1):
        config = _config(motion_input="ground_truth", seed=seed, feature_store_dir=str(root / "features"),
                         model_config={**SMALL_FROZEN, "fusion_mode": "pose_only"})
        train(config, tiny_dataset, tmp_path / f"ceiling-{seed}")
        runs.append(tmp_path / f"ceiling-{seed}" / "model")
    with pytest.raises(ValueError, match="feature_root"):
        evaluate(runs[0], tiny_dataset, tmp_path / "x", motion_input="ground_truth")
    methods = {"Ceiling": MethodRuns(tuple(runs), "ground_truth"), "Video": MethodRuns((root / "run" / "model",)),
               "Mean activation": MethodRuns((MEAN_PREDICTOR,))}
    results, report = evaluate_methods(methods, tiny_dataset, tmp_path / "report", feature_root=root / "features",
                                       reference_rows=("Mean activation", "Ceiling"))
    ceiling_runs = results["Ceiling"]["runs"]
    assert len(ceiling_runs) == 2 and (tmp_path / "report" / "Ceiling" / "seed-1" / "metrics.json").is_file()
    assert results["Ceiling"]["muscle"]["pcc"] == pytest.approx(np.mean([r["muscle"]["pcc"] for r in ceiling_runs]))
    text = report.read_text()
    for heading in ("## Summary", "95% CI", "## Against the references", "## Gait muscles", "## Every seed"):
        assert heading in text
    summary = json.loads((tmp_path / "report" / "metrics.json").read_text())
    low, high = summary["Ceiling"]["pcc_interval_95"]
    assert low <= high and -1 <= low and high <= 1


def _store_with_poses_in_the_maps(folder, frames: int = 96, windows: int = 12) -> None:
    """A feature store on disk (stride-32 maps of 64x48 crops) whose maps and pose labels both depend on 4
    hidden factors per frame, so a front-end can learn the poses; windows of 8 frames point at the frames."""
    from builder.evaluation.feature_store import WINDOW_ARRAYS

    rng = np.random.default_rng(0)
    factors = rng.normal(size=(frames, 4))
    maps = (factors @ rng.normal(size=(4, 1280 * 4)) + 0.1 * rng.normal(size=(frames, 1280 * 4)))
    maps = maps.reshape(frames, 1280, 2, 2).astype(np.float16)
    poses = np.zeros((frames, 72), np.float32)
    poses[:, 3:66] = 0.5 * np.tanh(factors @ rng.normal(size=(4, 63)))
    folder.mkdir(parents=True)
    np.save(folder / "features.npy", maps)
    np.save(folder / "features_mirrored.npy", maps[:, :, :, ::-1].copy())
    rows = np.arange(windows * 8).reshape(windows, 8) % frames
    arrays = {"rows": rows, "boxes": np.tile([4.0, 2.0, 44.0, 62.0], (windows, 8, 1)),
              "attention_mask": np.ones((windows, 8), bool), "pose_labels": poses[rows],
              "muscle_labels": np.zeros((windows, 8, 112), np.float32), "pose_mask": np.ones((windows, 8), bool),
              "muscle_mask": np.zeros((windows, 8), bool), "frame_index": rows}
    assert set(arrays) == set(WINDOW_ARRAYS)
    np.savez(folder / "windows.npz", **arrays, keys=np.array([f"w{i}" for i in range(windows)]),
             sequence_ids=np.array(["s"] * windows), sources=np.array(["synthetic"] * windows),
             subjects=np.array(["a"] * windows), fps=np.full(windows, 30.0))
    (folder / "done").write_text(json.dumps({"frames": frames, "windows": windows, "crop_width": 48}))


def test_front_end_pretraining_learns_poses_from_random_frames(tmp_path):
    """The pretraining stage fits the front-end's poses to the store's frames, reads the mirrored maps with
    mirrored labels and boxes, is reproducible, and needs the store."""
    from builder.evaluation.feature_store import FeatureStore
    from builder.training.front_end_pretraining import LabelledFrames, frame_batch, pretrain_front_end

    _store_with_poses_in_the_maps(tmp_path / "store")
    store = FeatureStore.open(tmp_path / "store")
    frames = LabelledFrames.of(store)
    assert len(frames) == 96 and (frames.rows == np.arange(96)).all()
    maps, boxes, poses = frame_batch(store, frames, np.array([5, 1, 5]), np.array([False, False, True]))
    torch.testing.assert_close(maps[2], torch.from_numpy(store.mirrored_features[5].astype(np.float32)))
    torch.testing.assert_close(maps[0], torch.from_numpy(store.features[5].astype(np.float32)))
    np.testing.assert_allclose(poses[2].numpy(), mirror_pose(frames.poses[5]), rtol=1e-6)
    np.testing.assert_allclose(boxes[2].numpy(), mirror_boxes(frames.boxes[5], 48))
    everything = frame_batch(store, frames, np.arange(len(frames)), np.zeros(len(frames), bool))
    config = _config(model_config={**SMALL_FROZEN, "hmr_head": "conv_regressor", "neck_channels": 16,
                                   "decoder_hidden_size": 64, "encoder_pretrained": False})

    def error(front_end: torch.nn.Module) -> float:
        with torch.no_grad():
            return float((front_end.eval()(None, everything[1], image_features=everything[0])["pose"]
                          - everything[2]).abs().mean())

    def run() -> tuple[float, float, list[float]]:
        torch.manual_seed(0)
        model, _ = build_model_and_processor(config)
        before = error(model.hmr)
        losses = pretrain_front_end(model.hmr, store, 150, 32, 1e-2, 0.0, seed=0, mirrored=False, pose_loss="l1")
        return before, error(model.hmr), losses

    (before, after, losses), (_, after_again, losses_again) = run(), run()
    assert after < 0.7 * before, (before, after)
    assert losses == losses_again and after == after_again
    with pytest.raises(Exception, match="precompute_features"):
        _config(precompute_features=False, front_end_pretraining_steps=10)


def test_pretrained_front_end_file_is_keyed_by_its_inputs_and_loads(store_run, tiny_dataset, tmp_path):
    """A shared pretrained front-end: reused for the same inputs, a new file for another seed, loaded into a
    fresh model of the same config (same outputs), refused with the file's name by another architecture."""
    from biohuman10m.errors import InputError, MissingInputError
    from builder.training.front_end_pretraining import load_front_end, pretrained_front_end_file

    root, _, _ = store_run
    config = _config(model_config={**SMALL_FROZEN, "hmr_head": "conv_regressor", "neck_channels": 16},
                     front_end_pretraining_steps=3, mirror_augmentation=True, feature_store_dir=str(root / "features"))

    def pretrained():
        return pretrained_front_end_file(config, *build_model_and_processor(config), tiny_dataset, root / "features",
                                         tmp_path)

    path = pretrained()
    stamp = path.stat().st_mtime_ns
    assert pretrained() == path
    assert path.stat().st_mtime_ns == stamp  # reused, not redone
    config.seed = 1
    assert pretrained() != path
    model, _ = build_model_and_processor(config)
    load_front_end(model.hmr, path)
    from safetensors.torch import load_file

    assert all(torch.equal(value, model.hmr.state_dict()[name]) for name, value in load_file(path).items())
    other, _ = build_model_and_processor(_config())
    with pytest.raises(InputError, match=path.name):
        load_front_end(other.hmr, path)
    with pytest.raises(MissingInputError, match="missing.safetensors"):
        load_front_end(model.hmr, tmp_path / "missing.safetensors")
    run = train(_config(model_config=config.model_config, front_end_init=str(path), max_steps=1,
                        feature_store_dir=str(root / "features")), tiny_dataset, tmp_path / "run")
    assert "muscle" in run
