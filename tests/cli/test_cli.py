"""The ``biohuman`` command line: one error contract and one option vocabulary across commands."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from biohuman10m.errors import BioHumanError, InputError, MissingInputError
from builder import training
from builder.cli import build_parser, default_workers, main
from builder.dataset.manifest import ShardChecksumError
from builder.sources import MotionSourceError

FAILING = ("helpers.failing_command",)


def test_input_error_is_one_line_and_status_2_while_a_bug_keeps_its_traceback(capsys):
    assert main(["fail", "input"], modules=FAILING) == 2
    assert capsys.readouterr().err == "clip.npz: poses have shape (5, 70), expected (T, 72)\n"
    with pytest.raises(IndexError):
        main(["fail", "bug"], modules=FAILING)


def test_real_commands_report_bad_input_by_path(tmp_path, capsys):
    assert main(["predict", str(tmp_path / "missing.mp4"), "--model", str(tmp_path), "--boxes", "b.csv"]) == 2
    assert capsys.readouterr().err == f"{tmp_path / 'missing.mp4'}: video file not found\n"
    assert main(["dataset", "verify", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"{tmp_path / 'manifest.json'}: missing; is {tmp_path} a built")
    assert main(["train", "--config", "no_such_config", "-o", str(tmp_path / "run")]) == 2
    packaged = ", ".join(sorted(path.stem for path in (Path(training.__file__).parent / "configs").glob("*.yaml")))
    assert "biohuman_cpu, " in packaged
    assert capsys.readouterr().err.startswith("no_such_config: training config not found (neither a file nor "
                                              f"a packaged config: {packaged})")


def test_errors_share_one_root_keep_builtin_bases_and_survive_pickling():
    for error in (MotionSourceError("a.bvh", "no MOTION section"), ShardChecksumError("data", "1 of 2 files failed"),
                  MissingInputError("v.mp4", "video file not found"), InputError(None, "no value")):
        assert isinstance(error, BioHumanError) and isinstance(error, ValueError)
        copy = pickle.loads(pickle.dumps(error))   # as raised in a worker process
        assert type(copy) is type(error) and str(copy) == str(error) and copy.problem == error.problem
    assert isinstance(MissingInputError("v.mp4", "not found"), FileNotFoundError)
    assert str(MotionSourceError(None, "empty")) == "<motion>: empty"


def test_one_vocabulary_for_outputs_redo_and_workers(tmp_path):
    parser = build_parser()
    out = str(tmp_path / "o")
    for argv in (["train", "--config", "tiny", "-o", out], ["evaluate", "--dataset", "d", "--model", "m", "-o", out],
                 ["predict", "v.mp4", "--model", "m", "-o", out], ["model", "-o", out],
                 ["kinematics", "m.npz", "-o", out], ["dataset", "build", "seq", "-o", out],
                 ["sources", "convert", "walk", "-o", out], ["main", "-o", out]):
        assert str(parser.parse_args(argv).out) == out, argv
    for argv in (["kinematics", "m.npz", "-o", out], ["dynamics", out], ["dataset", "build", "seq"],
                 ["dataset", "pipeline", "--biosim-out", out], ["main"]):
        assert parser.parse_args(argv).workers == default_workers(), argv
    for argv in (["kinematics", "m.npz", "-o", out, "--force"], ["dynamics", out, "--force"],
                 ["render", out, "--force"]):
        assert parser.parse_args(argv).force, argv


def test_old_spellings_still_parse_but_are_hidden(tmp_path, capsys):
    parser = build_parser()
    out = str(tmp_path / "o")
    assert str(parser.parse_args(["train", "--config", "tiny", "--output-dir", out]).out) == out
    assert str(parser.parse_args(["predict", "v.mp4", "--model", "m", "--output-dir", out]).out) == out
    assert str(parser.parse_args(["dataset", "pipeline", "--work", out]).biosim_out) == out
    assert str(parser.parse_args(["main", "--dataset-dir", out]).dataset_out) == out
    assert parser.parse_args(["render", out, "--overwrite"]).force
    assert parser.parse_args(["dataset", "pipeline", "--work", out, "--biosim-workers", "3"]).workers == 3
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "-o OUT, --out OUT" in help_text and "--output-dir" not in help_text
    with pytest.raises(SystemExit):   # required, whichever spelling
        main(["train", "--config", "tiny"])
    assert "the following arguments are required: -o/--out" in capsys.readouterr().err
