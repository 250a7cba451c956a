#!/usr/bin/env python3
"""Print training and inference speed of a training config on a built dataset (this machine).

    python3 scripts/bench_training.py --config biohuman_cpu --dataset DATA [--steps 5]

Times one optimiser step (data decoding + crops + forward + backward + AdamW) and one inference
batch, after a warm-up step, so a schedule (max_steps) can be sized for a time budget.
"""

from __future__ import annotations

import argparse
import time

import torch

from biohuman10m.collate import collate_windows
from builder.evaluation.window_data import WindowDataset, model_inputs
from builder.training.trainer import (
    TrainConfig,
    build_model_and_processor,
    parameter_groups,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="packaged training config name or YAML path")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    config = TrainConfig.from_name_or_path(args.config)
    model, processor = build_model_and_processor(config)
    optimizer = torch.optim.AdamW(parameter_groups(model, config))
    dataset = WindowDataset(args.dataset, config.train_split)
    size = config.per_device_batch_size
    batches = [[(i * size + j) % len(dataset) for j in range(size)] for i in range(args.steps + 1)]
    model.train()
    timings = []
    for indices in batches:
        start = time.perf_counter()
        inputs = model_inputs(collate_windows([dataset[i] for i in indices]), processor)
        model(**inputs).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        timings.append(time.perf_counter() - start)
    step = sum(timings[1:]) / len(timings[1:])
    frames = size * inputs["attention_mask"].shape[1]
    model.eval()
    with torch.no_grad():
        start = time.perf_counter()
        model(**{k: inputs[k] for k in ("pixel_values", "boxes", "attention_mask")})
        infer = time.perf_counter() - start
    print(f"config {args.config}: {sum(p.numel() for p in model.parameters()):,} parameters, "
          f"{sum(p.numel() for p in model.parameters() if p.requires_grad):,} trainable")
    print(f"train step ({size} windows, {frames} frames): {step:.2f} s  ->  {frames / step:.1f} frames/s, "
          f"{3600 / step:.0f} steps/hour")
    print(f"inference (model only): {frames / infer:.1f} frames/s; threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
