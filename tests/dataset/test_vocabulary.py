"""The fixed vocabularies: SMPL joints, 112 muscle channels, 87 markers, and the CLI that prints them."""

import csv
import io
import subprocess
import sys
from contextlib import redirect_stdout

import pytest

from biohuman10m import vocabulary as vocab
from builder import cli
from builder.markers import LANDMARKS, MARKER_NAMES


def test_smpl_tree_is_a_tree_rooted_at_pelvis():
    assert vocab.NUM_SMPL_JOINTS == 24 and vocab.SMPL_POSE_DIM == 72
    assert vocab.SMPL_JOINT_PARENTS[0] == -1
    for child, parent in enumerate(vocab.SMPL_JOINT_PARENTS[1:], start=1):
        assert 0 <= parent < child
    name = dict(enumerate(vocab.SMPL_JOINT_NAMES))
    assert name[vocab.SMPL_JOINT_PARENTS[vocab.SMPL_JOINT_NAMES.index("left_knee")]] == "left_hip"
    assert name[vocab.SMPL_JOINT_PARENTS[vocab.SMPL_JOINT_NAMES.index("right_wrist")]] == "right_elbow"


def test_muscle_channels_are_unique_sided_and_grouped():
    assert vocab.NUM_MUSCLES == 112 and len(set(vocab.MUSCLE_NAMES)) == 112
    lower = [m for m in vocab.MUSCLES[:80]]
    assert all(m.group in ("hip", "knee", "ankle", "toes") for m in lower)
    assert all(m.group in ("trunk", "shoulder", "elbow") for m in vocab.MUSCLES[80:])
    assert [m.side for m in vocab.MUSCLES] == ["right"] * 40 + ["left"] * 40 + ["right"] * 16 + ["left"] * 16
    for m in vocab.MUSCLES:
        mirror = m.name[:-1] + ("l" if m.name.endswith("r") else "r")
        assert vocab.MUSCLES[vocab.MUSCLE_INDEX[mirror]].group == m.group


def test_muscle_indices_filters_and_rejects_unknown_groups():
    assert [vocab.MUSCLE_NAMES[i] for i in vocab.muscle_indices(group="ankle", side="right")] == [
        "gaslat_r", "gasmed_r", "perbrev_r", "perlong_r", "soleus_r", "tibant_r", "tibpost_r"]
    assert sum(len(vocab.muscle_indices(group=g)) for g in vocab.MUSCLE_GROUPS) == 112
    with pytest.raises(ValueError, match="unknown muscle group 'neck'"):
        vocab.muscle_indices(group="neck")


def test_markers_are_87_unique_and_mirrored():
    assert len(LANDMARKS) == 87 and len(set(MARKER_NAMES)) == 87
    right = {n[:-2] for n in MARKER_NAMES if n.endswith("_r")}
    left = {n[:-2] for n in MARKER_NAMES if n.endswith("_l")}
    assert right == left and len(right) == 38


@pytest.mark.parametrize("which,rows", [("muscles", 112), ("joints", 24), ("markers", 87)])
def test_vocab_command_prints_csv(which, rows):
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(["vocab", which]) == 0
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == rows


def test_cli_help_loads_no_heavy_library():
    """Sub-commands import their heavy dependencies when run, so ``biohuman --help`` stays fast."""
    code = ("import sys\nfrom builder import cli\ncli.build_parser().format_help()\n"
            "print(sorted(m for m in ('torch', 'datasets', 'transformers', 'opensim', 'anny', 'pyrender') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
