"""File names of one sequence's BioSim output folder: ``<out>/sequences/<sequence_id>/``.

Every stage reads and writes these standard files, so a researcher can open any intermediate
in OpenSim or numpy, and the dataset writer finds what it needs without knowing the stages.
A stage's output counts as done only once its file exists (all writes are atomic).
"""

from __future__ import annotations

from pathlib import Path

from builder.io import inside

MOTION = "motion.npz"            # SMPL poses (T,72), trans (T,3), betas, gender, fps, times, frame_valid
MARKERS_TRC = "markers.trc"      # 87 virtual markers, OpenSim frame (Y up, X forward), metres
STATIC_TRC = "static.trc"        # neutral-pose static frame for scaling
SCALED_MODEL = "scaled.osim"     # ULBS-112 scaled to the subject
IK_MOT = "ik.mot"                # joint angles (degrees for rotations)
IK_REPORT = "ik_report.json"     # per-frame marker RMS/max error
IK_REDUCED = "ik_reduced.mot"    # IK_MOT with the pelvis shifted so a floor explains the motion (dynamics input)
GRF_MOT = "grf.mot"              # estimated ground reaction forces, per contact site (feet first)
GRF_XML = "grf.xml"              # OpenSim ExternalLoads referencing GRF_MOT
GRF_CONTACT = "grf_contact.sto"  # per frame: contact_<site> (0/1) and residual_force_x/y/z (N), _bw
ID_STO = "id.sto"                # joint moments
SO_ACTIVATIONS = "so_activations.sto"  # raw static-optimization activations (112 muscles)
ACTIVATIONS = "activations.sto"  # smoothed, clipped activations: the dataset label
VALIDITY = "validity.sto"        # per-frame validity figures and the `valid` mask (1 = labels trusted)
VIDEO = "video.mp4"              # RGB video (H.264), one frame per motion frame
BOXES = "boxes.npy"              # (T,4) person boxes x0,y0,x1,y1 in pixels (NaN = none)
BOX_VISIBLE = "box_visible.npy"  # (T,) bool, person visible enough to be labelled
CAMERA = "camera.npz"            # K (3,3), R (T,3,3), t (T,3), image size
RENDER_SETTINGS = "render.json"  # the render settings and input sha256 the video was made with (resume key)
RECORD = "record.json"           # sources, settings, timings, errors, kept/dropped and why


def dynamics_coordinates(seq_dir: Path) -> Path:
    """The coordinates a sequence's dynamics ran on: ``IK_REDUCED`` where the root reduction wrote one, else
    ``IK_MOT``."""
    reduced = Path(seq_dir) / IK_REDUCED
    return reduced if reduced.is_file() else Path(seq_dir) / IK_MOT


def sequence_dir(out_dir: Path, sequence_id: str) -> Path:
    """Output folder of one sequence (refused unless it lies inside ``out_dir/sequences``)."""
    return inside(Path(out_dir) / "sequences", sequence_id)
