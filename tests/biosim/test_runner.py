"""The dynamics runner over a folder: real OpenSim work, real faults, resumable, failure-isolated."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.walk_trial import cut_walk_sequence

from builder import layout
from builder.biosim.dynamics import DynamicsSettings, process_sequence
from builder.biosim.record import read_record
from builder.biosim.runner import run_dynamics
from builder.biosim.static_optimization import ReserveSpec
from builder.biosim.storage import format_storage, read_storage

pytestmark = pytest.mark.slow

# joint reserves bounded to 30 N m, so an SO whose muscles cannot carry the motion does not converge
SETTINGS = DynamicsSettings(grf_estimator="helpers.walk_trial:FaultInjectingEstimator",
                            reserves=ReserveSpec(reserve_max_control=30.0))


@pytest.fixture(scope="module")
def built(walk, tmp_path_factory):
    """Six sequences: two good ones and one per fault, processed by two local workers."""
    root = tmp_path_factory.mktemp("dynamics_run")
    cut_walk_sequence(walk, root, "good_a")
    cut_walk_sequence(walk, root, "good_b", span=(1.0, 1.2))
    nan = cut_walk_sequence(walk, root, "ik_nan")
    table = read_storage(nan / layout.IK_MOT)
    table.data[4, 9] = np.nan  # knee angle: an IK frame that did not solve
    (nan / layout.IK_MOT).write_text(format_storage(table))
    bad_model = cut_walk_sequence(walk, root, "bad_model")
    (bad_model / layout.SCALED_MODEL).write_text("<OpenSimDocument><Model name='x'><broken")
    cut_walk_sequence(walk, root, "weak_muscles", muscle_strength=0.02)
    (cut_walk_sequence(walk, root, "segfault") / "SEGFAULT").touch()
    (cut_walk_sequence(walk, root, "killed") / "SIGKILL").touch()
    counts = run_dynamics(root, SETTINGS, workers=2)
    return root, counts


def _record(root, name):
    return read_record(root / "sequences" / name / layout.RECORD)


def test_good_sequences_are_kept_with_full_record(built):
    root, counts = built
    assert counts == {"kept": 2, "dropped": 1, "failed": 4}
    for name in ("good_a", "good_b"):
        seq = root / "sequences" / name
        rec = _record(root, name)
        assert rec.status == "kept" and rec.reasons == [] and rec.error is None
        acts = read_storage(seq / layout.ACTIVATIONS)
        so = read_storage(seq / layout.SO_ACTIVATIONS)
        assert acts.labels == so.labels and len(acts.labels) == 80 and np.allclose(acts.time, so.time)
        assert 0.0 <= acts.data.min() and acts.data.max() <= 1.0
        assert set(rec.timings_s) == {"grf", "inverse_dynamics", "static_optimization"}
        assert rec.static_optimization["constraint_violation_max"] < 1e-6
        assert "residual_force_N_rms" in rec.residuals and rec.grf["peak_vertical_bw"] > 0.5
        assert rec.settings["solver"] == "fast" and rec.marker_error["max_max_m"] < 0.15
        assert not list(seq.glob(".*"))  # no temporary leftovers
        raw = json.loads((seq / layout.RECORD).read_text())
        assert raw["outputs"]["ACTIVATIONS"] == layout.ACTIVATIONS


def test_faults_leave_clear_records_and_no_labels(built):
    root, _ = built
    expected = {
        "ik_nan": "non-finite",
        "bad_model": "could not load the model",
        "segfault": "signal SIGSEGV",
        "killed": "signal SIGKILL",
    }
    for name, text in expected.items():
        rec = _record(root, name)
        assert rec.status == "failed" and text in rec.error["message"], (name, rec.error)
        assert rec.error["stage"] == "dynamics", (name, rec.error)
        assert not (root / "sequences" / name / layout.ACTIVATIONS).exists()
    assert "ik.mot" in _record(root, "ik_nan").error["message"]
    assert _record(root, "ik_nan").error["type"] != "WorkerFailure"      # raised inside the stage: its type kept
    assert _record(root, "segfault").error["type"] == "WorkerFailure"    # the worker died: no exception to name
    weak = _record(root, "weak_muscles")
    assert weak.status == "dropped" and "unexplained_moment" in weak.reasons[0]   # muscles cannot carry any frame
    assert not (root / "sequences" / "weak_muscles" / layout.ACTIVATIONS).exists()


def test_resume_skips_done_and_retries_failed_on_request(built):
    root, _ = built
    stamps = {p.parent.name: p.stat().st_mtime_ns for p in root.glob("sequences/*/record.json")}
    assert run_dynamics(root, SETTINGS, workers=2) == {"kept": 2, "dropped": 1, "failed": 4}
    assert stamps == {p.parent.name: p.stat().st_mtime_ns for p in root.glob("sequences/*/record.json")}
    (root / "sequences" / "segfault" / "SEGFAULT").unlink()  # the fault is fixed: retry the failed ones
    counts = run_dynamics(root, SETTINGS, workers=2, retry_failed=True)
    assert counts == {"kept": 3, "dropped": 1, "failed": 3}
    assert _record(root, "segfault").status == "kept"
    after = {p.parent.name: p.stat().st_mtime_ns for p in root.glob("sequences/*/record.json")}
    assert after["good_a"] == stamps["good_a"] and after["killed"] != stamps["killed"]


def test_ray_runner(walk, tmp_path):
    ray = pytest.importorskip("ray")
    from pathlib import Path

    root = tmp_path / "ray_run"
    cut_walk_sequence(walk, root, "good_a")
    (cut_walk_sequence(walk, root, "segfault") / "SEGFAULT").touch()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    try:
        counts = run_dynamics(root, SETTINGS, address="local")
    finally:
        ray.shutdown()
    assert counts == {"kept": 1, "failed": 1}
    assert "ray task failed" in _record(root, "segfault").error["message"]


def test_cli_reports_counts_and_fails_on_failed_sequences(built, capsys):
    from builder.cli import main

    root, _ = built
    code = main(["dynamics", str(root), "--workers", "1", "--grf-estimator",
                 "helpers.walk_trial:FaultInjectingEstimator", "--reserve-max-control", "30"])
    assert code == 1  # failed sequences remain: a non-zero exit for scripts
    assert "failed=" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["dynamics", str(root), "--solver", "nope"])


def test_hanging_sequence_is_killed_after_the_timeout(walk, tmp_path):
    import time

    root = tmp_path / "hang_run"
    (cut_walk_sequence(walk, root, "hangs") / "HANG").touch()
    started = time.monotonic()
    assert run_dynamics(root, SETTINGS, workers=1, timeout_s=3.0) == {"failed": 1}
    assert time.monotonic() - started < 60
    assert "timed out" in _record(root, "hangs").error["message"]


def test_changed_settings_redo_the_sequences_made_with_other_ones(built, tmp_path, capsys):
    import dataclasses
    import shutil

    from builder.biosim.runner import find_sequences, select_pending
    from builder.cli import main

    root, _ = built
    folders = find_sequences(root)
    assert select_pending(folders, settings=SETTINGS) == []
    with_settings = [f for f in folders if read_record(f / layout.RECORD).settings]   # not the crashed workers'
    assert len(with_settings) >= 4
    assert select_pending(folders, settings=dataclasses.replace(SETTINGS, cutoff_hz=8.0)) == with_settings

    shutil.copytree(root / "sequences" / "good_a", tmp_path / "sequences" / "good_a")
    record = tmp_path / "sequences" / "good_a" / layout.RECORD
    stamp = record.stat().st_mtime_ns
    argv = ["dynamics", str(tmp_path), "--workers", "1",
            "--grf-estimator", "helpers.walk_trial:FaultInjectingEstimator", "--reserve-max-control", "30"]
    assert main(argv) == 0 and record.stat().st_mtime_ns == stamp   # the same settings: skipped
    assert main([*argv, "--cutoff-hz", "8"]) == 0   # before: skipped too, keeping the 6 Hz labels
    assert read_record(record).settings["cutoff_hz"] == 8.0 and read_record(record).status == "kept"


def _at_1000_fps(table):
    table.time = table.time[0] + np.arange(len(table.time)) / 1000.0


def _moved_by_1e6(table):
    for name in ("pelvis_tx", "pelvis_ty", "pelvis_tz"):
        table.data[:, table.labels.index(name)] *= 1e6


@pytest.mark.parametrize("change, problem", [(_at_1000_fps, "frame rate 1000 Hz is outside the plausible 1-500 Hz"),
                                             (_moved_by_1e6, "faster than a human can")])
def test_absurd_motion_is_refused_not_simulated(walk, tmp_path, change, problem):
    """Before: a walk declared at 1000 fps was kept with a pelvis residual of 332 body weights."""
    seq = cut_walk_sequence(walk, tmp_path, "absurd")
    table = read_storage(seq / layout.IK_MOT)
    change(table)
    (seq / layout.IK_MOT).write_text(format_storage(table))
    record = process_sequence(seq, SETTINGS)
    message = record.error["message"]
    assert record.status == "failed" and f"{seq / layout.IK_MOT}: " in message and problem in message
    assert not (seq / layout.ACTIVATIONS).exists() and not (seq / layout.GRF_MOT).exists()


def test_a_folder_without_ik_results_exits_non_zero(tmp_path, capsys):
    """Before: a traceback (no sequences folder) or "0 done" with exit 0 (an empty one)."""
    from builder.cli import main

    assert main(["dynamics", str(tmp_path)]) == 2
    assert f"{tmp_path}: no 'sequences' folder" in capsys.readouterr().err
    (tmp_path / "sequences" / "half_done").mkdir(parents=True)
    assert main(["dynamics", str(tmp_path)]) == 2
    assert "no sequence has IK results" in capsys.readouterr().err
