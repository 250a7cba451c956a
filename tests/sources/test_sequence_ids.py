"""A sequence id is a plain name, never a path, and unique within a run: ``../../x`` and absolute ids are
refused without writing outside ``--out``, and two inputs that give one id both survive."""

from __future__ import annotations

import json

import numpy as np
import pytest

from biohuman10m.errors import InputError
from builder import layout
from builder.cli import main
from builder.sources import MotionSourceError, embedded_motion, load_motion, read_deepmimic, read_motion, save_motion
from builder.sources.ids import path_suffix


@pytest.fixture(scope="module")
def walk():
    return read_deepmimic(embedded_motion("walk"))[0]


def _with_id(path, walk, sequence_id, shift=0.0):
    """A BioHuman motion file of the walk whose stored sequence_id is ``sequence_id`` (not checked on writing)."""
    save_motion(walk, path)
    arrays = dict(np.load(path))
    np.savez(path, **{**arrays, "sequence_id": np.str_(sequence_id), "trans": arrays["trans"] + shift})
    return path


def test_path_ids_are_refused_and_nothing_is_written_outside_out(walk, tmp_path):
    inputs, out = tmp_path / "in" / "deep", tmp_path / "in" / "deep" / "out"
    inputs.mkdir(parents=True)
    escape = _with_id(inputs / "escape.npz", walk, "../../x")
    absolute = _with_id(inputs / "absolute.npz", walk, str(tmp_path / "abs"))
    for path, sequence_id in ((escape, "../../x"), (absolute, str(tmp_path / "abs"))):
        with pytest.raises(MotionSourceError, match=rf"{path}: sequence id '{sequence_id}' is not a plain name"):
            read_motion(path)
    assert main(["sources", "convert", str(inputs), "-o", str(out)]) == 1
    assert set(json.loads((out / "failures.json").read_text())) == {str(escape), str(absolute)}
    assert main(["kinematics", str(inputs), "-o", str(out)]) == 1
    assert sorted(p.name for p in (out / "sequences").iterdir()) == ["absolute", "escape"]   # failed records
    written = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert all(name.startswith("in/deep/") for name in written), written
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "abs.npz").exists()
    with pytest.raises(InputError, match="would lie outside the output folder"):
        layout.sequence_dir(out, "../../x")


def test_colliding_ids_get_stable_suffixes_and_both_motions_survive(walk, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    first = _with_id(inputs / "walk_30.npz", walk, "clip")
    second = _with_id(inputs / "walk_60.npz", walk, "clip", shift=1.0)   # the same sequence_id, another motion
    for name in ("wälk.npz", "wölk.npz"):   # names that differ only in letters an id cannot hold
        np.savez(inputs / name, poses=np.zeros((5, 72)), trans=np.zeros((5, 3)), mocap_framerate=30.0)
    assert len({read_motion(inputs / n)[0].sequence_id for n in ("wälk.npz", "wölk.npz")}) == 1
    out = tmp_path / "out"
    assert main(["sources", "convert", str(inputs), "-o", str(out)]) == 0
    written = sorted(p.name for p in out.glob("*.npz"))
    assert len(written) == 4
    assert f"clip{path_suffix(first)}.npz" in written and f"clip{path_suffix(second)}.npz" in written
    np.testing.assert_allclose(load_motion(out / f"clip{path_suffix(second)}.npz")[0].trans,
                               load_motion(first)[0].trans + 1.0, atol=1e-6)
    assert main(["sources", "convert", str(inputs), "-o", str(tmp_path / "again")]) == 0
    assert sorted(p.name for p in (tmp_path / "again").glob("*.npz")) == written   # stable across runs
