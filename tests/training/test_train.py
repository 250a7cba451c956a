"""Training: per-epoch window sampling, parameter groups, config errors, and a real
``accelerate launch --cpu --num_processes 2`` run that is killed and resumed to the same weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.paths import PROJECT_ROOT
from safetensors.torch import load_file

from builder.training import CONFIG_DIR
from builder.training.trainer import (
    TrainConfig,
    build_model_and_processor,
    checkpoints,
    parameter_groups,
    train,
)
from builder.training.window_sampling import EpochBatchSampler, epoch_indices

REPO = PROJECT_ROOT
TINY = CONFIG_DIR / "tiny.yaml"


def test_bedlam_subset_is_fresh_each_epoch_and_other_sources_are_complete():
    sources = ["BEDLAM"] * 200 + ["Human3.6M"] * 30 + ["default"] * 7
    epochs = [epoch_indices(sources, epoch, seed=3) for epoch in range(3)]
    for order in epochs:
        assert len(order) == len(set(order.tolist())) == 10 + 37  # 5 % of 200 BEDLAM windows + all others
        assert set(range(200, 237)) <= set(order.tolist())
    bedlam = [{i for i in order.tolist() if i < 200} for order in epochs]
    assert bedlam[0] != bedlam[1] and bedlam[1] != bedlam[2]
    np.testing.assert_array_equal(epochs[1], epoch_indices(sources, 1, seed=3))  # deterministic
    assert not np.array_equal(epochs[1], epoch_indices(sources, 1, seed=4))
    with pytest.raises(ValueError, match="subsample share"):
        epoch_indices(sources, 0, 0, {"bedlam": 0.0})


def test_ranks_split_each_global_batch_and_skip_resumes_mid_epoch():
    sources = ["default"] * 23
    ranks = [EpochBatchSampler(sources, 2, seed=1, num_replicas=2, rank=r) for r in range(2)]
    for sampler in ranks:
        sampler.set_epoch(4)
    batches = [list(s) for s in ranks]
    assert len(batches[0]) == len(batches[1]) == len(ranks[0]) == 5  # 23 // (2 x 2), partial batch dropped
    order = epoch_indices(sources, 4, seed=1).tolist()
    assert [i for pair in zip(*batches) for b in pair for i in b] == order[:20]
    ranks[1].set_epoch(4, skip_batches=3)
    assert list(ranks[1]) == batches[1][3:]


def test_parameter_groups_freeze_the_image_encoder_and_split_learning_rates():
    config = TrainConfig.from_yaml(TINY)
    model, processor = build_model_and_processor(config)
    assert processor.crop_size == {"height": 32, "width": 24}
    assert not any(p.requires_grad for p in model.hmr.encoder.backbone.parameters())
    groups = parameter_groups(model, config)
    ids = {id(p): g for g in groups for p in g["params"]}
    assert all(id(p) not in ids for p in model.hmr.encoder.backbone.parameters())
    assert all(ids[id(p)]["lr"] == config.hmr_learning_rate for p in model.hmr.decoder.parameters())
    assert all(ids[id(p)]["lr"] == config.learning_rate for p in model.muscle_head.parameters())
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert set(ids) == trainable


def test_tensorboard_logs_training_and_periodic_evaluation(tiny_trained_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run, _ = tiny_trained_run
    tags = set()
    for events in (run / "logs").rglob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    assert {"train/loss", "train/grad_norm", "lr/hmr", "lr/temporal", "eval/muscle/pcc", "eval/pose/pa_mpjpe_mm"} <= tags


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_builds_its_model(path):
    config = TrainConfig.from_yaml(path)
    model, processor = build_model_and_processor(config)
    assert model.config.window_length in (8, 32)
    assert [processor.crop_size["height"], processor.crop_size["width"]] == list(model.config.image_size)
    assert config.fingerprint() == TrainConfig.from_yaml(path).fingerprint()
    if config.freeze_image_encoder:
        assert not any(p.requires_grad for p in model.hmr.encoder.backbone.parameters())


def test_config_errors_are_clear(tmp_path, tiny_dataset):
    with pytest.raises(ValueError, match="unknown key 'learnig_rate'; did you mean 'learning_rate'"):
        TrainConfig.from_dict({"learnig_rate": 1e-3})
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ValueError, match="bad.yaml: not valid YAML"):
        TrainConfig.from_yaml(bad)
    with pytest.raises(ValueError, match="unknown model"):
        TrainConfig(model="resnet")
    with pytest.raises(FileNotFoundError, match="dataset folder not found"):
        train(TrainConfig.from_yaml(TINY), tmp_path / "nowhere", tmp_path / "run")


def test_nested_config_typos_and_yaml_1_1_numbers(tmp_path):
    """A typo inside model_config or processor was silently ignored (the default used), and
    ``learning_rate: 1e-3`` (a string to YAML 1.1) failed later with an unrelated TypeError."""
    tiny = TINY.read_text()
    typo = tmp_path / "typo.yaml"
    typo.write_text(tiny.replace("  hidden_size: 32", "  hiden_size: 32"))
    with pytest.raises(ValueError, match=r"typo.yaml: unknown key 'model_config.hiden_size'; did you mean "
                                         r"'hidden_size'\?"):
        TrainConfig.from_yaml(typo)
    with pytest.raises(ValueError, match=r"unknown key 'processor.bbox_enlarg'; did you mean 'bbox_enlarge'"):
        TrainConfig.from_yaml(TINY, overrides=["processor={bbox_enlarg: 1.5}"])
    with pytest.raises(ValueError, match=r"unknown key 'model_config.motion_hidden_size'"):   # a two_stage key
        TrainConfig.from_yaml(TINY, overrides=["model_config={motion_hidden_size: 8}"])
    strings = tmp_path / "strings.yaml"
    strings.write_text(tiny.replace("learning_rate: 1.0e-3", "learning_rate: 1e-3")
                       .replace("  hidden_size: 32", "  hidden_size: 32\n  dropout: 5e-2"))
    config = TrainConfig.from_yaml(strings)
    assert config.learning_rate == 1e-3 and config.model_config["dropout"] == 0.05
    model, _ = build_model_and_processor(config)
    assert model.config.dropout == 0.05
    assert {group["lr"] for group in parameter_groups(model, config)} == {1e-3, config.hmr_learning_rate}
    for override, key in (("max_steps=1e-3", "max_steps"), ("learning_rate=fast", "learning_rate"),
                          ("model_config={hidden_size: wide}", "model_config.hidden_size")):
        with pytest.raises(ValueError, match=rf"tiny.yaml: {key} = '[^']+': .*\(expected (int|float)\)"):
            TrainConfig.from_yaml(TINY, overrides=[override])


def test_resuming_with_another_config_is_refused(tiny_trained_run, tiny_dataset, tmp_path):
    run, _ = tiny_trained_run
    config = TrainConfig.from_yaml(TINY)
    config.learning_rate *= 2
    config.report_to = "none"
    with pytest.raises(ValueError, match="checkpoint was written by a run with different settings"):
        train(config, tiny_dataset, run)


def _launch(output_dir: Path, dataset: Path, cache: Path, steps: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               str(REPO / "scripts" / "train.py"), "--config", str(TINY), "--dataset", str(dataset),
               "-o", str(output_dir), "--set", f"max_steps={steps}", "--set", "checkpoint_every=3",
               "--set", "eval_every=0", "--set", "report_to=none", "--set", "per_device_batch_size=1",
               "--set", "gradient_accumulation_steps=2"]
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def test_killed_two_process_run_resumes_to_the_weights_of_an_uninterrupted_run(tiny_dataset, tmp_path):
    steps = 16  # 4 steps (9 global batches, 2 accumulated per step) per epoch: crosses epochs and BEDLAM re-draws
    cache = tmp_path / "hf_cache"
    reference = _launch(tmp_path / "uninterrupted", tiny_dataset, cache, steps)
    log, _ = reference.communicate(timeout=300)
    assert reference.returncode == 0, log[-3000:]

    interrupted = tmp_path / "interrupted"
    process = _launch(interrupted, tiny_dataset, cache, steps)
    deadline = time.monotonic() + 240
    while not any(int(p.name.split("-")[1]) >= 6 for p in checkpoints(interrupted)):
        assert process.poll() is None, "run ended before it could be killed:\n" + process.stdout.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the launcher and both workers, at once
    process.wait(timeout=30)
    assert not (interrupted / "model").exists()
    killed_at = max(int(p.name.split("-")[1]) for p in checkpoints(interrupted))
    assert killed_at < steps

    resumed = _launch(interrupted, tiny_dataset, cache, steps)
    log, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, log[-3000:]
    assert "resumed from" in log and f"step-{killed_at:08d}" in log

    expected = load_file(tmp_path / "uninterrupted" / "model" / "model.safetensors")
    actual = load_file(interrupted / "model" / "model.safetensors")
    assert expected.keys() == actual.keys()
    initial = build_model_and_processor(TrainConfig.from_yaml(TINY))[0].state_dict()
    changed = [k for k in expected if k in initial and not torch.equal(expected[k], initial[k])]
    assert len(changed) > 10  # training moved the weights
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0, msg=key)
