"""Benchmark: GRF estimators against the force plates of the real Rajagopal walk and run, side by side.

Each trial goes through ULBS-112 as a user's motion would (scaled on its static trial, IK of its
markers: builder/biosim/reference_trials.py). Every estimator then estimates the ground reactions from
the IK coordinates alone; printed per estimator: per-component RMSE (% body weight) and r, the worst
peak error per stance, the stance COP error, and the RMSE (N m/kg) of the hip/knee/ankle sagittal
moments and of the hip adduction, hip rotation and subtalar moments of inverse dynamics with the estimate
against inverse dynamics with the plates (same model, same IK). Column ``plates 6 Hz`` scores the plates
themselves low-passed at the kinematics' cut-off: the floor of any estimate that carries only the
frequencies the kinematics have. With ``--embedded FOLDER`` (a ``biohuman kinematics`` output), also the
pelvis residual force of every sequence there, per body weight, RMS over all frames and over frames with
contact.

    python3 scripts/bench_grf.py [--estimators physics,contact] [--trials walk,run] [--embedded /tmp/kin]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from builder import layout
from builder.biosim.grf import make_estimator
from builder.biosim.grf_validation import read_force_plates, score_against_plates
from builder.biosim.inverse_dynamics import (
    CUTOFF_HZ,
    residual_series,
    run_inverse_dynamics,
)
from builder.biosim.reference_trials import GRAVITY, prepare_ulbs_trial

PIPELINE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "opensim-models" / "Pipelines" / "Rajagopal"

ROWS = (  # (label, key, scale, format)
    ("vertical RMSE %BW", "vertical_rmse_bw", 100, "{:.1f}"), ("vertical r", "vertical_r", 1, "{:.3f}"),
    ("vertical peak err BW", "vertical_peak_err_bw", 1, "{:.3f}"),
    ("AP RMSE %BW", "anterior_posterior_rmse_bw", 100, "{:.1f}"), ("AP r", "anterior_posterior_r", 1, "{:.3f}"),
    ("AP peak err BW", "anterior_posterior_peak_err_bw", 1, "{:.3f}"),
    ("ML RMSE %BW", "medio_lateral_rmse_bw", 100, "{:.1f}"), ("ML r", "medio_lateral_r", 1, "{:.3f}"),
    ("COP err cm", "cop_err_m", 100, "{:.2f}"), ("COP along cm", "cop_along_err_m", 100, "{:.2f}"),
    ("COP across cm", "cop_across_err_m", 100, "{:.2f}"),
    ("hip flex N m/kg (r/l)", ("hip_flexion_r_moment", "hip_flexion_l_moment"), 1, "{:.3f}"),
    ("knee N m/kg (r/l)", ("knee_angle_r_moment", "knee_angle_l_moment"), 1, "{:.3f}"),
    ("ankle N m/kg (r/l)", ("ankle_angle_r_moment", "ankle_angle_l_moment"), 1, "{:.3f}"),
    ("hip add N m/kg (r/l)", ("hip_adduction_r_moment", "hip_adduction_l_moment"), 1, "{:.3f}"),
    ("hip rot N m/kg (r/l)", ("hip_rotation_r_moment", "hip_rotation_l_moment"), 1, "{:.3f}"),
    ("subtalar N m/kg (r/l)", ("subtalar_angle_r_moment", "subtalar_angle_l_moment"), 1, "{:.3f}"),
    ("pelvis residual %BW", "residual_force_rms_bw", 100, "{:.1f}"), ("seconds", "seconds", 1, "{:.1f}"),
)


def evaluate_trial(trial, estimators: list[str], work: Path) -> dict[str, dict]:
    plates = read_force_plates(trial.grf)
    measured = run_inverse_dynamics(trial.model, trial.ik, work / "id_plates.sto", trial.measured_xml,
                                     time_range=trial.window)
    results = {}
    for name in estimators:
        started = time.perf_counter()
        grf = make_estimator(name).estimate(trial.model, trial.ik)
        seconds = time.perf_counter() - started
        metrics, _ = score_against_plates(grf, plates, trial.model, trial.ik, measured, trial.window, trial.mass,
                                          work, name)
        results[name] = {**metrics, "seconds": seconds}
    band = plates.lowpass(CUTOFF_HZ).reactions(trial.mass * GRAVITY)
    results[f"plates {CUTOFF_HZ:g} Hz"], _ = score_against_plates(band, plates, trial.model, trial.ik, measured,
                                                                  trial.window, trial.mass, work, "band")
    results["plates"] = {"residual_force_rms_bw": measured.residuals["residual_force_rms_bw"]}
    return results


def print_table(title: str, results: dict[str, dict]) -> None:
    names = list(results)
    print(f"\n{title}")
    print(f"{'':24s}" + "".join(f"{n:>16s}" for n in names))
    for label, key, scale, fmt in ROWS:
        cells = []
        for n in names:
            keys = key if isinstance(key, tuple) else (key,)
            values = [results[n].get(k) for k in keys]
            cells.append("/".join("-" if v is None else fmt.format(v * scale) for v in values))
        print(f"{label:24s}" + "".join(f"{c:>16s}" for c in cells))


def embedded_residuals(folder: Path, estimators: list[str], work: Path) -> None:
    """Pelvis residual force (BW) of every sequence of a kinematics output folder, per estimator."""
    from builder.biosim.opensim_model import load_model

    sequences = sorted(p.parent for p in (folder / "sequences").glob(f"*/{layout.IK_MOT}"))
    print(f"\npelvis residual force RMS / body weight, all frames | frames with contact ({len(sequences)} sequences)")
    print(f"{'sequence':40s}" + "".join(f"{n:>22s}" for n in estimators))
    for seq in sequences:
        model, ik = seq / layout.SCALED_MODEL, seq / layout.IK_MOT
        cells = []
        for name in estimators:
            out = work / "embedded" / seq.name / name
            grf = make_estimator(name).estimate(model, ik)
            grf.write(out / "grf.mot", out / "grf.xml")
            result = run_inverse_dynamics(model, ik, out / "id.sto", out / "grf.xml")
            force, _ = residual_series(load_model(model), result.table, result.root_coordinates)
            force = force / grf.body_weight
            contact = np.interp(result.table.time, grf.time, grf.contact.any(axis=1).astype(float)) > 0.5
            on_ground = np.sqrt(np.mean(force[contact] ** 2)) if contact.any() else float("nan")
            cells.append(f"{np.sqrt(np.mean(force ** 2)):.3f} | {on_ground:.3f} ({contact.mean():.0%})")
        print(f"{seq.name:40s}" + "".join(f"{c:>22s}" for c in cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--estimators", default="physics,contact", help="comma-separated estimator names")
    parser.add_argument("--trials", default="walk,run", help="comma-separated: walk, run (empty: none)")
    parser.add_argument("--embedded", type=Path, default=None, help="a `biohuman kinematics` output folder")
    parser.add_argument("--pipeline", type=Path, default=PIPELINE, help="the reference Pipelines/Rajagopal folder")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_grf_"))
    estimators = [e for e in args.estimators.split(",") if e]
    for name in (t for t in args.trials.split(",") if t):
        trial = prepare_ulbs_trial(args.pipeline, work / name, name)
        results = evaluate_trial(trial, estimators, work / name)
        print_table(f"{name}: ULBS-112, {trial.mass:.1f} kg, {trial.window[0]}-{trial.window[1]} s vs force plates",
                    results)
    if args.embedded is not None:
        embedded_residuals(args.embedded, estimators, work)


if __name__ == "__main__":
    main()
