"""What each front-end lever contributes: BioHuman trained with one setting changed at a time, next to the
report's reference rows (ground-truth-motion ceiling, pose-only on predicted poses, two-stage, mean activation).

Runs on a built dataset (the main job's) and its feature store, so every variant that keeps the crop
size reads the same precomputed encoder maps; a variant with another crop builds its own store once.
Each variant is the packaged config plus overrides, trained for each seed and evaluated on the test
split; the table (mean ± s.d. over seeds) goes to stdout and ``<out>/levers.md``, each row also as the
PCC it adds over the mean-activation predictor and the share of the mean -> ground-truth-motion-ceiling
gap it closes (the ceiling is the "GT-motion ceiling" variant when run, else ``--ceiling-pcc``)::

    python3 scripts/bench_frontend_levers.py --dataset biohuman10m --features runs/main/features -o runs/levers
    python3 scripts/bench_frontend_levers.py ... --variants "BioHuman (packaged config)" "mirrored windows" \
        --max-steps 500 --seeds 0     # a short schedule; use a new -o per schedule (finished runs are reused)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

CEILING = "GT-motion ceiling"
FORMER_FRONT_END = {"model_config.hmr_head": "token_decoder", "model_config.encoder_feature_stride": 32,
                    "model_config.decoder_hidden_size": 64, "model_config.decoder_num_layers": 1,
                    "front_end_pretraining_steps": 0, "model_config.motion_noise_std": 0.0,
                    "model_config.front_end_gradient": True, "model_config.visual_dropout": 0.0}
"""The CPU configs' front-end before issue 14's levers: SMPL-token decoder on the 1280-channel stride-32 maps."""
VARIANTS: dict[str, tuple[str, dict]] = {
    CEILING: ("motion_ceiling_cpu", {}),
    "GT-motion ceiling, amplitude regularisers": ("motion_ceiling_cpu",
                                                  {"model_config.use_amplitude_regularizers": True}),
    "pose-only on predicted poses": ("pose_only_cpu", {}),
    "two-stage HMR+MinT": ("two_stage_cpu", {}),
    "BioHuman (packaged config)": ("biohuman_cpu", {}),
    "former front-end (token decoder on stride-32 maps, no pretraining, no pose noise)": ("biohuman_cpu",
                                                                                          FORMER_FRONT_END),
    "conv regressor on stride-32 maps": ("biohuman_cpu", {"model_config.encoder_feature_stride": 32}),
    "token decoder (128 wide, 2 layers) on stride-16 maps": ("biohuman_cpu", {
        "model_config.hmr_head": "token_decoder", "model_config.decoder_hidden_size": 128,
        "model_config.decoder_num_layers": 2}),
    "no front-end pretraining": ("biohuman_cpu", {"front_end_pretraining_steps": 0}),
    "no pose noise": ("biohuman_cpu", {"model_config.motion_noise_std": 0.0}),
    "pose noise 0.2": ("biohuman_cpu", {"model_config.motion_noise_std": 0.2}),
    "mirrored windows": ("biohuman_cpu", {"mirror_augmentation": True}),
    "amplitude regularisers": ("biohuman_cpu", {"model_config.use_amplitude_regularizers": True}),
    "front-end learning rate / 10 after pretraining": ("biohuman_cpu", {"hmr_learning_rate": 3e-5}),
    "twice the steps": ("biohuman_cpu", {"max_steps": "double"}),
    "twice the front-end pretraining steps": ("biohuman_cpu", {"front_end_pretraining_steps": "double"}),
    "conv neck 256 wide": ("biohuman_cpu", {"model_config.neck_channels": 256}),
    "half the steps": ("biohuman_cpu", {"max_steps": "half"}),
    "one train subject fewer": ("biohuman_cpu", {"max_train_subjects": -1}),
    "no pose-only windows": ("biohuman_cpu", {"pose_only_windows": False}),
    "crops 256x192": ("biohuman_cpu", {"model_config.image_size": [256, 192]}),
    "no visual dropout": ("biohuman_cpu", {"model_config.visual_dropout": 0.0}),
    "muscle gradient into the front-end (the paper's end-to-end training)": ("biohuman_cpu", {
        "model_config.front_end_gradient": True}),
    "muscle gradient into the front-end, no visual dropout": ("biohuman_cpu", {
        "model_config.front_end_gradient": True, "model_config.visual_dropout": 0.0}),
    "conv neck 256, 1000 pretraining steps": ("biohuman_cpu", {"model_config.neck_channels": 256,
                                                               "front_end_pretraining_steps": 1000}),
}
"""Name -> (packaged config, overrides); ``"half"``/``"double"`` scale the config's value, a negative
``max_train_subjects`` counts from the number of training subjects, dotted keys reach into ``model_config``."""


def variant_config(config_name: str, overrides: dict, seed: int, features: Path, train_subjects: int,
                   max_steps: int | None = None):
    from builder.training.trainer import TrainConfig

    config = TrainConfig.from_name_or_path(config_name)
    config.max_steps = max_steps or config.max_steps
    scale = {"half": 0.5, "double": 2}
    for key, value in overrides.items():
        if key.startswith("model_config."):
            config.model_config[key.split(".", 1)[1]] = value
        elif key == "max_train_subjects" and value < 0:
            config.max_train_subjects = train_subjects + value
        else:
            setattr(config, key, int(getattr(config, key) * scale[value]) if value in scale else value)
    config.seed, config.feature_store_dir, config.report_to = seed, str(features), "none"
    config.eval_every = 0
    return config


def mean_predictor_metrics(dataset: Path, features: Path) -> dict:
    """Test-split metrics of the mean-activation predictor fitted on the training split (the floor), on the
    test windows of the packaged BioHuman config's feature store for ``dataset`` (built if missing)."""
    from builder.evaluation.feature_store import feature_store
    from builder.evaluation.protocol import MeanActivationPredictor, compute_metrics, predict_store
    from builder.training.trainer import TrainConfig, build_model_and_processor

    config = TrainConfig.from_name_or_path("biohuman_cpu")
    store = feature_store(*build_model_and_processor(config), dataset, config.eval_split, features)
    return compute_metrics(predict_store(MeanActivationPredictor.fit(dataset), store))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, required=True, help="built dataset folder")
    parser.add_argument("--features", type=Path, required=True, help="feature store root (the main job's features/)")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-steps", type=int, help="base schedule of every variant (default: its config's)")
    parser.add_argument("--ceiling-pcc", type=float, help="ceiling muscle PCC when the ceiling variant is not run")
    args = parser.parse_args()
    from builder.evaluation.uncertainty import mean_and_spread
    from builder.training.trainer import train

    splits = json.loads((args.dataset / "manifest.json").read_text())["counts"]["splits"]
    train_subjects = sum(source["subjects"] for source in splits["train"].values())
    ceiling = args.ceiling_pcc
    rows, pccs = [], {}
    for name in args.variants:
        config_name, overrides = VARIANTS[name]
        results, seconds = [], []
        for seed in args.seeds:
            folder = args.out / name.replace(" ", "_").replace("/", "_") / f"seed-{seed}"
            started = time.perf_counter()
            if (folder / "eval_metrics.json").is_file():
                metrics = json.loads((folder / "eval_metrics.json").read_text())
            else:
                config = variant_config(config_name, overrides, seed, args.features, train_subjects, args.max_steps)
                metrics = train(config, args.dataset, folder)
                seconds.append(time.perf_counter() - started)
            results.append(metrics)

        def cell(part: str, key: str, digits: int = 3) -> str:
            mean, spread = mean_and_spread([r[part][key] for r in results])
            return f"{mean:.{digits}f} ± {spread:.{digits}f}"

        pccs[name] = mean_and_spread([r["muscle"]["pcc"] for r in results])[0]
        ceiling = pccs[name] if name == CEILING else ceiling
        rows.append((name, f"| {name} | {len(results)} | {cell('muscle', 'pcc')} | {{gain}} | {{share}} | "
                           f"{cell('muscle', 'pcc_channel_mean')} | {cell('muscle', 'rmse')} | "
                           f"{cell('pose', 'pa_mpjpe_mm', 1) if 'pose' in results[0] else 'n/a'} | "
                           f"{(sum(seconds) / len(seconds) / 60 if seconds else float('nan')):.1f} |"))
        print(rows[-1][1].format(gain="(see table)", share="(see table)"), flush=True)
    floor = mean_predictor_metrics(args.dataset, args.features)["muscle"]
    lines = [f"| Mean activation (floor) | - | {floor['pcc']:.3f} | 0 | 0% | {floor['pcc_channel_mean']:.3f} | "
             f"{floor['rmse']:.3f} | n/a | - |"]
    for name, row in rows:
        gain = pccs[name] - floor["pcc"]
        share = f"{gain / (ceiling - floor['pcc']):.0%}" if ceiling is not None else "n/a"
        lines.append(row.format(gain=f"{gain:+.3f}", share=share))
    table = ("| variant | seeds | muscle PCC | over the mean | share of mean->ceiling gap | per-channel PCC | RMSE | "
             "PA-MPJPE (mm) | min/run |\n|---|---|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "levers.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
