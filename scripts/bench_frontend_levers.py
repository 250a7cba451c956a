"""What each front-end lever contributes: BioHuman trained with one setting changed at a time.

Runs on a built dataset (the main job's) and its feature store, so every variant that keeps the crop
size reads the same precomputed encoder maps; a variant with another crop builds its own store once.
Each variant is the packaged config plus overrides, trained for each seed and evaluated on the test
split; the table (mean ± s.d. over seeds) goes to stdout and ``<out>/levers.md``::

    python3 scripts/bench_frontend_levers.py --dataset biohuman10m --features runs/main/features -o runs/levers
    python3 scripts/bench_frontend_levers.py ... --variants "no mirror" "4 train subjects" --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

VARIANTS: dict[str, tuple[str, dict]] = {
    "previous default (1500 steps x 2 windows, no mirror)": (
        "biohuman_cpu", {"max_steps": 1500, "per_device_batch_size": 2, "mirror_augmentation": False}),
    "default": ("biohuman_cpu", {}),
    "no mirror": ("biohuman_cpu", {"mirror_augmentation": False}),
    "4 train subjects": ("biohuman_cpu", {"max_train_subjects": 4}),
    "no pose-only windows": ("biohuman_cpu", {"pose_only_windows": False}),
    "half the steps": ("biohuman_cpu", {"max_steps": "half"}),
    "crops 256x192": ("biohuman_cpu", {"model_config.image_size": [256, 192]}),
    "stride-16 maps (stage 5, 8x6 tokens)": ("biohuman_cpu", {"model_config.encoder_feature_stride": 16}),
    "front-end decoder 128 wide, 2 layers": ("biohuman_cpu", {"model_config.decoder_hidden_size": 128,
                                                               "model_config.decoder_num_layers": 2}),
}
"""Name -> (packaged config, overrides); ``"half"`` halves the config's value, dotted keys reach into
``model_config``."""


def variant_config(config_name: str, overrides: dict, seed: int, features: Path):
    from builder.training.trainer import TrainConfig

    config = TrainConfig.from_name_or_path(config_name)
    for key, value in overrides.items():
        if key.startswith("model_config."):
            config.model_config[key.split(".", 1)[1]] = value
        else:
            setattr(config, key, getattr(config, key) // 2 if value == "half" else value)
    config.seed, config.feature_store_dir, config.report_to = seed, str(features), "none"
    config.eval_every = 0
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="built dataset folder")
    parser.add_argument("--features", type=Path, required=True, help="feature store root (the main job's features/)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    from builder.evaluation.uncertainty import mean_and_spread
    from builder.training.trainer import train

    rows = []
    for name in args.variants:
        config_name, overrides = VARIANTS[name]
        results, seconds = [], []
        for seed in args.seeds:
            folder = args.out / name.replace(" ", "_").replace("/", "_") / f"seed-{seed}"
            started = time.perf_counter()
            if (folder / "eval_metrics.json").is_file():
                metrics = json.loads((folder / "eval_metrics.json").read_text())
            else:
                metrics = train(variant_config(config_name, overrides, seed, args.features), args.dataset, folder)
                seconds.append(time.perf_counter() - started)
            results.append(metrics)

        def cell(part: str, key: str, digits: int = 3) -> str:
            mean, spread = mean_and_spread([r[part][key] for r in results])
            return f"{mean:.{digits}f} ± {spread:.{digits}f}"

        rows.append(f"| {name} | {len(results)} | {cell('muscle', 'pcc')} | {cell('muscle', 'pcc_channel_mean')} | "
                    f"{cell('muscle', 'rmse')} | {cell('pose', 'pa_mpjpe_mm', 1)} | "
                    f"{(sum(seconds) / len(seconds) / 60 if seconds else float('nan')):.1f} |")
        print(rows[-1], flush=True)
    table = ("| variant | seeds | muscle PCC | per-channel PCC | RMSE | PA-MPJPE (mm) | min/run |\n"
             "|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "levers.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
