"""BioSim's per-frame validity mask (validity.sto) becomes the dataset's muscle mask."""

import numpy as np
from helpers.sequences import make_sequence

from builder import layout
from builder.biosim.storage import StorageTable, write_storage
from builder.dataset.sequence_files import load_labels


def test_frames_biosim_masked_lose_their_muscle_label_only(tmp_path):
    folder = make_sequence(tmp_path, "masked", num_frames=20)
    valid = np.ones(20)
    valid[[3, 4, 15]] = 0.0   # e.g. a flight phase and a badly tracked frame
    write_storage(folder / layout.VALIDITY, StorageTable(np.arange(20) / 30.0, ["valid", "residual_force_bw"],
                                                         np.stack([valid, np.zeros(20)], 1), name="validity"))
    labels = load_labels(folder)
    assert list(np.flatnonzero(~labels.muscle_valid)) == [3, 4, 15]
    assert labels.frame_valid.all()            # poses stay labelled
    (folder / layout.VALIDITY).unlink()        # folders built before the audit: every frame as before
    assert load_labels(folder).muscle_valid.all()


def test_card_shows_the_validity_audit(tmp_path):
    import json

    from builder.dataset.build import BuildConfig, build_dataset
    from builder.dataset.windows import WindowConfig

    validity = {"frames": 20, "valid_frames": 17, "valid_fraction": 0.85,
                "masked_frames": {"marker_error": 1, "unexplained_moment": 2, "residual_force": 0,
                                  "residual_moment": 0},
                "reserve_share_valid_frames": {"leg_lumbar": 0.02}, "capacity_median": 0.93,
                "saturated_fraction": {"raw": 0.004}, "moment_error": {"published": 0.06},
                "residual_force_rms_bw_valid_frames": 0.03}
    for subject in ("s1", "s2"):   # one motion played by two subjects, as the embedded default's clips
        folder = make_sequence(tmp_path, f"walk__{subject}", subject=subject, num_frames=20)
        record = json.loads((folder / layout.RECORD).read_text())
        (folder / layout.RECORD).write_text(json.dumps({**record, "validity": validity}))
    out = tmp_path / "dataset"
    build_dataset(tmp_path, out, BuildConfig(window=WindowConfig(size=8, stride=8)))
    card = (out / "README.md").read_text()
    assert "Frame-level audit" in card and "| default | 2 | 2/2 | 0.850 | 0.020 | 0.930 |" in card
    assert "| walk | default | 2 | 2/2 | 0.850 | 0.020 | 0.930 |" in card   # the per-motion table
    assert "unexplained_moment 4" in card          # masked frames summed over the source
    assert (out / "figures" / "biosim_validity.png").is_file()
    assert "figures/biosim_validity.png" in card
