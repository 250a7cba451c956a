"""Bad input gives a MotionSourceError naming the file and the problem; folder runs go on past it."""

import json

import numpy as np
import pytest

from builder.cli import main
from builder.sources import MotionSourceError, embedded_motion, iter_motion_folder, load_motion, read_motion


def _amass(path, poses=None, gender="male", frames=5):
    poses = np.zeros((frames, 156)) if poses is None else poses
    np.savez(path, poses=poses, trans=np.zeros((len(poses), 3)), betas=np.zeros(16), gender=gender,
             mocap_framerate=120.0)
    return path


def test_error_is_a_value_error_with_path_and_problem(tmp_path):
    error = MotionSourceError(tmp_path / "a.npz", "broken")
    assert isinstance(error, ValueError) and error.path == tmp_path / "a.npz" and error.problem == "broken"
    assert str(error) == f"{tmp_path / 'a.npz'}: broken"


def test_truncated_and_corrupt_npz(tmp_path):
    good = _amass(tmp_path / "good.npz")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(MotionSourceError, match="truncated.npz: truncated or corrupt .npz"):
        read_motion(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"\x00not a zip file at all" * 10)
    with pytest.raises(MotionSourceError, match="garbage.npz: truncated or corrupt .npz"):
        read_motion(garbage)


def test_nan_poses(tmp_path):
    poses = np.zeros((6, 156))
    poses[2, 10] = np.nan
    path = _amass(tmp_path / "some_nan.npz", poses)
    assert [s.num_frames for s in read_motion(path)] == [2, 3]
    with pytest.raises(MotionSourceError, match=r"some_nan.npz: 1 of 6 frames have NaN .*frames 2\)"):
        read_motion(path, on_nan="error")
    all_nan = _amass(tmp_path / "all_nan.npz", np.full((4, 156), np.nan))
    with pytest.raises(MotionSourceError, match="all_nan.npz: all 4 frames have NaN"):
        read_motion(all_nan)
    alternating = np.zeros((5, 156))
    alternating[1::2] = np.nan
    with pytest.raises(MotionSourceError, match="alternating.npz: no run of at least 2 valid frames"):
        read_motion(_amass(tmp_path / "alternating.npz", alternating))


def test_one_frame_wrong_shape_unknown_gender(tmp_path):
    with pytest.raises(MotionSourceError, match="one.npz: sequence has 1 frame"):
        read_motion(_amass(tmp_path / "one.npz", frames=1))
    with pytest.raises(MotionSourceError, match=r"shape.npz: poses have shape \(5, 70\)"):
        read_motion(_amass(tmp_path / "shape.npz", np.zeros((5, 70))))
    with pytest.raises(MotionSourceError, match="gender.npz: unknown gender 'alien'"):
        read_motion(_amass(tmp_path / "gender.npz", gender="alien"))
    np.savez(tmp_path / "trans.npz", poses=np.zeros((5, 72)), trans=np.zeros((4, 3)), mocap_framerate=30)
    with pytest.raises(MotionSourceError, match=r"trans.npz: trans has shape \(4, 3\)"):
        read_motion(tmp_path / "trans.npz")


def test_unknown_files(tmp_path):
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(MotionSourceError, match="other.npz: unrecognised .npz motion"):
        read_motion(tmp_path / "other.npz")
    (tmp_path / "notes.csv").write_text("a,b\n")
    with pytest.raises(MotionSourceError, match="unsupported motion file type '.csv'"):
        read_motion(tmp_path / "notes.csv")
    with pytest.raises(MotionSourceError, match="missing.npz: file not found"):
        read_motion(tmp_path / "missing.npz")
    (tmp_path / "notes.txt").write_text("just words")
    with pytest.raises(MotionSourceError, match="notes.txt: neither a DeepMimic clip"):
        read_motion(tmp_path / "notes.txt")
    (tmp_path / "bad.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(MotionSourceError, match="bad.pkl: truncated or corrupt pickle"):
        read_motion(tmp_path / "bad.pkl")
    np.savez(tmp_path / "motion.npz", sequence_id="x", up_axis="y", poses=np.zeros((3, 72)), trans=np.zeros((3, 3)),
             fps=30.0, gender="robot")
    with pytest.raises(MotionSourceError, match="motion.npz: unknown gender 'robot'"):
        load_motion(tmp_path / "motion.npz")


def test_folder_run_records_failures_and_continues(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    _amass(tmp_path / "a" / "good.npz")
    _amass(tmp_path / "a" / "b" / "gender.npz", gender="alien")
    (tmp_path / "a" / "broken.npz").write_bytes(b"PK\x03\x04 truncated")
    _amass(tmp_path / "a" / "shape.npz")  # AMASS body-shape files are not motions: skipped
    (tmp_path / "README.txt").write_text("not a motion")
    (tmp_path / "walk.txt").write_bytes(embedded_motion("walk").read_bytes())
    motionpro = tmp_path / "mp" / "0729" / "csy" / "walk_01"
    motionpro.mkdir(parents=True)
    np.save(motionpro / "smpl.npy", {"betas": np.zeros(10), "body_pose": np.zeros((4, 69)),
                                     "global_orient": np.zeros((4, 3)), "transl": np.zeros((4, 3))}, allow_pickle=True)
    np.savez(motionpro / "pressure.npz", pressure=np.zeros((4, 160, 120), np.uint8))  # not a motion: skipped
    np.save(motionpro / "keypoints.npy", np.zeros((4, 24, 3)))
    results = {path.name: outcome for path, outcome in iter_motion_folder(tmp_path, allow_pickle=True)}
    assert set(results) == {"good.npz", "gender.npz", "broken.npz", "walk.txt", "smpl.npy"}
    assert results["smpl.npy"][0].sequence_id == "motionpro_0729_csy_walk_01"
    assert isinstance(results["gender.npz"], MotionSourceError) and "unknown gender" in results["gender.npz"].problem
    assert isinstance(results["broken.npz"], MotionSourceError)
    assert results["good.npz"][0].num_frames == 5 and results["walk.txt"][0].sequence_id == "deepmimic_walk"


def test_cli_converts_clips_files_and_folders(tmp_path, capsys):
    assert main(["sources", "list"]) == 0
    assert "walk" in capsys.readouterr().out
    assert main(["sources", "convert", "walk", "--out", str(tmp_path / "walk.npz"), "--fps", "60"]) == 0
    assert load_motion(tmp_path / "walk.npz")[0].fps == 60.0
    assert main(["sources", "plot", str(tmp_path / "walk.npz"), "--out", str(tmp_path / "plots")]) == 0
    assert (tmp_path / "plots" / "deepmimic_walk.png").stat().st_size > 10_000
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _amass(inputs / "good.npz")
    _amass(inputs / "bad.npz", gender="alien")
    assert main(["sources", "convert", str(inputs), "--out", str(tmp_path / "out")]) == 1
    assert [p.name for p in (tmp_path / "out").glob("*.npz")] == ["amass_tmp_path_inputs_good.npz".replace(
        "tmp_path", tmp_path.name)]
    failures = json.loads((tmp_path / "out" / "failures.json").read_text())
    assert list(failures) == [str(inputs / "bad.npz")] and "unknown gender" in failures[str(inputs / "bad.npz")]
