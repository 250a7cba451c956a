"""Motion inputs never run code: crafted pickle payloads inside an .npz, a 3DPW-looking .pkl and a MotionPRO
smpl.npy, given to ``sources convert`` and ``kinematics``, create no file; pickles are read only when asked,
and then only as arrays and plain containers."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest

from builder.cli import main
from builder.sources import MotionSourceError, detect_format, read_motion


class Payload:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _attacks(folder, marker):
    """Motion files that run ``touch marker`` when unpickled: (npz motion, 3DPW-like pickle, MotionPRO smpl.npy)."""
    folder.mkdir(parents=True)
    np.savez(folder / "walk.npz", poses=np.zeros((5, 72)), trans=np.zeros((5, 3)), mocap_framerate=30.0,
             gender=np.array([Payload(marker)], dtype=object))
    pw3d = {"sequence": "walk", "poses": [np.zeros((5, 72))], "trans": [np.zeros((5, 3))], "betas": [np.zeros(10)],
            "genders": ["m"], "campose_valid": [Payload(marker)]}
    (folder / "walk.pkl").write_bytes(pickle.dumps(pw3d, protocol=2))
    motionpro = folder / "0729" / "csy" / "walk_01"
    motionpro.mkdir(parents=True)
    np.save(motionpro / "smpl.npy", {"global_orient": np.zeros((5, 3)), "body_pose": np.zeros((5, 69)),
                                     "transl": np.zeros((5, 3)), "betas": Payload(marker)}, allow_pickle=True)
    return folder / "walk.npz", folder / "walk.pkl", motionpro / "smpl.npy"


def test_the_payloads_do_run_when_unpickled(tmp_path):
    """The attack is real: plain numpy/pickle loading of these files creates the marker."""
    marker = tmp_path / "pwned"
    npz, pkl, npy = _attacks(tmp_path / "motions", marker)
    with np.load(npz, allow_pickle=True) as data:
        data["gender"]
    assert marker.exists()


def test_readers_never_run_the_payloads(tmp_path):
    marker = tmp_path / "pwned"
    npz, pkl, npy = _attacks(tmp_path / "motions", marker)
    with pytest.raises(MotionSourceError, match=rf"{npz}: array 'gender' holds Python objects \(a pickle\)"):
        read_motion(npz)
    assert detect_format(pkl) == "3dpw"   # decided from the names in the pickle, without running it
    with pytest.raises(MotionSourceError, match=rf"{pkl}: is a 3DPW pickle; loading a pickle can run code, .*"
                                                "pass --allow-pickle"):
        read_motion(pkl)
    with pytest.raises(MotionSourceError, match=rf"{npy}: is a MotionPRO smpl.npy pickle .*pass --allow-pickle"):
        read_motion(npy)
    for path in (pkl, npy):   # opted in: still only arrays and containers are rebuilt
        with pytest.raises(MotionSourceError, match=rf"{path}: .*names posix.system, which is not a numpy array"):
            read_motion(path, allow_pickle=True)
    stray = tmp_path / "motions" / "notes.pkl"
    stray.write_bytes(pickle.dumps({"anything": Payload(marker)}))
    with pytest.raises(MotionSourceError, match=rf"{stray}: unrecognised pickle"):
        read_motion(stray, allow_pickle=True)
    assert not marker.exists()


def test_commands_never_run_the_payloads(tmp_path, capsys):
    marker = tmp_path / "pwned"
    folder = _attacks(tmp_path / "motions", marker)[0].parent
    for allow in ([], ["--allow-pickle"]):
        out = tmp_path / f"converted{len(allow)}"
        assert main(["sources", "convert", str(folder), "-o", str(out), *allow]) == 1
        failures = json.loads((out / "failures.json").read_text())
        assert set(failures) == {str(folder / "walk.npz"), str(folder / "walk.pkl"),
                                 str(folder / "0729" / "csy" / "walk_01" / "smpl.npy")}
        assert main(["kinematics", str(folder), "-o", str(tmp_path / f"biosim{len(allow)}"), "--workers", "1",
                     *allow]) == 1
        assert "kinematics: 0 done, 0 skipped (already done), 3 failed" in capsys.readouterr().out
    assert not marker.exists()
