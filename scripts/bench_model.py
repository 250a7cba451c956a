#!/usr/bin/env python3
"""Benchmark BioHuman inference on this CPU: frames/s and parameter counts per configuration.

Prints the processor's crop throughput on 1080p frames, then, for each configuration, total / trainable /
front-end / temporal parameter counts and the inference throughput (frames per second, one window of
``--frames`` frames per forward, no grad) of the full model from pixels, and of the temporal part alone on
precomputed HMR outputs.
"""

from __future__ import annotations

import argparse
import time

import torch

import modeling_biohuman as mb

CONFIGS = {
    "default": {},
    "default-efficientnet": {"image_encoder": "efficientnet_lite0", "freeze_image_encoder": True},
    "small": {"image_size": (128, 96), "encoder_hidden_size": 128, "encoder_num_layers": 4, "encoder_num_heads": 4,
              "decoder_hidden_size": 128, "decoder_num_layers": 1, "decoder_num_heads": 4, "hidden_size": 128,
              "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 512},
}


def count(parameters) -> int:
    return sum(p.numel() for p in parameters)


def throughput(model: torch.nn.Module, inputs: dict[str, torch.Tensor], repeats: int) -> float:
    frames = next(iter(inputs.values())).shape[:2].numel()
    with torch.no_grad():
        model(**inputs)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            model(**inputs)
    return frames * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs", nargs="+", default=["default", "small"], choices=sorted(CONFIGS) + ["two-stage"])
    parser.add_argument("--frames", type=int, default=32, help="frames per window")
    parser.add_argument("--batch", type=int, default=1, help="windows per forward")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, windows of {args.frames} frames, batch {args.batch}")
    processor = mb.BioHumanVideoProcessor()
    video = torch.randint(0, 256, (args.frames, 1080, 1920, 3), dtype=torch.uint8)
    boxes = torch.tensor([[800.0, 200.0, 1100.0, 1000.0]]).expand(args.frames, 4)
    start = time.perf_counter()
    processor(video, boxes)
    print(f"[processor] 1920x1080 frames -> 256x192 crops: {args.frames / (time.perf_counter() - start):.1f} frames/s")
    for name in args.configs:
        if name == "two-stage":
            model = mb.BioHumanTwoStageForMuscle(mb.BioHumanTwoStageConfig()).eval()
        else:
            model = mb.BioHumanForMotionAndMuscle(mb.BioHumanConfig(**CONFIGS[name])).eval()
        config = model.config
        height, width = config.image_size
        pixels = {"pixel_values": torch.randn(args.batch, args.frames, 3, height, width),
                  "boxes": torch.tensor([0.1 * width, 0.05 * height, 0.9 * width, 0.95 * height])
                  .expand(args.batch, args.frames, 4)}
        hmr_params = count(model.hmr.parameters())
        total = count(model.parameters())
        trainable = count(p for p in model.parameters() if p.requires_grad)
        print(f"[{name}] params total {total:,} (trainable {trainable:,}); "
              f"front-end {hmr_params:,}; temporal + heads {total - hmr_params:,}")
        print(f"[{name}] full model from pixels: {throughput(model, pixels, args.repeats):.1f} frames/s")
        with torch.no_grad():
            front = model.run_front_end(pixels["pixel_values"], pixels["boxes"],
                                        torch.ones(args.batch, args.frames, dtype=torch.bool))
        precomputed = {"hmr_pose": front["pose"], "hmr_features": front["features"]}
        print(f"[{name}] temporal model on precomputed HMR outputs: "
              f"{throughput(model, precomputed, args.repeats):.1f} frames/s")


if __name__ == "__main__":
    main()
