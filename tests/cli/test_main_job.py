"""The README's main job, shrunk to two short clips, two subjects, one seed and two training steps per method
(two runs at a time, as on a 2-core machine)."""

import json
import shutil

import pytest

from builder import cli


@pytest.mark.slow
def test_main_job_builds_trains_evaluates_and_reports(tmp_path, capsys):
    dataset = tmp_path / "dataset"
    code = cli.main(["main", "--out", str(tmp_path / "run"), "--dataset-out", str(dataset), "--clips", "kick",
                     "punch", "--subjects", "2", "--max-steps", "2", "--workers", "2", "--seeds", "0"])
    assert code == 0
    report = tmp_path / "run" / "report" / "report.md"
    assert f"Report: {report}" in capsys.readouterr().out
    text = report.read_text()
    rows = {"GT-motion ceiling", "Pose-only (predicted poses)", "BioHuman", "Two-stage HMR+MinT", "Mean activation"}
    for method in rows:
        assert f"| {method} |" in text
    assert "## Against the references (floor: Mean activation, ceiling: GT-motion ceiling)" in text
    metrics = json.loads((report.parent / "metrics.json").read_text())
    assert set(metrics) == rows
    assert all(len(m["runs"]) == 1 for m in metrics.values())
    assert list((tmp_path / "run" / "features").glob("*/test/done"))   # one feature store shared by the runs
    print({name: m["muscle"] for name, m in metrics.items()})
    assert all(0 <= m["muscle"]["rmse"] < 1 for m in metrics.values())
    assert -1 <= metrics["Mean activation"]["muscle"]["pcc"] <= 1
    assert (report.parent / "model_card_BioHuman.md").read_text().startswith("---")
    assert list(report.parent.glob("*.png"))
    manifest = json.loads((dataset / "manifest.json").read_text())
    assert set(manifest["counts"]["splits"]) >= {"train", "test"}
    assignment = json.loads((dataset / "splits.json").read_text())["assignment"]
    views = {sequence: split for sequence, split in assignment.items() if "__view" in sequence}
    assert views and set(views.values()) == {"train"}, "a second view of the training sequences only"
    assert all(assignment[sequence.split("__view")[0]] == "train" for sequence in views)
    filtering = manifest["counts"]["filtering"]["deepmimic"]
    assert filtering.get("kept", 0) + filtering.get("dropped", 0) == 4, "a view is not a BioSim run of its own"
    assert len(manifest["counts"]["validity"]["sequences"]) == 4
    train = manifest["counts"]["splits"]["train"]["deepmimic"]
    assert train["views"] == len(views) and manifest["counts"]["splits"]["test"]["deepmimic"]["views"] == 0
    assert f"{train['views']} of them extra rendered views" in (report.parent / "model_card_BioHuman.md").read_text()
    assert f"train {train['views']} of {train['sequences']} sequences, test 0 of" in text
    assert "| of them extra views |" in (dataset / "README.md").read_text()

    # --skip-build re-reports on the dataset as it is (e.g. rebuilt with new labels): BioSim is not run again
    shutil.rmtree(tmp_path / "run" / "motions")
    report.unlink()
    code = cli.main(["main", "--out", str(tmp_path / "run"), "--dataset-out", str(dataset), "--skip-build",
                     "--max-steps", "2", "--seeds", "0"])
    assert code == 0
    assert "| BioHuman |" in report.read_text()
    assert not (tmp_path / "run" / "motions").exists()
    assert json.loads((dataset / "manifest.json").read_text()) == manifest
